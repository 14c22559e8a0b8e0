import type { Config } from './inputs.js';
import type { ImmutaClient } from './immuta/client.js';
import { ImmutaError } from './immuta/errors.js';
import { hasNoScript, type ConnectionInfo } from './immuta/responses.js';
import type { KeptScript } from './keep-script.js';
import { lineCount, type Outcome } from './outcome.js';

export interface FlowDependencies {
  readonly immuta: ImmutaClient;
  /** Every requested way of keeping the script; throws when one fails. */
  readonly keepScript: (script: string) => Promise<KeptScript>;
  /** Called as soon as the integration is known, so the output exists even if a later step fails. */
  readonly onIntegration: (integrationId: number) => void;
  /** Called the moment the host is known deleted, so a later failure still reports it. */
  readonly onDeleted: () => void;
  readonly log: { info(message: string): void; warning(message: string): void };
}

/** Raised for a host that is gone while `if-missing` is `error`. */
export class MissingHostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingHostError';
  }
}

/**
 * Immuta's three steps, the first two done here: get the script, keep it, delete the host. The
 * order never changes, and nothing is deleted unless the script was kept every way asked for.
 */
export async function deregister(config: Config, deps: FlowDependencies): Promise<Outcome> {
  const { immuta, log } = deps;
  const key = config.connectionKey;

  if (config.authMethod === 'token') await immuta.authenticate();

  const host = await immuta.getConnection(key);
  if (host === undefined) {
    return absent(
      config,
      `Looking up the host found nothing: GET ${immuta.pathOf('connection', key)} answered 404 Not Found, so Immuta has no host '${key}'`
    );
  }
  const integrationId = integrationFor(config, host, log);
  deps.onIntegration(integrationId);
  const known = { integrationId, technology: host.technology, hostname: host.hostname };

  // Step 1: the cleanup script, kept every way asked for before anything is deleted.
  const script = await cleanupScript(immuta, key, integrationId, host.technology, log);
  if (script === HOST_GONE) {
    return absent(
      config,
      `Getting the cleanup script found nothing: the script endpoint and GET ${immuta.pathOf('object', key)} answered 404 Not Found, so host '${key}' is gone from Immuta`,
      known
    );
  }
  const kept = script === undefined ? undefined : await deps.keepScript(script);
  const done = { ...known, ...NOTHING_YET, connectionKey: key, script, kept };

  // Step 2: delete the host; a dry run only describes it.
  if (config.dryRun) {
    const object = await immuta.getObject(key);
    return {
      ...done,
      status: 'dry-run',
      objectState: object?.state ?? (object ? undefined : 'absent')
    };
  }
  const deletion = await deleteHost(immuta, key, kept);
  if (deletion === undefined) {
    return absent(
      config,
      `Deleting the host found nothing: DELETE ${immuta.pathOf('object', key)} answered 404 Not Found, so host '${key}' was gone before the delete`,
      known,
      script,
      kept
    );
  }
  if (deletion.unreadableAnswer !== undefined) {
    log.warning(
      `Immuta's answer to the delete of host '${key}' was not its usual answer (it came back as ${deletion.unreadableAnswer}), but a lookup shows the host is gone: it was deleted. child-count is empty.`
    );
  } else if (deletion.childCount === undefined && deletion.confirmedBy === 'answer') {
    log.warning(
      `Immuta deleted host '${key}' but its answer did not say how many child objects went with it; child-count is empty.`
    );
  }
  deps.onDeleted();
  return { ...done, status: 'deregistered', deleted: true, childCount: deletion.childCount };
}

/** Step 2, and where the script is when it fails: the reader must not have to go looking. */
async function deleteHost(immuta: ImmutaClient, key: string, kept: KeptScript | undefined) {
  try {
    return await immuta.deleteObject(key);
  } catch (error) {
    if (kept === undefined || !(error instanceof Error)) throw error;
    const where = [`the file ${kept.path}`];
    if (kept.artifactId !== undefined) where.push(`artifact ID ${kept.artifactId}`);
    throw new Error(`${error.message} The cleanup script is kept: ${where.join(', ')}.`, {
      cause: error
    });
  }
}

const HOST_GONE = Symbol('host gone');

/** The script, undefined for a host that has none, or HOST_GONE when the host went with it. */
async function cleanupScript(
  immuta: ImmutaClient,
  key: string,
  integrationId: number,
  technology: string | undefined,
  log: FlowDependencies['log']
): Promise<string | undefined | typeof HOST_GONE> {
  if (hasNoScript(technology)) {
    log.info(
      `Host '${key}' is an AWS Lake Formation host: Immuta makes no cleanup script for it, so there is nothing to keep.`
    );
    return undefined;
  }
  try {
    const script = await immuta.getDeleteScript(integrationId);
    log.info(
      `Got the cleanup script for integration ${integrationId} (${lineCount(script)} lines).`
    );
    return script;
  } catch (error) {
    // A re-run after an earlier attempt deleted the host: the integration is gone with it.
    const notFound = error instanceof ImmutaError && error.notFound;
    if (notFound && (await immuta.getObject(key)) === undefined) return HOST_GONE;
    throw error;
  }
}

/** The outcome's fields before the delete says otherwise. */
const NOTHING_YET = {
  deleted: false,
  childCount: undefined,
  objectState: undefined,
  absentBecause: undefined
} as const;

/** The integration behind the host; a given integration-id must match it. */
export function integrationFor(
  config: Pick<Config, 'integrationId' | 'connectionKey'>,
  host: ConnectionInfo,
  log: { warning(message: string): void }
): number {
  const given = config.integrationId;
  const actual = host.nativeIntegrationId;
  if (given === undefined) {
    if (actual === undefined) {
      throw new Error(
        `Immuta's record of host '${config.connectionKey}' (GET /data/connection) names no nativeIntegrationId, so the integration cannot be found. Set integration-id to the ID of the integration behind this host.`
      );
    }
    return actual;
  }
  if (actual === undefined) {
    log.warning(
      `Immuta's record of host '${config.connectionKey}' names no nativeIntegrationId, so integration-id ${given} cannot be checked against it; using it as given.`
    );
    return given;
  }
  if (given !== actual) {
    // A typo here would pair one host's delete with another integration's script.
    throw new Error(
      `integration-id ${given} does not match host '${config.connectionKey}': Immuta says the integration behind it (nativeIntegrationId) is ${actual}. Nothing was generated or deleted. Correct integration-id, or leave it empty to use the host's own.`
    );
  }
  return given;
}

function absent(
  config: Config,
  because: string,
  known: Pick<Outcome, 'integrationId' | 'technology' | 'hostname'> = {
    integrationId: undefined,
    technology: undefined,
    hostname: undefined
  },
  script?: string,
  kept?: KeptScript
): Outcome {
  if (config.ifMissing === 'error') {
    throw new MissingHostError(
      `${because}. If it was already deregistered, set if-missing: warn or if-missing: ignore to let the step succeed.`
    );
  }
  return {
    ...known,
    ...NOTHING_YET,
    status: 'already-absent',
    connectionKey: config.connectionKey,
    script,
    kept,
    absentBecause: because
  };
}
