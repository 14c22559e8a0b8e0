/**
 * The pre-flight check: the warehouse's credentials and session tried with SELECT 1 before
 * Immuta generates the script or deletes the host, so that a wrong key, host or warehouse costs
 * nothing and a dry run proves the step can run the script.
 */
import type { Platform } from './settings.js';
import { PLATFORM_NAMES, WarehouseError } from './types.js';

export async function preflight(
  platform: Platform,
  check: () => Promise<void>,
  log: { info(message: string): void }
): Promise<void> {
  const name = PLATFORM_NAMES[platform];
  try {
    await check();
  } catch (error) {
    if (!(error instanceof WarehouseError)) throw error;
    throw new Error(
      `The pre-flight check in ${name} failed, so nothing was generated or deleted in Immuta: ${error.message}`,
      { cause: error }
    );
  }
  log.info(`Pre-flight check: signed in to ${name} and ran SELECT 1 in the script's session.`);
}
