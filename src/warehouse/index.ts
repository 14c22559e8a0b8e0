import type { HttpCaller } from '../http/caller.js';
import type { Secrets } from '../action/secrets.js';
import { DatabricksRunner } from './databricks.js';
import type { WarehouseConfig } from './settings.js';
import { SnowflakeRunner } from './snowflake.js';
import type { ScriptRunner } from './types.js';

/** The runner for the platform run-script names, on the run's HTTP caller and secrets. */
export function scriptRunner(
  settings: WarehouseConfig,
  secrets: Secrets,
  caller: HttpCaller
): ScriptRunner {
  return settings.platform === 'snowflake'
    ? new SnowflakeRunner(settings, secrets, caller)
    : new DatabricksRunner(settings, secrets, caller);
}
