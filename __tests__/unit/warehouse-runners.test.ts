// The two runners in-process, against the loopback stand-ins: resuming a script at a statement
// (startAt), the pre-flight check, and outcomes exact enough to find where a script stopped.
import { afterEach, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { createTransport, type Transport } from '../../src/http/transport.js';
import { HttpCaller } from '../../src/http/caller.js';
import { Secrets } from '../../src/action/secrets.js';
import { readWarehouse } from '../../src/warehouse/settings.js';
import { scriptRunner } from '../../src/warehouse/index.js';
import { WarehouseError, type ScriptRun } from '../../src/warehouse/types.js';
import {
  startDatabricksStandIn,
  startSnowflakeStandIn,
  type DatabricksStandIn,
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

function runnerFor(inputs: Record<string, string>) {
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
  return scriptRunner(settings, secrets, caller);
}

async function snowflakeRunner(options = {}, inputs: Record<string, string> = {}) {
  snowflake = await startSnowflakeStandIn({
    account: 'XY12345',
    user: 'CLEANUP',
    publicKey: keys.publicKey,
    ...options
  });
  return runnerFor({
    'run-script': 'snowflake',
    'snowflake-account': 'xy12345',
    'snowflake-host': snowflake.url,
    'snowflake-user': 'cleanup',
    'snowflake-private-key': keys.privateKey,
    ...inputs
  });
}

async function databricksRunner(options = {}) {
  databricks = await startDatabricksStandIn({
    token: 'dapi-0123456789',
    warehouseId: 'wh1',
    ...options
  });
  return runnerFor({
    'run-script': 'databricks',
    'databricks-host': databricks.url,
    'databricks-token': 'dapi-0123456789',
    'databricks-warehouse-id': 'wh1'
  });
}

const SCRIPT = [
  'USE ROLE ACCOUNTADMIN;',
  'DROP DATABASE IF EXISTS IMMUTA;',
  "ALTER SESSION SET QUERY_TAG = 'cleanup';",
  'DROP USER IF EXISTS IMMUTA_SYSTEM;',
  'DROP ROLE IF EXISTS IMMUTA_ROLE;'
].join('\n');

const outcomes = (run: ScriptRun) => run.statements.map((s) => s.outcome);
/** What the lead computes: the first statement not known to have run. */
const firstNotKnownRun = (run: ScriptRun) =>
  run.statements.findIndex((s) => s.outcome !== 'ran' && s.outcome !== 'ran-before');

describe('Snowflake: startAt resumes a script run in part', () => {
  it('sends the session statements before startAt again, then the rest, as one request', async () => {
    const runner = await snowflakeRunner();
    const run = await runner.run(SCRIPT, { startAt: 3 });
    expect(run.status).toBe('ran');
    expect(snowflake!.scripts).toEqual([
      "USE ROLE ACCOUNTADMIN;\nALTER SESSION SET QUERY_TAG = 'cleanup';\nDROP USER IF EXISTS IMMUTA_SYSTEM;\nDROP ROLE IF EXISTS IMMUTA_ROLE"
    ]);
    expect(snowflake!.ran).not.toContain('DROP DATABASE IF EXISTS IMMUTA');
    expect(outcomes(run)).toEqual(['ran-before', 'ran-before', 'ran-before', 'ran', 'ran']);
    expect(run.statementsRun).toBe(2);
  });

  it('maps a failure in the resumed request back to the script’s own statement', async () => {
    const runner = await snowflakeRunner({ failOn: /^DROP ROLE/ });
    const run = await runner.run(SCRIPT, { startAt: 3 });
    expect(run.status).toBe('failed');
    expect(outcomes(run)).toEqual(['ran-before', 'ran-before', 'ran-before', 'ran', 'failed']);
    expect(firstNotKnownRun(run)).toBe(4);
    expect(run.error).toMatch(/^Statement 5 of 5 failed \(DROP ROLE IF EXISTS IMMUTA_ROLE\)/);
  });

  it('a failing replayed session statement leaves the earlier attempt’s work as it was', async () => {
    const runner = await snowflakeRunner({ failOn: /^USE ROLE/ });
    const run = await runner.run(SCRIPT, { startAt: 3 });
    expect(outcomes(run)).toEqual(['ran-before', 'ran-before', 'ran-before', 'not-run', 'not-run']);
    expect(run.error).toMatch(
      /^Statement 1 of 5 failed \(replayed for the session of a resumed run\)/
    );
  });

  it('a startAt past the last statement sends nothing', async () => {
    const runner = await snowflakeRunner();
    const run = await runner.run(SCRIPT, { startAt: 5 });
    expect(run.status).toBe('ran');
    expect(snowflake!.requests).toEqual([]);
    expect(outcomes(run)).toEqual(Array(5).fill('ran-before'));
  });

  it('outcomes after a 422: those before ran, the failing one failed, the rest not run', async () => {
    const runner = await snowflakeRunner({ failAt: 2 });
    const run = await runner.run(SCRIPT);
    expect(outcomes(run)).toEqual(['ran', 'failed', 'not-run', 'not-run', 'not-run']);
    expect(firstNotKnownRun(run)).toBe(1);
  });

  it('a 422 that names no position leaves every statement unknown, never guessed', async () => {
    const runner = await snowflakeRunner({
      failAt: 2,
      failWithoutPosition: true,
      failMessage: 'Statement 4 of 5 failed: SQL compilation error'
    });
    const run = await runner.run(SCRIPT);
    expect(outcomes(run)).toEqual(Array(5).fill('unknown'));
    expect(run.statementsRun).toBeUndefined();
  });
});

describe('Snowflake: answers held to the SQL API’s shape', () => {
  it('a 202 that names no statement to follow leaves every statement unknown', async () => {
    const runner = await snowflakeRunner();
    snowflake!.fault({ method: 'POST', status: 202, body: { message: 'Accepted.' } });
    const run = await runner.run(SCRIPT);
    expect(run.status).toBe('failed');
    expect(outcomes(run)).toEqual(Array(5).fill('unknown'));
    expect(run.error).toMatch(
      /^POST \/api\/v2\/statements answered 202\. Snowflake said: Accepted\.\. That is not the Snowflake SQL API's answer .* It named no statement to follow, so whether the script runs is unknown\.$/
    );
  });

  it('Snowflake’s own refusal of the request leaves every statement not run', async () => {
    const runner = await snowflakeRunner();
    snowflake!.fault({
      method: 'POST',
      status: 403,
      body: { code: '390101', message: 'User is not authorized.' }
    });
    const run = await runner.run(SCRIPT);
    expect(outcomes(run)).toEqual(Array(5).fill('not-run'));
    expect(run.statementsRun).toBe(0);
    expect(snowflake!.cancels).toEqual([]);
  });
});

describe('Snowflake: the pre-flight check', () => {
  it('runs SELECT 1 with the role and warehouse the script gets', async () => {
    const runner = await snowflakeRunner(
      {},
      { 'snowflake-role': 'CLEANUP_ROLE', 'snowflake-warehouse': 'CLEANUP_WH' }
    );
    await runner.check();
    expect(snowflake!.checks).toBe(1);
    expect(JSON.parse(snowflake!.requests[0]!.body)).toMatchObject({
      statement: 'SELECT 1',
      role: 'CLEANUP_ROLE',
      warehouse: 'CLEANUP_WH'
    });
  });

  it('a session Snowflake refuses says to check the role and the warehouse', async () => {
    const runner = await snowflakeRunner({}, { 'snowflake-warehouse': 'NO_SUCH_WH' });
    // The check is waited for: Snowflake's 422 is the answer to its POST.
    snowflake!.fault({
      check: true,
      method: 'POST',
      status: 422,
      body: {
        code: '000606',
        sqlState: '57P03',
        message:
          "Uncaught exception of type 'STATEMENT_ERROR' on line 1 at position 0 : No active warehouse selected in the current session."
      }
    });
    const error = await runner.check().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WarehouseError);
    expect((error as Error).message).toMatch(
      /^Signing in to Snowflake and running SELECT 1 with the user's default role and warehouse NO_SUCH_WH failed: Statement 1 of 1 failed \(SELECT 1\): No active warehouse selected.*Check snowflake-role and snowflake-warehouse/
    );
  });

  it('a host with no SQL API says to check snowflake-account', async () => {
    const runner = await snowflakeRunner();
    snowflake!.fault({ check: true, method: 'POST', status: 404, body: '<html>Not Found</html>' });
    await expect(runner.check()).rejects.toThrow(/answered 404\..*check snowflake-account/);
  });
});

describe('Databricks: startAt and the pre-flight check', () => {
  it('starts at startAt: the statements before it are not sent and come back ran-before', async () => {
    const runner = await databricksRunner();
    const run = await runner.run('DROP SCHEMA a;\nDROP SCHEMA b;\nDROP CATALOG c', { startAt: 1 });
    expect(run.status).toBe('ran');
    expect(databricks!.executed).toEqual(['DROP SCHEMA b', 'DROP CATALOG c']);
    expect(outcomes(run)).toEqual(['ran-before', 'ran', 'ran']);
    expect(run.statementsRun).toBe(2);
  });

  it('checks with SELECT 1 on the warehouse; a wrong warehouse says which input to fix', async () => {
    const runner = await databricksRunner();
    await runner.check();
    expect(databricks!.checks).toBe(1);
    transport!.close();
    await databricks!.close();
    const stranger = await databricksRunner({ warehouseId: 'other' });
    await expect(stranger.check()).rejects.toThrow(
      /^Signing in to Databricks and running SELECT 1 on SQL warehouse wh1 failed: .*answered 404\. Databricks said: No warehouse wh1.*Check databricks-host and databricks-warehouse-id\./
    );
  });

  it('a statement whose answer was lost is unknown, and the run stops there', async () => {
    const runner = await databricksRunner();
    databricks!.fault({ method: 'POST', path: /statements$/, resetAfterHandling: true });
    const run = await runner.run('DROP SCHEMA a;\nDROP SCHEMA b');
    expect(outcomes(run)).toEqual(['unknown', 'not-run']);
    expect(databricks!.sent('DROP SCHEMA a')).toBe(1);
    expect(firstNotKnownRun(run)).toBe(0);
  });
});
