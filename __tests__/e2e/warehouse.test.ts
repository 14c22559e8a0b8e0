// Immuta's third step in the same step: the cleanup script on Snowflake or Databricks, through
// their REST APIs, against loopback stand-ins that check what the vendors check.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { startImmutaStandIn, type ImmutaStandIn as StandIn } from '../support/immuta-stand-in.mjs';
import {
  startDatabricksStandIn,
  startSnowflakeStandIn,
  type DatabricksStandIn,
  type SnowflakeStandIn
} from '../support/warehouse-stand-ins.mjs';
import { runAction } from '../support/run-action.mjs';
import {
  startArtifactService,
  startAzurite,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { stepInputs, trail, visibleLog } from '../support/inputs.js';
import { startConnectProxy } from '../support/proxy.js';

let immuta: StandIn | undefined;
let snowflake: SnowflakeStandIn | undefined;
let databricks: DatabricksStandIn | undefined;
afterEach(async () => {
  await immuta?.close();
  await snowflake?.close();
  await databricks?.close();
  immuta = snowflake = databricks = undefined;
});

const PASSPHRASE = 'correct horse battery';
const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
});
const encryptedKey = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: {
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase: PASSPHRASE
  }
});

/** The statements in the stand-in's Snowflake script: the comment line is not one. */
const SNOWFLAKE_STATEMENTS = 6;

async function snowflakeRun(extra: Record<string, string> = {}, options = {}) {
  immuta = await startImmutaStandIn();
  snowflake = await startSnowflakeStandIn({
    account: 'XY12345',
    user: 'IMMUTA_CLEANUP',
    publicKey: keys.publicKey,
    ...options
  });
  return runAction({
    inputs: stepInputs(immuta, {
      'run-script': 'snowflake',
      'snowflake-account': 'xy12345.us-east-2.aws',
      'snowflake-host': snowflake.url,
      'snowflake-user': 'immuta_cleanup',
      'snowflake-private-key': keys.privateKey,
      ...extra
    })
  });
}

describe('run-script: snowflake', () => {
  it('deletes the host, then runs the script one signed statement a request, each with the session statements before it', async () => {
    const run = await snowflakeRun();
    expect(run.code).toBe(0);
    const posts = snowflake!.requests.filter((r) => r.method === 'POST' && !r.check);
    expect(posts).toHaveLength(SNOWFLAKE_STATEMENTS);
    // The checks are each one request, waited for: the pre-flight's, and the script's session.
    const checks = snowflake!.requests.filter((r) => r.check);
    expect(checks.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/, 'H')}`)).toEqual([
      'POST /api/v2/statements',
      'POST /api/v2/statements',
      'GET /api/v2/statements/H'
    ]);
    expect(checks[0]!.query!.async).toBeUndefined();
    for (const post of posts) {
      expect(post.refused).toBeUndefined();
      expect(post.query).toMatchObject({ async: 'true' });
      expect(post.query!.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(post.query!.retry).toBeUndefined();
      expect(post.headers['x-snowflake-authorization-token-type']).toBe('KEYPAIR_JWT');
      expect(post.headers['user-agent']).toMatch(/^immuta-deregister-host\/\d+\.\d+\.\d+$/);
    }
    expect(new Set(posts.map((p) => p.query!.requestId)).size).toBe(SNOWFLAKE_STATEMENTS);
    const bodies = posts.map((p) => JSON.parse(p.body));
    // Every request after USE ROLE carries it in front of its one statement.
    expect(bodies.map((b) => [b.statement, b.parameters.MULTI_STATEMENT_COUNT])).toEqual([
      ['USE ROLE ACCOUNTADMIN;\nSELECT CURRENT_ROLE(), CURRENT_WAREHOUSE()', '2'],
      ['USE ROLE ACCOUNTADMIN;\nDROP DATABASE IF EXISTS IMMUTA_SYSTEM', '2'],
      ['USE ROLE ACCOUNTADMIN;\nDROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT', '2'],
      ['USE ROLE ACCOUNTADMIN;\nDROP ROLE IF EXISTS IMMUTA_SNOWFLAKE_ROLE', '2'],
      [
        'USE ROLE ACCOUNTADMIN;\nREVOKE ROLE IMMUTA_SNOWFLAKE_ROLE FROM USER "ops@example.com"',
        '2'
      ],
      [
        'USE ROLE ACCOUNTADMIN;\nEXECUTE IMMEDIATE $$ BEGIN DROP WAREHOUSE IF EXISTS IMMUTA_WH; END; $$',
        '2'
      ]
    ]);
    // The user's defaults apply: no role or warehouse unless given.
    for (const body of bodies) {
      expect(body).not.toHaveProperty('role');
      expect(body).not.toHaveProperty('warehouse');
    }
    // Immuta's order: the script runs only after the host is gone.
    const deleted = immuta!.requests.find((r) => r.method === 'DELETE')!;
    expect(posts[0]!.at).toBeGreaterThanOrEqual(deleted.at);
    expect([...snowflake!.executions.values()]).toEqual(Array(SNOWFLAKE_STATEMENTS).fill(1));
    expect(snowflake!.ran.every((r) => r.role === 'ACCOUNTADMIN')).toBe(true);
    expect(run.outputs).toMatchObject({
      status: 'deregistered',
      deleted: 'true',
      'script-status': 'ran',
      'statements-run': String(SNOWFLAKE_STATEMENTS)
    });
    expect(run.summary).toContain(
      `### Cleanup script in Snowflake: ran (${SNOWFLAKE_STATEMENTS} statements`
    );
    expect(run.summary).toMatch(
      /\| 2 \| `DROP DATABASE IF EXISTS IMMUTA_SYSTEM` \| ran \| \d+\.\d s \|/
    );
  });

  it('sends role and warehouse when given, and decrypts an encrypted key with its passphrase', async () => {
    const run = await snowflakeRun(
      {
        'snowflake-private-key': encryptedKey.privateKey,
        'snowflake-private-key-passphrase': PASSPHRASE,
        'snowflake-role': 'ACCOUNTADMIN',
        'snowflake-warehouse': 'CLEANUP_WH'
      },
      { publicKey: encryptedKey.publicKey }
    );
    expect(run.code).toBe(0);
    const [check, , script] = snowflake!.requests
      .filter((r) => r.method === 'POST')
      .map((r) => JSON.parse(r.body));
    // The pre-flight check runs in the session the script gets, and proves it.
    expect(check).toMatchObject({
      statement:
        'SELECT CURRENT_ROLE(), CURRENT_WAREHOUSE(), CURRENT_ACCOUNT(), CURRENT_ORGANIZATION_NAME(), CURRENT_ACCOUNT_NAME(), CURRENT_REGION()',
      role: 'ACCOUNTADMIN',
      warehouse: 'CLEANUP_WH',
      parameters: { MULTI_STATEMENT_COUNT: '1' }
    });
    expect(script).toMatchObject({ role: 'ACCOUNTADMIN', warehouse: 'CLEANUP_WH' });
    expect(visibleLog(run.log)).not.toContain(PASSPHRASE);
  });

  it('signs in with a programmatic access token, sending its type', async () => {
    const token = 'pat-9f8e7d6c5b4a39281706';
    const run = await snowflakeRun(
      { 'snowflake-private-key': '', 'snowflake-token': token },
      { token }
    );
    expect(run.code).toBe(0);
    const post = snowflake!.requests.find((r) => r.method === 'POST')!;
    expect(post.headers['x-snowflake-authorization-token-type']).toBe('PROGRAMMATIC_ACCESS_TOKEN');
    expect(visibleLog(run.log)).not.toContain(token);
  });

  it('a failing statement fails the step, naming it, saying the host is gone and where the script is', async () => {
    const run = await snowflakeRun({}, { failOn: /^DROP USER/ });
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      /^Running the cleanup script in Snowflake failed: Statement 3 of 6 \(DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT\) failed: JavaScript execution error: .* SQL compilation error: Role 'IMMUTA_SNOWFLAKE_ROLE' does not exist.* \(100132\) .*Host 'snowflake-prod' is already deregistered in Immuta; its cleanup script is kept in the file .*immuta-cleanup-snowflake-prod\.sql \(on this runner only\)\. Run the rest by hand from statement 3 on: without an artifact \(upload-artifact: false\) a re-run cannot go on\./
    );
    expect(run.outputs).toMatchObject({
      status: 'failed',
      deleted: 'true',
      'script-status': 'failed',
      'statements-run': '2'
    });
    expect(run.summary).toContain('| 2 | `DROP DATABASE IF EXISTS IMMUTA_SYSTEM` | ran |');
    expect(run.summary).toContain(
      '| 3 | `DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT` | **failed** |'
    );
    expect(run.summary).toContain('| 4 | `DROP ROLE IF EXISTS IMMUTA_SNOWFLAKE_ROLE` | not run |');
    expect(immuta!.state.hosts['snowflake-prod']).toBeUndefined();
  });

  it('resends a request whose answer was lost with the same requestId and retry=true: it runs once', async () => {
    immuta = await startImmutaStandIn();
    snowflake = await startSnowflakeStandIn({
      account: 'XY12345',
      user: 'IMMUTA_CLEANUP',
      publicKey: keys.publicKey
    });
    snowflake.fault({ method: 'POST', path: /^\/api\/v2\/statements$/, resetAfterHandling: true });
    snowflake.fault({
      method: 'POST',
      path: /^\/api\/v2\/statements$/,
      status: 429,
      headers: { 'retry-after': '0' }
    });
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'run-script': 'snowflake',
        'snowflake-account': 'xy12345',
        'snowflake-host': snowflake.url,
        'snowflake-user': 'immuta_cleanup',
        'snowflake-private-key': keys.privateKey
      })
    });
    expect(run.code).toBe(0);
    // The first statement's request: lost after Snowflake took it, then a 429, then answered.
    const posts = snowflake.requests.filter((r) => r.method === 'POST' && !r.check).slice(0, 3);
    expect(new Set(posts.map((p) => p.query!.requestId)).size).toBe(1);
    expect(posts.map((p) => p.query!.retry)).toEqual([undefined, 'true', 'true']);
    expect([...snowflake.executions.values()]).toEqual(Array(SNOWFLAKE_STATEMENTS).fill(1));
    expect(run.outputs['script-status']).toBe('ran');
  });

  it('a key Snowflake does not know fails the pre-flight check with what to check: nothing is generated or deleted', async () => {
    const stranger = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
    });
    const run = await snowflakeRun({}, { publicKey: stranger.publicKey });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      expect.stringMatching(
        /^The pre-flight check in Snowflake failed, so nothing was generated or deleted in Immuta: .*POST \/api\/v2\/statements answered 401\. Snowflake said: JWT token is invalid\. \(390144\)\. .*RSA_PUBLIC_KEY/
      )
    ]);
    expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
    expect(trail(immuta!)).toEqual(['GET /data/connection/snowflake-prod']);
    expect(immuta!.state.hosts['snowflake-prod']).toBeDefined();
  });

  it('gives up at script-timeout-seconds, cancelling the statement and saying how it ended', async () => {
    const run = await snowflakeRun({ 'script-timeout-seconds': '1' }, { neverEnds: true });
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      /Statement 1 of 6 \(USE ROLE ACCOUNTADMIN\) was cancelled: It did not finish within script-timeout-seconds\. A cancel was sent to Snowflake; it ended cancelled/
    );
    expect(snowflake!.cancels).toHaveLength(1);
    expect(run.outputs['script-status']).toBe('failed');
    expect(run.summary).toContain('| 1 | `USE ROLE ACCOUNTADMIN` | **cancelled** |');
    expect(run.summary).toContain('| 2 | `DROP DATABASE IF EXISTS IMMUTA_SYSTEM` | not run |');
  });

  it('goes through the same proxy as the requests to Immuta', async () => {
    const proxy = await startConnectProxy();
    try {
      immuta = await startImmutaStandIn();
      snowflake = await startSnowflakeStandIn({
        account: 'XY12345',
        user: 'IMMUTA_CLEANUP',
        publicKey: keys.publicKey
      });
      const run = await runAction({
        inputs: stepInputs(immuta, {
          'run-script': 'snowflake',
          'snowflake-account': 'xy12345',
          'snowflake-host': snowflake.url,
          'snowflake-user': 'immuta_cleanup',
          'snowflake-private-key': keys.privateKey
        }),
        env: { HTTP_PROXY: proxy.url }
      });
      expect(run.code).toBe(0);
      expect(new Set(proxy.tunnels)).toEqual(
        new Set([new URL(immuta.url).host, new URL(snowflake.url).host])
      );
    } finally {
      await proxy.close();
    }
  });

  it('refuses a platform that is not the host’s before anything is generated or deleted', async () => {
    const run = await snowflakeRun({ 'connection-key': 'databricks-uc' });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^run-script is snowflake, but Immuta's record of host 'databricks-uc' names the technology Databricks\. Nothing was generated or deleted\./
    );
    expect(trail(immuta!)).toEqual(['GET /data/connection/databricks-uc']);
    expect(snowflake!.requests).toEqual([]);
  });

  it('a dry run proves the session and the script’s session statements, lists the statements that would run, and runs none', async () => {
    const run = await snowflakeRun({ 'dry-run': 'true' });
    expect(run.code).toBe(0);
    expect(snowflake!.checks).toBe(2);
    expect(snowflake!.scripts).toEqual([]);
    expect(snowflake!.requests.every((r) => r.check)).toBe(true);
    expect(JSON.parse(snowflake!.requests[1]!.body).statement).toBe(
      'USE ROLE ACCOUNTADMIN;\nSELECT CURRENT_ROLE(), CURRENT_WAREHOUSE()'
    );
    expect(run.log).toContain(
      "Pre-flight check: signed in to Snowflake account XY12345, also named ACME-PROD, the host's; the script's session runs as role PUBLIC with warehouse COMPUTE_WH."
    );
    expect(run.log).toContain(
      'Dry run: these 6 statements would run in Snowflake, one a request, none ran:'
    );
    expect(run.log).toContain(
      '  6. EXECUTE IMMEDIATE $$ BEGIN DROP WAREHOUSE IF EXISTS IMMUTA_WH; END; $$'
    );
    expect(run.outputs).toMatchObject({ 'script-status': 'skipped', 'statements-run': '0' });
    expect(run.summary).toContain('### Cleanup script in Snowflake: not run');
    expect(run.summary).toContain('| 1 | `USE ROLE ACCOUNTADMIN` | not run |');
  });

  it('a dry run whose credentials Snowflake refuses fails, with nothing generated', async () => {
    const stranger = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
    });
    const run = await snowflakeRun({ 'dry-run': 'true' }, { publicKey: stranger.publicKey });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      expect.stringMatching(/^The pre-flight check in Snowflake failed, so nothing was generated/)
    ]);
    expect(trail(immuta!)).toEqual(['GET /data/connection/snowflake-prod']);
    expect(snowflake!.scripts).toEqual([]);
  });

  it('never shows the key, the passphrase or a JWT, also in debug mode', async () => {
    immuta = await startImmutaStandIn();
    snowflake = await startSnowflakeStandIn({
      account: 'XY12345',
      user: 'IMMUTA_CLEANUP',
      publicKey: encryptedKey.publicKey
    });
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'run-script': 'snowflake',
        'snowflake-account': 'xy12345',
        'snowflake-host': snowflake.url,
        'snowflake-user': 'immuta_cleanup',
        'snowflake-private-key': encryptedKey.privateKey,
        'snowflake-private-key-passphrase': PASSPHRASE
      }),
      env: { RUNNER_DEBUG: '1' }
    });
    expect(run.code).toBe(0);
    const jwt = /^Bearer (.+)$/.exec(String(snowflake.requests[0]!.headers.authorization))![1]!;
    expect(run.stdout).toContain(`::add-mask::${jwt}`);
    const shown = visibleLog(run.log) + run.summary + JSON.stringify(run.outputs);
    const keyLines = encryptedKey.privateKey
      .split('\n')
      .filter((l) => l.length > 20 && !l.startsWith('-----'));
    for (const secret of [PASSPHRASE, jwt, ...keyLines]) expect(shown).not.toContain(secret);
    // Each line of the key is masked on its own, since the log is masked line by line.
    for (const line of keyLines) expect(run.stdout).toContain(`::add-mask::${line}`);
  });
});

const DATABRICKS_SCRIPT = [
  '-- Immuta cleanup; for integration 2',
  'REVOKE USE CATALOG ON CATALOG immuta FROM `immuta-sp`;',
  "COMMENT ON CATALOG immuta IS 'retired; by Immuta';",
  '/* drop it; now */',
  'DROP CATALOG IF EXISTS immuta CASCADE;',
  '-- done;',
  ''
].join('\r\n');

async function databricksRun(
  extra: Record<string, string> = {},
  options = {},
  script = DATABRICKS_SCRIPT
) {
  immuta = await startImmutaStandIn();
  immuta.state.integrations[2]!.script = script;
  databricks = await startDatabricksStandIn({
    token: 'dapi0123456789abcdef',
    warehouseId: 'abc123def456',
    ...options
  });
  return runAction({ inputs: databricksInputs(databricks.url, extra) });
}

/** The step's inputs for the Databricks stand-in's host: databricks-uc, the token, the warehouse. */
function databricksInputs(url: string, extra: Record<string, string> = {}) {
  immuta!.placeHost('databricks-uc', url);
  return stepInputs(immuta!, {
    'connection-key': 'databricks-uc',
    'run-script': 'databricks',
    'databricks-host': url,
    'databricks-token': 'dapi0123456789abcdef',
    'databricks-warehouse-id': 'abc123def456',
    ...extra
  });
}

describe('run-script: databricks', () => {
  it('runs each statement on its own, in order, polled to its end', async () => {
    const run = await databricksRun();
    expect(run.code).toBe(0);
    expect(databricks!.executed).toEqual([
      'REVOKE USE CATALOG ON CATALOG immuta FROM `immuta-sp`',
      "COMMENT ON CATALOG immuta IS 'retired; by Immuta'",
      'DROP CATALOG IF EXISTS immuta CASCADE'
    ]);
    const post = databricks!.requests.find((r) => r.method === 'POST' && !r.check)!;
    expect(JSON.parse(post.body)).toMatchObject({
      warehouse_id: 'abc123def456',
      wait_timeout: '0s'
    });
    expect(run.outputs).toMatchObject({ 'script-status': 'ran', 'statements-run': '3' });
    expect(run.summary).toMatch(
      /\| 3 \| `DROP CATALOG IF EXISTS immuta CASCADE` \| ran \| \d+\.\d s \|/
    );
  });

  it('signs in as a service principal (OAuth M2M) and never shows the secret or the token', async () => {
    const run = await databricksRun(
      {
        'databricks-token': '',
        'databricks-client-id': 'c0ffee-client',
        'databricks-client-secret': 'dose-secret-5f4e3d2c',
        'databricks-warehouse-id': '/sql/1.0/warehouses/abc123def456'
      },
      { token: undefined, clientId: 'c0ffee-client', clientSecret: 'dose-secret-5f4e3d2c' }
    );
    expect(run.code).toBe(0);
    const [token] = [...databricks!.issued.keys()];
    expect(databricks!.requests[0]!.path).toBe('/oidc/v1/token');
    expect(run.stdout).toContain(`::add-mask::${token}`);
    const shown = visibleLog(run.log) + run.summary + JSON.stringify(run.outputs);
    for (const secret of ['dose-secret-5f4e3d2c', token!]) expect(shown).not.toContain(secret);
  });

  it('a statement FAILED at HTTP 200 stops the run there: nothing after it runs', async () => {
    const run = await databricksRun({}, { failOn: /^COMMENT/ });
    expect(run.code).toBe(1);
    expect(databricks!.executed).toHaveLength(2);
    expect(run.errors.at(-1)).toMatch(
      /^Running the cleanup script in Databricks failed: Statement 2 of 3 \(COMMENT ON CATALOG immuta IS 'retired; by Immuta'\) failed: User does not have MANAGE on Catalog 'immuta'\. \(PERMISSION_DENIED\) Host 'databricks-uc' is already deregistered in Immuta/
    );
    expect(run.outputs).toMatchObject({
      'script-status': 'failed',
      'statements-run': '1',
      deleted: 'true'
    });
    expect(run.summary).toContain('| 3 | `DROP CATALOG IF EXISTS immuta CASCADE` | not run |  |');
  });

  it('refuses wrong client credentials with what to check', async () => {
    const run = await databricksRun(
      {
        'databricks-token': '',
        'databricks-client-id': 'c0ffee-client',
        'databricks-client-secret': 'wrong-secret-123'
      },
      { token: undefined, clientId: 'c0ffee-client', clientSecret: 'right-secret-456' }
    );
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      /POST \/oidc\/v1\/token answered 401\. Databricks said: Client authentication failed.*check databricks-client-id and databricks-client-secret/
    );
    expect(databricks!.executed).toEqual([]);
  });
});

describe('bad warehouse input sends no request anywhere', () => {
  const snowflakeBase = {
    'run-script': 'snowflake',
    'snowflake-account': 'xy12345',
    'snowflake-user': 'u',
    'snowflake-private-key': keys.privateKey
  };
  const databricksBase = {
    'run-script': 'databricks',
    'databricks-host': 'https://dbc-1.cloud.databricks.com',
    'databricks-token': 'dapi0123456789',
    'databricks-warehouse-id': 'abc123'
  };
  it.each([
    ['run-script', { 'run-script': 'bigquery' }, /must be one of none, snowflake, databricks/],
    [
      'snowflake-account',
      { ...snowflakeBase, 'snowflake-account': '' },
      /is required with run-script: snowflake/
    ],
    [
      'snowflake-user',
      { ...snowflakeBase, 'snowflake-user': '' },
      /is required with run-script: snowflake, unless snowflake-auth is oidc \(keyless/
    ],
    [
      'snowflake-account',
      { ...snowflakeBase, 'snowflake-account': 'my account!' },
      /account identifier/
    ],
    [
      'snowflake-account',
      { ...snowflakeBase, 'snowflake-account': 'myorg-acct.snowflakecomputing.com' },
      /must be the account identifier, not a host name or URL: use "myorg-acct" \(the part before \.snowflakecomputing\.com\)/
    ],
    [
      'snowflake-account',
      { ...snowflakeBase, 'snowflake-account': 'https://myorg-acct.snowflakecomputing.com/' },
      /not a host name or URL: use "myorg-acct"/
    ],
    [
      'snowflake-token',
      { ...snowflakeBase, 'snowflake-token': 'pat-x' },
      /exactly one way to sign in/
    ],
    [
      'snowflake-private-key',
      { ...snowflakeBase, 'snowflake-private-key': '' },
      /unless snowflake-token is given/
    ],
    [
      'snowflake-private-key',
      { ...snowflakeBase, 'snowflake-private-key': 'not a key' },
      /PKCS#8 PEM/
    ],
    [
      'snowflake-private-key-passphrase',
      { ...snowflakeBase, 'snowflake-private-key': encryptedKey.privateKey },
      /is required: snowflake-private-key is encrypted/
    ],
    [
      'snowflake-private-key',
      {
        ...snowflakeBase,
        'snowflake-private-key': encryptedKey.privateKey,
        'snowflake-private-key-passphrase': 'wrong'
      },
      /could not be decrypted/
    ],
    [
      'snowflake-host',
      {
        ...snowflakeBase,
        'immuta-url': 'https://tenant.example',
        'snowflake-host': 'http://sf.example',
        'allow-insecure-http': 'false'
      },
      /uses http:\/\//
    ],
    [
      'snowflake-token-type',
      {
        ...snowflakeBase,
        'snowflake-private-key': '',
        'snowflake-token': 'pat-x',
        'snowflake-token-type': 'BASIC'
      },
      /PROGRAMMATIC_ACCESS_TOKEN, OAUTH/
    ],
    [
      'script-timeout-seconds',
      { ...snowflakeBase, 'script-timeout-seconds': '0' },
      /from 1 to 3600/
    ],
    [
      'databricks-token',
      { ...databricksBase, 'databricks-client-id': 'x' },
      /exactly one way to sign in/
    ],
    [
      'databricks-client-secret',
      { ...databricksBase, 'databricks-token': '', 'databricks-client-id': 'x' },
      /OAuth needs both/
    ],
    [
      'databricks-warehouse-id',
      { ...databricksBase, 'databricks-warehouse-id': 'a b' },
      /SQL warehouse ID or its HTTP path/
    ],
    [
      'databricks-host',
      { ...databricksBase, 'databricks-host': '' },
      /is required with run-script: databricks/
    ]
  ])('%s: %#', async (input, overrides, detail) => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, overrides as Record<string, string>)
    });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([expect.stringContaining(`Input '${input}'`)]);
    expect(run.errors[0]).toMatch(detail);
    expect(immuta.requests).toEqual([]);
    expect(visibleLog(run.log)).not.toContain('PRIVATE KEY-----\n');
  });

  it('warns about warehouse inputs that run-script does not use', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'snowflake-account': 'xy12345' }) });
    expect(run.code).toBe(0);
    expect(run.warnings).toContain('snowflake-account is set but not used with run-script: none.');
    expect(run.outputs).toMatchObject({ 'script-status': 'skipped', 'statements-run': '0' });
  });
});

describe('a re-run after the script failed converges', () => {
  let azurite: Azurite;
  beforeAll(async () => (azurite = await startAzurite()), 60_000);
  afterAll(async () => azurite?.stop());

  const inputsFor = (url: string) =>
    stepInputs(immuta!, {
      'upload-artifact': 'true',
      'if-missing': 'warn',
      'run-script': 'snowflake',
      'snowflake-account': 'xy12345',
      'snowflake-host': url,
      'snowflake-user': 'immuta_cleanup',
      'snowflake-private-key': keys.privateKey
    });

  let sf: SnowflakeStandIn;
  /** A fresh Snowflake for the next attempt, closing the last one. */
  const nextSnowflake = async (options: { failOn?: RegExp } = {}) => {
    await snowflake?.close();
    snowflake = await startSnowflakeStandIn({
      account: 'XY12345',
      user: 'IMMUTA_CLEANUP',
      publicKey: keys.publicKey,
      ...options
    });
    return snowflake;
  };

  it('"Re-run failed jobs" runs the rest of the script the failed attempt kept, from the statement that failed', async () => {
    immuta = await startImmutaStandIn();
    const service = await startArtifactService({ azurite });
    try {
      sf = await nextSnowflake({ failOn: /^DROP USER/ });
      const first = await runAction({
        inputs: inputsFor(sf.url),
        env: { ...service.env(), GITHUB_RUN_ATTEMPT: '1' }
      });
      expect(first.code).toBe(1);
      expect(first.outputs).toMatchObject({ deleted: 'true', 'script-status': 'failed' });
      const sentBefore = immuta.requests.length;
      sf = await nextSnowflake();
      const second = await runAction({
        inputs: inputsFor(sf.url),
        env: { ...service.env(), GITHUB_RUN_ATTEMPT: '2' }
      });
      expect(second.code).toBe(0);
      expect(second.outputs).toMatchObject({
        status: 'already-absent',
        deleted: 'false',
        'script-status': 'ran'
      });
      // Statements 1 (USE ROLE) and 2 ran in attempt 1; 3 failed. The re-run replays the
      // session-only USE ROLE in front of each statement, and never sends statement 2 again.
      expect(sf.scripts).toHaveLength(4);
      expect(sf.scripts.every((text) => text.startsWith('USE ROLE ACCOUNTADMIN;\n'))).toBe(true);
      expect(sf.scripts.join('\n')).not.toContain('DROP DATABASE IF EXISTS IMMUTA_SYSTEM');
      expect(sf.scripts[0]).toContain('DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT');
      expect(second.log).toMatch(
        /Earlier attempts of this run ran statements 1 to 2 of 6: going on at statement 3\./
      );
      expect(second.summary).toContain('ran in an earlier attempt');
      // The re-run only looked the host up (and checked, once, that the 404 came from Immuta's
      // API): Immuta has no script left to give.
      expect(trail(immuta).slice(sentBefore)).toEqual([
        'GET /data/connection/snowflake-prod',
        'GET /integrations'
      ]);
      // A third attempt finds attempt 2's record: nothing runs again.
      sf = await nextSnowflake();
      const third = await runAction({
        inputs: inputsFor(sf.url),
        env: { ...service.env(), GITHUB_RUN_ATTEMPT: '3' }
      });
      expect(third.code).toBe(0);
      expect(third.outputs['script-status']).toBe('already-ran');
      // Attempt 1 ran statements 1 and 2, attempt 2 the rest: both are named.
      expect(third.log).toMatch(/Attempts 1 and 2 of this workflow run ran this cleanup script/);
      expect(sf.scripts).toEqual([]);
    } finally {
      await service.close();
    }
  });

  it('a Databricks re-run starts at the first statement not known to have run', async () => {
    immuta = await startImmutaStandIn();
    immuta.state.integrations[2]!.script = [
      'DROP SCHEMA IF EXISTS immuta.a CASCADE;',
      'DROP SCHEMA IF EXISTS immuta.b CASCADE;',
      'DROP CATALOG IF EXISTS immuta CASCADE;',
      ''
    ].join('\n');
    const service = await startArtifactService({ azurite });
    const databricksInputs = (url: string) => {
      immuta!.placeHost('databricks-uc', url);
      return stepInputs(immuta!, {
        'connection-key': 'databricks-uc',
        'upload-artifact': 'true',
        'if-missing': 'warn',
        'run-script': 'databricks',
        'databricks-host': url,
        'databricks-token': 'dapi-test-token-123',
        'databricks-warehouse-id': 'wh-1'
      });
    };
    try {
      databricks = await startDatabricksStandIn({
        token: 'dapi-test-token-123',
        warehouseId: 'wh-1',
        failOn: /immuta\.b/
      });
      const first = await runAction({
        inputs: databricksInputs(databricks.url),
        env: { ...service.env(), GITHUB_RUN_ATTEMPT: '1' }
      });
      expect(first.code).toBe(1);
      expect(databricks.executed.filter((s) => s !== 'SELECT 1')).toEqual([
        'DROP SCHEMA IF EXISTS immuta.a CASCADE',
        'DROP SCHEMA IF EXISTS immuta.b CASCADE'
      ]);
      await databricks.close();

      databricks = await startDatabricksStandIn({
        token: 'dapi-test-token-123',
        warehouseId: 'wh-1'
      });
      const second = await runAction({
        inputs: databricksInputs(databricks.url),
        env: { ...service.env(), GITHUB_RUN_ATTEMPT: '2' }
      });
      expect(second.code).toBe(0);
      expect(second.outputs['script-status']).toBe('ran');
      expect(databricks.executed.filter((s) => s !== 'SELECT 1')).toEqual([
        'DROP SCHEMA IF EXISTS immuta.b CASCADE',
        'DROP CATALOG IF EXISTS immuta CASCADE'
      ]);
    } finally {
      await service.close();
    }
  });

  it('says plainly that the script must be run by hand when no artifact holds it', async () => {
    immuta = await startImmutaStandIn();
    delete immuta.state.hosts['snowflake-prod'];
    const service = await startArtifactService({ azurite });
    try {
      sf = await nextSnowflake();
      const run = await runAction({
        inputs: inputsFor(sf.url),
        env: service.env('another-run')
      });
      expect(run.code).toBe(0);
      expect(run.warnings).toContainEqual(
        expect.stringMatching(
          /no artifact of this workflow run holds its cleanup script, so nothing ran in Snowflake\. .*run it by hand/
        )
      );
      expect(run.outputs).toMatchObject({ status: 'already-absent', 'script-status': 'skipped' });
      expect(sf.requests).toEqual([]);
    } finally {
      await service.close();
    }
  });
});

describe('Snowflake answers are trusted only in the SQL API’s shape', () => {
  it.each([
    ['the poll', 'GET', /^\/api\/v2\/statements\/.+$/],
    ['the request', 'POST', /^\/api\/v2\/statements$/]
  ])(
    'a sign-on page with 200 OK in place of %s is a failure, the statement in doubt or cancelled, never “ran”',
    async (_, method, path) => {
      immuta = await startImmutaStandIn();
      snowflake = await startSnowflakeStandIn({
        account: 'XY12345',
        user: 'IMMUTA_CLEANUP',
        publicKey: keys.publicKey
      });
      snowflake.fault({
        method,
        path,
        status: 200,
        body: '<html><title>Sign in to Okta</title></html>'
      });
      const run = await runAction({
        inputs: stepInputs(immuta, {
          'run-script': 'snowflake',
          'snowflake-account': 'xy12345',
          'snowflake-host': snowflake.url,
          'snowflake-user': 'immuta_cleanup',
          'snowflake-private-key': keys.privateKey
        })
      });
      expect(run.code).toBe(1);
      expect(run.outputs).toMatchObject({
        deleted: 'true',
        'script-status': 'failed',
        'statements-run': '0'
      });
      expect(run.errors.at(-1)).toMatch(
        /answered 200\. The answer starts “<html><title>Sign in to Okta<\/title><\/html>”\. That is not the Snowflake SQL API's answer \(content type text\/html; charset=utf-8\)/
      );
      // A page in place of the request leaves no handle to cancel: in doubt. One in place of a
      // poll gets the statement cancelled, and Snowflake confirms it.
      expect(run.summary).toContain(
        `| 1 | \`USE ROLE ACCOUNTADMIN\` | ${method === 'POST' ? '**in doubt**' : '**cancelled**'} |`
      );
      expect(run.summary).toContain('| 2 | `DROP DATABASE IF EXISTS IMMUTA_SYSTEM` | not run |');
    }
  );

  it('the failing statement is the request’s own, whatever words its message holds', async () => {
    const run = await snowflakeRun(
      {},
      {
        failOn: /^DROP DATABASE/,
        failMessage:
          "SQL compilation error:\nDatabase 'statement 4 of 6' does not exist or not authorized."
      }
    );
    expect(run.code).toBe(1);
    expect(run.outputs['statements-run']).toBe('1');
    expect(run.errors.at(-1)).toMatch(
      /failed: Statement 2 of 6 \(DROP DATABASE IF EXISTS IMMUTA_SYSTEM\) failed: .*SQL compilation error: Database 'statement 4 of 6' does not exist/
    );
    expect(run.summary).toContain('| 1 | `USE ROLE ACCOUNTADMIN` | ran |');
    expect(run.summary).toContain('| 2 | `DROP DATABASE IF EXISTS IMMUTA_SYSTEM` | **failed** |');
    expect(run.summary).toContain('| 4 | `DROP ROLE IF EXISTS IMMUTA_SNOWFLAKE_ROLE` | not run |');
  });

  it('a poll that fails after Snowflake took the statement sends a cancel and says how it ended', async () => {
    immuta = await startImmutaStandIn();
    snowflake = await startSnowflakeStandIn({
      account: 'XY12345',
      user: 'IMMUTA_CLEANUP',
      publicKey: keys.publicKey
    });
    snowflake.fault({
      method: 'GET',
      path: /^\/api\/v2\/statements\/.+$/,
      status: 500,
      body: { code: '390100', message: 'Internal error.' }
    });
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'run-script': 'snowflake',
        'snowflake-account': 'xy12345',
        'snowflake-host': snowflake.url,
        'snowflake-user': 'immuta_cleanup',
        'snowflake-private-key': keys.privateKey
      })
    });
    expect(run.code).toBe(1);
    expect(snowflake.cancels).toHaveLength(1);
    expect(snowflake.executions.size).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      /Statement 1 of 6 \(USE ROLE ACCOUNTADMIN\) was cancelled: GET \/api\/v2\/statements\/\S+ answered 500\. Snowflake said: Internal error\. \(390100\)\. That answer does not say whether Snowflake ran it\. A cancel was sent to Snowflake; it ended cancelled/
    );
  });
});

describe('Databricks: a statement is never sent twice, and a finished one is never a timeout', () => {
  it.each([
    ['a gateway 504 page after forwarding it', 504, '<html>504 Gateway Time-out</html>'],
    ['a 502 page', 502, '<html>502 Bad Gateway</html>'],
    ['a 408', 408, { error: 'timeout' }],
    ['a 503 that is not Databricks’ own', 503, '<html>Service Unavailable</html>'],
    ['Databricks’ own 500', 500, { error_code: 'INTERNAL_ERROR', message: 'Something broke.' }]
  ])(
    '%s: the statement ran once, is reported in doubt, and the run stops',
    async (_, status, body) => {
      immuta = await startImmutaStandIn();
      databricks = await startDatabricksStandIn({
        token: 'dapi0123456789abcdef',
        warehouseId: 'abc123def456'
      });
      databricks.fault({
        method: 'POST',
        path: /^\/api\/2\.0\/sql\/statements$/,
        status,
        body,
        afterHandling: true
      });
      immuta.state.integrations[2]!.script = DATABRICKS_SCRIPT;
      const run = await runAction({
        inputs: databricksInputs(databricks.url)
      });
      expect(run.code).toBe(1);
      const first = 'REVOKE USE CATALOG ON CATALOG immuta FROM `immuta-sp`';
      expect(databricks.sent(first)).toBe(1);
      expect(databricks.executed).toEqual([first]);
      expect(run.outputs).toMatchObject({ 'script-status': 'failed', 'statements-run': '0' });
      expect(run.errors.at(-1)).toMatch(
        new RegExp(
          `Statement 1 of 3 \\(REVOKE .*\\) may or may not have run: POST /api/2\\.0/sql/statements answered ${status}\\..* That answer does not say whether Databricks took the statement, and without its statement_id no one can ask it\\.`
        )
      );
      expect(run.summary).toContain(`| 1 | \`\` ${first} \`\` | **in doubt** |`);
      expect(run.summary).toContain('| 3 | `DROP CATALOG IF EXISTS immuta CASCADE` | not run |');
    }
  );

  it.each([
    [429, 'TOO_MANY_REQUESTS'],
    [503, 'TEMPORARILY_UNAVAILABLE']
  ])('Databricks’ own %i is tried again, and the statement runs once', async (status, code) => {
    immuta = await startImmutaStandIn();
    databricks = await startDatabricksStandIn({
      token: 'dapi0123456789abcdef',
      warehouseId: 'abc123def456'
    });
    databricks.fault({
      method: 'POST',
      path: /^\/api\/2\.0\/sql\/statements$/,
      status,
      body: { error_code: code, message: 'Not now.' },
      headers: { 'retry-after': '0' }
    });
    immuta.state.integrations[2]!.script = DATABRICKS_SCRIPT;
    const run = await runAction({
      inputs: databricksInputs(databricks.url)
    });
    expect(run.code).toBe(0);
    expect(databricks.sent('REVOKE USE CATALOG ON CATALOG immuta FROM `immuta-sp`')).toBe(2);
    expect(databricks.executed).toHaveLength(3);
  });

  it('a poll that fails after Databricks took the statement sends a cancel and says how it ended', async () => {
    immuta = await startImmutaStandIn();
    databricks = await startDatabricksStandIn({
      token: 'dapi0123456789abcdef',
      warehouseId: 'abc123def456'
    });
    databricks.fault({
      method: 'GET',
      path: /^\/api\/2\.0\/sql\/statements\/.+$/,
      status: 500,
      body: { error_code: 'INTERNAL_ERROR', message: 'Something broke.' }
    });
    immuta.state.integrations[2]!.script = DATABRICKS_SCRIPT;
    const run = await runAction({
      inputs: databricksInputs(databricks.url)
    });
    expect(run.code).toBe(1);
    expect(databricks.cancels).toHaveLength(1);
    expect(run.errors.at(-1)).toMatch(
      /GET \/api\/2\.0\/sql\/statements\/\S+ answered 500\. Databricks said: Something broke\. \(INTERNAL_ERROR\)\. A cancel was sent to Databricks; it ended cancelled/
    );
    expect(databricks.executed).toHaveLength(1);
  });

  it('asks for as little result as the API allows: a statement with a large result finishes', async () => {
    const run = await databricksRun({ 'script-timeout-seconds': '5' }, { resultRows: 2048 });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ 'script-status': 'ran', 'statements-run': '3' });
    const bodies = databricks!.requests
      .filter((r) => r.method === 'POST' && r.path === '/api/2.0/sql/statements' && !r.check)
      .map((r) => JSON.parse(r.body));
    for (const body of bodies) {
      expect(body).toMatchObject({ disposition: 'INLINE', row_limit: 1, byte_limit: 1024 });
    }
  });

  it('CLOSED counts as finished: the statement ran', async () => {
    const run = await databricksRun({}, { endState: 'CLOSED' });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ 'script-status': 'ran', 'statements-run': '3' });
  });

  it('never runs what a nested bracketed comment holds, and splits CR-only lines like LF', async () => {
    const run = await databricksRun(
      {},
      {},
      [
        '-- Immuta cleanup; a comment ended by a lone CR\rREVOKE USE CATALOG ON CATALOG immuta FROM `immuta-sp`;',
        '/* outer /* inner */ ; DROP CATALOG prod_finance CASCADE; */',
        'DROP CATALOG IF EXISTS immuta CASCADE;'
      ].join('\r')
    );
    expect(run.code).toBe(0);
    expect(databricks!.executed).toEqual([
      'REVOKE USE CATALOG ON CATALOG immuta FROM `immuta-sp`',
      'DROP CATALOG IF EXISTS immuta CASCADE'
    ]);
  });

  it('a wrong warehouse fails the pre-flight check: nothing is generated or deleted', async () => {
    const run = await databricksRun({ 'databricks-warehouse-id': 'not-the-one' });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      expect.stringMatching(
        /^The pre-flight check in Databricks failed, so nothing was generated or deleted in Immuta: .*answered 404\. .*Check databricks-host and databricks-warehouse-id\./
      )
    ]);
    expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
    expect(trail(immuta!)).toEqual(['GET /data/connection/databricks-uc']);
    expect(databricks!.executed).toEqual([]);
  });
});

describe('every wire form of a credential is kept out of what the step shows', () => {
  it('the OAuth Basic value a token endpoint echoes back is in no log line, summary, output or report', async () => {
    const clientId = 'c0ffee-client';
    const clientSecret = 'wrong secret/+=';
    const run = await databricksRun(
      {
        'databricks-token': '',
        'databricks-client-id': clientId,
        'databricks-client-secret': clientSecret
      },
      { token: undefined, clientId, clientSecret: 'right-secret', echoAuthorization: true }
    );
    expect(run.code).toBe(1);
    const basic = Buffer.from(
      `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`
    ).toString('base64');
    const tokenRequest = databricks!.requests.find((r) => r.path === '/oidc/v1/token')!;
    expect(tokenRequest.headers.authorization).toBe(`Basic ${basic}`);
    expect(run.errors.at(-1)).toMatch(/Client authentication failed for Basic \*\*\*/);
    expect(run.stdout).toContain(`::add-mask::${basic}`);
    const report = await fs.readFile(run.outputs['report-path']!, 'utf8');
    const shown = visibleLog(run.log) + run.summary + JSON.stringify(run.outputs) + report;
    for (const form of [basic, clientSecret, encodeURIComponent(clientSecret)]) {
      expect(shown).not.toContain(form);
    }
  });
});
