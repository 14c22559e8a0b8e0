import type { HttpCaller } from '../http/caller.js';
import type { Secrets } from '../action/secrets.js';
import { databricksAuth, snowflakeAuth } from './auth.js';
import { DatabricksAdapter } from './databricks.js';
import type { WarehouseConfig } from './settings.js';
import { SnowflakeAdapter } from './snowflake.js';
import type { WarehouseAdapter } from './types.js';

/**
 * The adapter for the platform run-script names, on the run's HTTP caller and secrets, signed
 * in the way its inputs say; `requestId` gives a Snowflake request its computable ID.
 */
export function warehouseAdapter(
  settings: WarehouseConfig,
  secrets: Secrets,
  caller: HttpCaller,
  requestId: (index: number, generation: number) => string
): WarehouseAdapter {
  if (settings.platform === 'snowflake') {
    return new SnowflakeAdapter(
      settings,
      secrets,
      caller,
      snowflakeAuth(settings, secrets),
      requestId
    );
  }
  const api = DatabricksAdapter.api(settings, secrets, caller);
  return new DatabricksAdapter(settings, secrets, api, databricksAuth(settings, secrets, api));
}
