// The two platform adapters in-process, against the loopback stand-ins: one statement a request
// with the session it needs, answers held to their documented shapes, settling a request an
// earlier attempt sent, cancellation, and the checks before anything is generated or deleted.
import { afterEach, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createTransport, type Transport } from '../../src/http/transport.js';
import { HttpCaller } from '../../src/http/caller.js';
import { Secrets } from '../../src/action/secrets.js';
import { readWarehouse } from '../../src/warehouse/settings.js';
import { warehouseAdapter } from '../../src/warehouse/index.js';
import { scriptStatements } from '../../src/warehouse/statements.js';
import {
  type Controls,
  type StatementRequest,
  type WarehouseAdapter
} from '../../src/warehouse/types.js';
import {
  startDatabricksStandIn,
  startSnowflakeStandIn,
  type DatabricksOptions,
  type DatabricksStandIn,
  type SnowflakeOptions,
  type SnowflakeStandIn
} from '../support/warehouse-stand-ins.mjs';

const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
});

let transport: Transport | undefined;
let snowflake: SnowflakeStandIn | undefined;
let databricks: DatabricksStandIn | undefined;
afterEach(async () => {
  transport?.close();
  await snowflake?.close();
  await databricks?.close();
  transport = snowflake = databricks = undefined;
});

/** Immuta's record of the Snowflake stand-in's account, by its organization and account name. */
const HOST = 'acme-prod.snowflakecomputing.com';
const WHO_AND_WHERE =
  'SELECT CURRENT_ROLE(), CURRENT_WAREHOUSE(), CURRENT_ACCOUNT(), CURRENT_ORGANIZATION_NAME(), CURRENT_ACCOUNT_NAME(), CURRENT_REGION()';

/** Request IDs as a run computes them: one per statement and generation. */
const requestId = (index: number, generation: number) =>
  `00000000-0000-4000-8000-${String(index).padStart(6, '0')}${String(generation).padStart(6, '0')}`;

function adapterFor(inputs: Record<string, string>): WarehouseAdapter {
  const settings = readWarehouse((name) => inputs[name] ?? '', true)!;
  transport = createTransport({ caCertificate: undefined, env: {}, connectTimeoutMs: 5000 });
  const secrets = new Secrets(() => undefined);
  const caller = new HttpCaller({
    transport,
    timeoutMs: 5000,
    maxAttempts: 3,
    log: { debug: () => undefined, info: () => undefined },
    redact: (t) => secrets.redact(t)
  });
  return warehouseAdapter(settings, secrets, caller, requestId);
}

async function snowflakeAdapter(
  options: SnowflakeOptions = {},
  inputs: Record<string, string> = {}
) {
  snowflake = await startSnowflakeStandIn({
    account: 'XY12345',
    user: 'CLEANUP',
    publicKey: keys.publicKey,
    ...options
  });
  return adapterFor({
    'run-script': 'snowflake',
    'snowflake-account': 'xy12345',
    'snowflake-host': snowflake.url,
    'snowflake-user': 'cleanup',
    'snowflake-private-key': keys.privateKey,
    ...inputs
  });
}

async function databricksAdapter(options: Partial<DatabricksOptions> = {}) {
  databricks = await startDatabricksStandIn({
    token: 'dapi-0123456789',
    warehouseId: 'wh1',
    ...options
  });
  return adapterFor({
    'run-script': 'databricks',
    'databricks-host': databricks.url,
    'databricks-token': 'dapi-0123456789',
    'databricks-warehouse-id': 'wh1'
  });
}

const SNOWFLAKE_SCRIPT = scriptStatements(
  [
    'USE ROLE ACCOUNTADMIN;',
    'DROP DATABASE IF EXISTS IMMUTA;',
    "ALTER SESSION SET QUERY_TAG = 'cleanup';",
    'DROP USER IF EXISTS IMMUTA_SYSTEM;'
  ].join('\n'),
  'snowflake'
);

function request(
  script: StatementRequest['script'],
  index: number,
  more: Partial<StatementRequest> = {}
): StatementRequest {
  return { statement: script[index]!, script, generation: 0, ...more };
}

function controls(more: Partial<Controls> = {}): Controls & { accepted: string[] } {
  const accepted: string[] = [];
  return {
    deadline: Date.now() + 10_000,
    signal: new AbortController().signal,
    onAccepted: async (id) => void accepted.push(id),
    accepted,
    ...more
  };
}

const bodies = (standIn: { requests: { method: string; body: string; check?: boolean }[] }) =>
  standIn.requests
    .filter((r) => r.method === 'POST' && !r.check && r.body)
    .map((r) => JSON.parse(r.body));

describe('Snowflake: one statement a request, with its session', () => {
  it('replays the session-only statements before it, counts them, and proves each ran', async () => {
    const adapter = await snowflakeAdapter();
    const end = await adapter.execute(request(SNOWFLAKE_SCRIPT, 3, { generation: 2 }), controls());
    expect(end.outcome).toBe('ran');
    const [body] = bodies(snowflake!);
    expect(body.statement).toBe(
      "USE ROLE ACCOUNTADMIN;\nALTER SESSION SET QUERY_TAG = 'cleanup';\nDROP USER IF EXISTS IMMUTA_SYSTEM"
    );
    expect(body.parameters).toEqual({ MULTI_STATEMENT_COUNT: '3' });
    const post = snowflake!.requests.find((r) => r.method === 'POST')!;
    expect(post.query).toEqual({ requestId: requestId(3, 2), async: 'true' });
    expect(snowflake!.ran.map((r) => [r.text, r.role])).toEqual([
      ['DROP USER IF EXISTS IMMUTA_SYSTEM', 'ACCOUNTADMIN']
    ]);
  });

  it('sends the first statement alone, and a lone session statement with a SELECT that proves its session', async () => {
    const adapter = await snowflakeAdapter();
    const script = scriptStatements('DROP ROLE R;\nUSE ROLE ACCOUNTADMIN;', 'snowflake');
    expect((await adapter.execute(request(script, 0), controls())).outcome).toBe('ran');
    expect((await adapter.execute(request(SNOWFLAKE_SCRIPT, 0), controls())).outcome).toBe('ran');
    expect(
      bodies(snowflake!).map((b) => [b.statement, b.parameters.MULTI_STATEMENT_COUNT])
    ).toEqual([
      ['DROP ROLE R', '1'],
      ['USE ROLE ACCOUNTADMIN;\nSELECT CURRENT_ROLE(), CURRENT_WAREHOUSE()', '2']
    ]);
  });

  it('settles a request an earlier attempt sent under its ID, with retry=true: it does not run twice', async () => {
    const adapter = await snowflakeAdapter();
    await adapter.execute(request(SNOWFLAKE_SCRIPT, 1), controls());
    const end = await adapter.execute(
      request(SNOWFLAKE_SCRIPT, 1, { settle: { statementId: undefined } }),
      controls()
    );
    expect(end.outcome).toBe('ran');
    const posts = snowflake!.requests.filter((r) => r.method === 'POST');
    expect(posts.map((p) => [p.query!.requestId, p.query!.retry])).toEqual([
      [requestId(1, 0), undefined],
      [requestId(1, 0), 'true']
    ]);
    expect(snowflake!.executions.get(requestId(1, 0))).toBe(1);
  });

  it('a failed statement is failed, its own error and code said, and the statement Snowflake names checked against the text sent', async () => {
    const adapter = await snowflakeAdapter({ failOn: /^DROP DATABASE/ });
    const end = await adapter.execute(request(SNOWFLAKE_SCRIPT, 1), controls());
    expect(end.outcome).toBe('failed');
    expect(end.error).toMatch(
      /on statement "DROP DATABASE IF EXISTS IMMUTA" \(at line 2, position 0\)\. SQL compilation error: .* \(100132\) Snowflake names the statement itself/
    );
  });

  it('a replayed session statement that fails is named as such, and the statement is failed, not run', async () => {
    const adapter = await snowflakeAdapter({ grantedRoles: ['PUBLIC'] });
    const end = await adapter.execute(request(SNOWFLAKE_SCRIPT, 1), controls());
    expect(end.outcome).toBe('failed');
    expect(end.error).toMatch(
      /Snowflake names the session statement replayed in front of it, statement 1 \(USE ROLE ACCOUNTADMIN\)/
    );
    expect(snowflake!.ran).toEqual([]);
  });

  it('Snowflake’s own refusal is failed (not run), with no cancel; a 202 without a handle is in doubt', async () => {
    const adapter = await snowflakeAdapter();
    snowflake!.fault({
      method: 'POST',
      status: 403,
      body: { code: '390101', message: 'User is not authorized.' }
    });
    expect((await adapter.execute(request(SNOWFLAKE_SCRIPT, 1), controls())).outcome).toBe(
      'failed'
    );
    snowflake!.fault({ method: 'POST', status: 202, body: { message: 'Accepted.' } });
    const end = await adapter.execute(request(SNOWFLAKE_SCRIPT, 1, { generation: 1 }), controls());
    expect(end.outcome).toBe('in-doubt');
    expect(end.error).toMatch(
      /It named no statement handle to follow, .*a re-run asks Snowflake about request/
    );
    expect(snowflake!.cancels).toEqual([]);
  });

  it('a 422 for another statement handle proves nothing about this one: in doubt, and cancelled', async () => {
    const adapter = await snowflakeAdapter();
    snowflake!.fault({
      method: 'GET',
      path: /^\/api\/v2\/statements\/[^/]+$/,
      status: 422,
      body: { code: '002003', message: 'Failed.', statementHandle: randomUUID() }
    });
    const end = await adapter.execute(request(SNOWFLAKE_SCRIPT, 1), controls());
    expect(end.outcome).toBe('cancelled');
    expect(end.error).toMatch(
      /answered 422\. .*A cancel was sent to Snowflake; it ended cancelled/
    );
    expect(snowflake!.cancels).toHaveLength(1);
  });

  it('cancelled by the job: never sent when already cancelled; cancelled and confirmed while it runs', async () => {
    const adapter = await snowflakeAdapter({ neverEnds: true });
    const gone = new AbortController();
    gone.abort();
    expect(
      (await adapter.execute(request(SNOWFLAKE_SCRIPT, 1), controls({ signal: gone.signal })))
        .outcome
    ).toBe('not-run');
    expect(snowflake!.requests).toEqual([]);
    const job = new AbortController();
    setTimeout(() => job.abort(), 300);
    const end = await adapter.execute(
      request(SNOWFLAKE_SCRIPT, 1),
      controls({ signal: job.signal })
    );
    expect(end.outcome).toBe('cancelled');
    expect(end.error).toMatch(
      /^The job was cancelled\. A cancel was sent to Snowflake; it ended cancelled/
    );
    expect(snowflake!.cancels).toHaveLength(1);
  });
});

describe('Snowflake: the checks before anything is generated or deleted', () => {
  it('proves a warehouse is in use and the role is the one asked for', async () => {
    const adapter = await snowflakeAdapter(
      {},
      { 'snowflake-role': 'sysadmin', 'snowflake-warehouse': 'CLEANUP_WH' }
    );
    await adapter.check(HOST);
    expect(JSON.parse(snowflake!.requests[0]!.body)).toMatchObject({
      statement: WHO_AND_WHERE,
      role: 'sysadmin',
      warehouse: 'CLEANUP_WH'
    });
  });

  it('a user without a warehouse is told to set one', async () => {
    const adapter = await snowflakeAdapter({ defaultWarehouse: null });
    await expect(adapter.check(HOST)).rejects.toThrow(
      /Snowflake has no warehouse in use .*Set snowflake-warehouse/
    );
  });

  it('a session that runs as another role than snowflake-role fails', async () => {
    const adapter = await snowflakeAdapter({}, { 'snowflake-role': 'CLEANUP' });
    const handle = randomUUID();
    snowflake!.fault({
      check: true,
      method: 'POST',
      status: 200,
      body: {
        statementHandle: handle,
        resultSetMetaData: { numRows: 1, format: 'jsonv2', rowType: [] },
        data: [['PUBLIC', 'COMPUTE_WH']]
      }
    });
    await expect(adapter.check(HOST)).rejects.toThrow(
      /^Snowflake runs the session as role PUBLIC, not snowflake-role CLEANUP\. Check that the user is granted that role\.$/
    );
  });

  it('the script’s session statements are run once, before anything is deleted; a role the user lacks fails there', async () => {
    const adapter = await snowflakeAdapter({ grantedRoles: ['PUBLIC'] });
    const error = await adapter.checkScript(SNOWFLAKE_SCRIPT).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /Requested role 'ACCOUNTADMIN' is not assigned to the executing user.*Snowflake names statement 1 of the check, USE ROLE ACCOUNTADMIN/
    );
    expect(snowflake!.ran).toEqual([]);
  });

  it('signs in to the host’s own account only: Snowflake’s own answer decides, by locator and region or by name', async () => {
    const adapter = await snowflakeAdapter({
      identity: {
        locator: 'XY12345',
        organization: 'ACME',
        accountName: 'PROD',
        region: 'PUBLIC.AWS_US_EAST_1'
      }
    });
    await adapter.check('xy12345.us-east-1.privatelink.snowflakecomputing.com');
    await adapter.check('ACME-PROD.snowflakecomputing.com');
    // The same locator in another region is another account.
    await expect(adapter.check('xy12345.snowflakecomputing.com')).rejects.toThrow(
      /^Snowflake says this session is in account XY12345, also named ACME-PROD, which is not the account of the host Immuta names, xy12345\.snowflakecomputing\.com: .* An account locator names an account only within its region: the host's URL names aws us-west-2, and Snowflake says this session is in region PUBLIC\.AWS_US_EAST_1\.$/
    );
    await expect(adapter.check('acme-dev.snowflakecomputing.com')).rejects.toThrow(
      /^Snowflake says this session is in account XY12345, also named ACME-PROD, which is not the account of the host Immuta names, acme-dev\.snowflakecomputing\.com: a host's cleanup script never runs in another account\. Check snowflake-account and snowflake-host/
    );
    await expect(adapter.check(undefined)).rejects.toThrow(
      /and Immuta's record of the host names no hostname to compare it with/
    );
    expect(snowflake!.ran).toEqual([]);
  });

  it('a host with no SQL API says to check snowflake-account', async () => {
    const adapter = await snowflakeAdapter();
    snowflake!.fault({ check: true, method: 'POST', status: 404, body: '<html>Not Found</html>' });
    await expect(adapter.check(HOST)).rejects.toThrow(/answered 404\..*check snowflake-account/);
  });
});

describe('Databricks: one statement a request, with its catalog and schema', () => {
  it('refuses another workspace than the one Immuta names, before any request', async () => {
    const adapter = await databricksAdapter();
    await expect(adapter.check('dbc-1234.cloud.databricks.com')).rejects.toThrow(
      /^databricks-host is http:\/\/127\.0\.0\.1:\d+, but Immuta's record of the host names the workspace dbc-1234\.cloud\.databricks\.com: a host's cleanup script never runs in another workspace\. Set databricks-host to the host's own workspace URL/
    );
    expect(databricks!.requests).toEqual([]);
  });

  const script = scriptStatements(
    'USE CATALOG immuta;\nUSE SCHEMA sys;\nDROP TABLE t;\nUSE CATALOG main;\nDROP SCHEMA x;',
    'databricks'
  );

  it('carries the catalog and schema, and tells the statement_id before following it', async () => {
    const adapter = await databricksAdapter();
    const c = controls();
    expect((await adapter.execute(request(script, 2), c)).outcome).toBe('ran');
    expect((await adapter.execute(request(script, 4), controls())).outcome).toBe('ran');
    expect(databricks!.ran).toEqual([
      { statement: 'DROP TABLE t', catalog: 'immuta', schema: 'sys' },
      { statement: 'DROP SCHEMA x', catalog: 'main', schema: 'default' }
    ]);
    expect(c.accepted).toHaveLength(1);
    const firstGet = databricks!.requests.findIndex((r) => r.method === 'GET');
    expect(databricks!.requests[firstGet]!.path).toContain(c.accepted[0]!);
  });

  it('settles by reading the statement_id back, never sending it again', async () => {
    const adapter = await databricksAdapter();
    const c = controls();
    await adapter.execute(request(script, 2), c);
    const end = await adapter.execute(
      request(script, 2, { settle: { statementId: c.accepted[0] } }),
      controls()
    );
    expect(end).toMatchObject({ outcome: 'ran', statementId: c.accepted[0] });
    expect(databricks!.sent('DROP TABLE t')).toBe(1);
    databricks!.forget();
    const forgotten = await adapter.execute(
      request(script, 2, { settle: { statementId: c.accepted[0] } }),
      controls()
    );
    expect(forgotten.outcome).toBe('in-doubt');
    expect(forgotten.error).toMatch(/no longer knows statement_id/);
  });

  it('a statement whose answer was lost is in doubt, without an ID, and never sent twice', async () => {
    const adapter = await databricksAdapter();
    databricks!.fault({ method: 'POST', path: /statements$/, resetAfterHandling: true });
    const end = await adapter.execute(request(script, 2), controls());
    expect(end.outcome).toBe('in-doubt');
    expect(end.statementId).toBeUndefined();
    expect(databricks!.sent('DROP TABLE t')).toBe(1);
  });

  it('checks the warehouse answers with the catalog it runs in, and each catalog the script uses', async () => {
    const adapter = await databricksAdapter({ catalogs: ['main'] });
    await adapter.check(new URL(databricks!.url).hostname);
    await expect(adapter.checkScript(script)).rejects.toThrow(/Catalog 'immuta' was not found/);
    transport!.close();
    await databricks!.close();
    const stranger = await databricksAdapter({ warehouseId: 'other' });
    await expect(stranger.check(new URL(databricks!.url).hostname)).rejects.toThrow(
      /answered 404\. Databricks said: No warehouse wh1.*Check databricks-host and databricks-warehouse-id\./
    );
  });
});
