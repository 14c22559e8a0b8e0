// A host's cleanup script runs only in the host's own Snowflake account or Databricks workspace:
// the account as Snowflake itself names the session's, the workspace as databricks-host names
// it, each held to Immuta's record of the host (on a re-run, to the record the earlier attempt
// kept). A matrix over accounts with one repository-wide secret must not drop another
// account's Immuta objects.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import {
  defaultState,
  snowflakeScript,
  startImmutaStandIn,
  type ImmutaStandIn
} from '../support/immuta-stand-in.mjs';
import {
  startDatabricksStandIn,
  startSnowflakeStandIn,
  type SnowflakeOptions,
  type SnowflakeStandIn
} from '../support/warehouse-stand-ins.mjs';
import { runAction } from '../support/run-action.mjs';
import {
  startArtifactService,
  startAzurite,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { stepInputs, trail } from '../support/inputs.js';
import { attemptOf } from '../support/reruns.js';

const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
});

let azurite: Azurite;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => (azurite = await startAzurite()), 60_000);
afterAll(async () => azurite?.stop());
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

/** Immuta with a second Snowflake host, in the organization's dev account. */
async function immuta(): Promise<ImmutaStandIn> {
  const state = defaultState();
  state.hosts['snowflake-dev'] = {
    nativeIntegrationId: 4,
    technology: 'Snowflake',
    hostname: 'acme-dev.snowflakecomputing.com',
    childCount: 5
  };
  (state.integrations as Record<number, unknown>)[4] = {
    status: 'enabled',
    type: 'Snowflake',
    script: snowflakeScript(4)
  };
  const standIn = await startImmutaStandIn({ state });
  closers.push(() => standIn.close());
  return standIn;
}

/** The prod account (ACME-PROD, locator XY12345), which the stand-in is by default. */
async function snowflake(options: Partial<SnowflakeOptions> = {}) {
  const standIn = await startSnowflakeStandIn({
    account: 'XY12345',
    user: 'IMMUTA_CLEANUP',
    publicKey: keys.publicKey,
    ...options
  });
  closers.push(() => standIn.close());
  return standIn;
}

function snowflakeStep(tenant: ImmutaStandIn, sf: SnowflakeStandIn, extra = {}) {
  return stepInputs(tenant, {
    'run-script': 'snowflake',
    'snowflake-account': 'xy12345',
    'snowflake-host': sf.url,
    'snowflake-user': 'immuta_cleanup',
    'snowflake-private-key': keys.privateKey,
    ...extra
  });
}

describe('Snowflake: the account Snowflake says the session is in', () => {
  it('a matrix over two accounts with one secret: the other account’s host is refused before anything is generated or deleted', async () => {
    const tenant = await immuta();
    const sf = await snowflake();
    const prod = await runAction({ inputs: snowflakeStep(tenant, sf) });
    expect(prod.code).toBe(0);
    expect(prod.outputs['script-status']).toBe('ran');
    const ranInProd = sf.ranTexts.length;
    expect(ranInProd).toBeGreaterThan(0);

    tenant.requests.length = 0;
    const dev = await runAction({
      inputs: snowflakeStep(tenant, sf, { 'connection-key': 'snowflake-dev' })
    });
    expect(dev.code).toBe(1);
    expect(dev.errors.at(-1)).toMatch(
      /^The pre-flight check in Snowflake failed, so nothing was generated or deleted in Immuta: Snowflake says this session is in account XY12345, also named ACME-PROD, which is not the account of the host Immuta names, acme-dev\.snowflakecomputing\.com: a host's cleanup script never runs in another account\. Check snowflake-account and snowflake-host/
    );
    expect(trail(tenant)).toEqual(['GET /data/connection/snowflake-dev']);
    expect(tenant.state.hosts['snowflake-dev']).toBeDefined();
    expect(sf.ranTexts).toHaveLength(ranInProd);
    expect(dev.outputs.deleted).toBe('false');
  }, 60_000);

  it('the same account reached by its locator URL, or through PrivateLink, is the host’s', async () => {
    const tenant = await immuta();
    tenant.state.hosts['snowflake-prod']!.hostname =
      'xy12345.us-east-1.privatelink.snowflakecomputing.com';
    const sf = await snowflake();
    const run = await runAction({ inputs: snowflakeStep(tenant, sf) });
    expect(run.code).toBe(0);
    expect(run.outputs['script-status']).toBe('ran');
  }, 60_000);

  it('a re-run whose secret now reaches another account runs nothing there, and goes on once it reaches the host’s again', async () => {
    const tenant = await immuta();
    const service = await startArtifactService({ azurite });
    closers.push(() => service.close());
    const sf = await snowflake({ failOn: /DROP ROLE/i, failTimes: 1 });
    const inputs = snowflakeStep(tenant, sf, { 'upload-artifact': 'true' });
    const first = await runAction({ inputs, env: attemptOf(service, 1) });
    expect(first.code).toBe(1);
    expect(first.outputs.deleted).toBe('true');
    const ranFirst = sf.ranTexts.length;

    // Between attempts the secret was pointed at the dev account.
    sf.options.identity = { locator: 'QQ99999', organization: 'ACME', accountName: 'DEV' };
    const second = await runAction({ inputs, env: attemptOf(service, 2) });
    expect(second.code).toBe(1);
    expect(second.errors.at(-1)).toMatch(
      /^The pre-flight check in Snowflake failed, so nothing ran in Snowflake: Snowflake says this session is in account QQ99999, also named ACME-DEV, which is not the account of the host Immuta names, acme-prod\.snowflakecomputing\.com/
    );
    expect(sf.ranTexts).toHaveLength(ranFirst);

    sf.options.identity = { locator: 'XY12345', organization: 'ACME', accountName: 'PROD' };
    const third = await runAction({ inputs, env: attemptOf(service, 3) });
    expect(third.code).toBe(0);
    expect(third.outputs['script-status']).toBe('ran');
    expect(sf.ranTexts.length).toBeGreaterThan(ranFirst);
  }, 120_000);
});

describe('Databricks: the workspace databricks-host names', () => {
  it('another workspace than Immuta names is refused before any request to it, and nothing is generated or deleted', async () => {
    const tenant = await immuta();
    const db = await startDatabricksStandIn({
      token: 'dapi0123456789abcdef',
      warehouseId: 'abc123def456'
    });
    closers.push(() => db.close());
    const run = await runAction({
      inputs: stepInputs(tenant, {
        'connection-key': 'databricks-uc',
        'run-script': 'databricks',
        'databricks-host': db.url,
        'databricks-token': 'dapi0123456789abcdef',
        'databricks-warehouse-id': 'abc123def456'
      })
    });
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      /^The pre-flight check in Databricks failed, so nothing was generated or deleted in Immuta: databricks-host is http:\/\/127\.0\.0\.1:\d+, but Immuta's record of the host names the workspace dbc-1234\.cloud\.databricks\.com: a host's cleanup script never runs in another workspace\./
    );
    expect(db.requests).toEqual([]);
    expect(trail(tenant)).toEqual(['GET /data/connection/databricks-uc']);
  }, 60_000);
});
