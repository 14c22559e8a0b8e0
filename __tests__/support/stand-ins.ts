/**
 * The stand-ins a test file of re-runs needs, started per test and closed after it: Immuta, the
 * artifact service (on the test run's one Azurite), Snowflake and Databricks, with the inputs of a
 * step that runs the script in Snowflake.
 */
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { defaultState, startImmutaStandIn, type ImmutaStandIn } from './immuta-stand-in.mjs';
import {
  startDatabricksStandIn,
  startSnowflakeStandIn,
  type DatabricksOptions,
  type DatabricksStandIn,
  type SnowflakeOptions,
  type SnowflakeStandIn
} from './warehouse-stand-ins.mjs';
import { startArtifactService, startAzurite, type Azurite } from './artifact-service-stand-in.mjs';
import { stepInputs } from './inputs.js';

const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
});

type State = ReturnType<typeof defaultState>;

/** Those statements of the Immuta stand-in's Snowflake script that change something, in order. */
export const SNOWFLAKE_DROPS = [
  'DROP DATABASE IF EXISTS IMMUTA_SYSTEM',
  'DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT',
  'DROP ROLE IF EXISTS IMMUTA_SNOWFLAKE_ROLE',
  'REVOKE ROLE IMMUTA_SNOWFLAKE_ROLE FROM USER "ops@example.com"',
  'EXECUTE IMMEDIATE $$ BEGIN DROP WAREHOUSE IF EXISTS IMMUTA_WH; END; $$'
];

/** Registers the file's hooks; the functions it returns start stand-ins within a test. */
export function standIns() {
  let azurite: Azurite;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => (azurite = await startAzurite()), 60_000);
  afterAll(async () => azurite?.stop());
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
  });
  const closing = <T extends { close(): Promise<void> }>(standIn: T): T => {
    closers.push(() => standIn.close());
    return standIn;
  };
  return {
    /** Immuta with the default hosts, as `edit` changes them. */
    immuta: async (edit: (state: State) => void = () => {}) => {
      const state = defaultState();
      edit(state);
      return closing(await startImmutaStandIn({ state }));
    },
    /** The artifact service, failing as `faults` say (artifact-service-stand-in.mjs). */
    artifacts: async (faults: Record<string, unknown> = {}) =>
      closing(await startArtifactService({ azurite, faults: faults as never })),
    snowflake: async (options: Partial<SnowflakeOptions> = {}) =>
      closing(
        await startSnowflakeStandIn({
          account: 'XY12345',
          user: 'IMMUTA_CLEANUP',
          publicKey: keys.publicKey,
          ...options
        })
      ),
    databricks: async (options: Partial<DatabricksOptions> = {}) =>
      closing(
        await startDatabricksStandIn({
          token: 'dapi0123456789abcdef',
          warehouseId: 'abc123def456',
          ...options
        })
      )
  };
}

/** A step that keeps an artifact and runs the script in the Snowflake stand-in. */
export function snowflakeStep(
  immuta: ImmutaStandIn,
  sf: SnowflakeStandIn,
  extra: Record<string, string> = {}
): Record<string, string | undefined> {
  return stepInputs(immuta, {
    'upload-artifact': 'true',
    'run-script': 'snowflake',
    'snowflake-account': 'xy12345',
    'snowflake-host': sf.url,
    'snowflake-user': 'immuta_cleanup',
    'snowflake-private-key': keys.privateKey,
    ...extra
  });
}

/**
 * A step that keeps an artifact and runs the script in the Databricks stand-in, whose workspace
 * Immuta's record of the host names (as step 3 requires).
 */
export function databricksStep(
  immuta: ImmutaStandIn,
  db: DatabricksStandIn,
  extra: Record<string, string> = {}
): Record<string, string | undefined> {
  immuta.placeHost('databricks-uc', db.url);
  return stepInputs(immuta, {
    'connection-key': 'databricks-uc',
    'upload-artifact': 'true',
    'run-script': 'databricks',
    'databricks-host': db.url,
    'databricks-token': 'dapi0123456789abcdef',
    'databricks-warehouse-id': 'abc123def456',
    ...extra
  });
}
