// A host's cleanup script runs only in the host's own Snowflake account or Databricks workspace:
// the account as Snowflake itself names the session's, the workspace as databricks-host names
// it, each held to Immuta's record of the host (on a re-run, to the record the earlier attempt
// kept). A matrix over accounts with one repository-wide secret must not drop another
// account's Immuta objects.
import { describe, expect, it } from '@jest/globals';
import { addHost, defaultState } from '../support/immuta-stand-in.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs, trail } from '../support/inputs.js';
import { attemptOf } from '../support/reruns.js';
import { snowflakeStep, standIns } from '../support/stand-ins.js';

const start = standIns();
const NO_ARTIFACT = { 'upload-artifact': 'false' };

/** A second Snowflake host, in the organization's dev account. */
function withDevHost(state: ReturnType<typeof defaultState>) {
  addHost(state, 'snowflake-dev', {
    integrationId: 4,
    hostname: 'acme-dev.snowflakecomputing.com'
  });
}

describe('Snowflake: the account Snowflake says the session is in', () => {
  it('a matrix over two accounts with one secret: the other account’s host is refused before anything is generated or deleted', async () => {
    const tenant = await start.immuta(withDevHost);
    // The prod account (ACME-PROD, locator XY12345), which the stand-in is by default.
    const sf = await start.snowflake();
    const prod = await runAction({ inputs: snowflakeStep(tenant, sf, NO_ARTIFACT) });
    expect(prod.code).toBe(0);
    expect(prod.outputs['script-status']).toBe('ran');
    const ranInProd = sf.ranTexts.length;
    expect(ranInProd).toBeGreaterThan(0);

    tenant.requests.length = 0;
    const dev = await runAction({
      inputs: snowflakeStep(tenant, sf, { ...NO_ARTIFACT, 'connection-key': 'snowflake-dev' })
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
    const tenant = await start.immuta((state) => {
      state.hosts['snowflake-prod']!.hostname =
        'xy12345.us-east-1.privatelink.snowflakecomputing.com';
    });
    // The account, in the region its URL names (an organization over region groups answers so).
    const sf = await start.snowflake({
      identity: {
        locator: 'XY12345',
        organization: 'ACME',
        accountName: 'PROD',
        region: 'PUBLIC.AWS_US_EAST_1'
      }
    });
    const run = await runAction({ inputs: snowflakeStep(tenant, sf, NO_ARTIFACT) });
    expect(run.code).toBe(0);
    expect(run.outputs['script-status']).toBe('ran');
  }, 60_000);

  it('a re-run whose secret now reaches another account runs nothing there, and goes on once it reaches the host’s again', async () => {
    const tenant = await start.immuta();
    const service = await start.artifacts();
    const sf = await start.snowflake({ failOn: /DROP ROLE/i, failTimes: 1 });
    const inputs = snowflakeStep(tenant, sf);
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
    const tenant = await start.immuta();
    const db = await start.databricks();
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
