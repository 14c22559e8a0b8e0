import type { HttpCaller } from '../http/caller.js';
import type { Secrets } from '../action/secrets.js';
import { databricksAuth, snowflakeAuth } from './auth.js';
import { DatabricksAdapter } from './databricks.js';
import type { GitHubIdTokens } from './github-oidc.js';
import type { WarehouseConfig } from './settings.js';
import { SnowflakeAdapter } from './snowflake.js';
import type { WarehouseAdapter } from './types.js';

/**
 * The adapter for the platform run-script names, on the run's HTTP caller and secrets, signed
 * in the way its inputs say (with the job's ID tokens for oidc); `requestId` gives a Snowflake
 * request its computable ID.
 */
export function warehouseAdapter(
  settings: WarehouseConfig,
  secrets: Secrets,
  caller: HttpCaller,
  requestId: (index: number, generation: number) => string,
  idTokens?: GitHubIdTokens
): WarehouseAdapter {
  if (settings.platform === 'snowflake') {
    return new SnowflakeAdapter(
      settings,
      secrets,
      caller,
      snowflakeAuth(settings, secrets, idTokens),
      requestId
    );
  }
  const api = DatabricksAdapter.api(settings, secrets, caller);
  return new DatabricksAdapter(
    settings,
    secrets,
    api,
    databricksAuth(settings, secrets, api, idTokens)
  );
}
