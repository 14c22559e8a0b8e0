import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import {
  startImmutaStandIn,
  snowflakeScript,
  type ImmutaStandIn as StandIn
} from '../support/immuta-stand-in.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs, trail, visibleLog } from '../support/inputs.js';

let immuta: StandIn;
afterEach(async () => immuta?.close());

const SCRIPT = '/integrations/1/scripts/delete';
const OBJECT = '/data/object/snowflake-prod';
const CONNECTION = '/data/connection/snowflake-prod';

describe('when Immuta refuses', () => {
  it('a script failure sends no DELETE', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'POST',
      path: SCRIPT,
      status: 500,
      body: '{"statusCode":500,"message":"Script generation failed"}'
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toBe(
      'Getting the cleanup script failed: POST /integrations/1/scripts/delete answered 500 Internal Server Error. Immuta said: Script generation failed.'
    );
    expect(immuta.sent('DELETE')).toHaveLength(0);
    expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
  });

  it('403 on the script names APPLICATION_ADMIN, and nothing is deleted', async () => {
    immuta = await startImmutaStandIn({ permissions: { script: false } });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Getting the cleanup script failed: POST \/integrations\/1\/scripts\/delete answered 403 Forbidden\./
    );
    expect(run.errors[0]).toMatch(/needs the APPLICATION_ADMIN permission/);
    expect(immuta.sent('DELETE')).toHaveLength(0);
  });

  it('403 on the delete names INFRASTRUCTURE_ADMIN and DATA_OWNER, with the script kept', async () => {
    immuta = await startImmutaStandIn({ permissions: { delete: false } });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Deleting the host failed: DELETE \/data\/object\/snowflake-prod answered 403 Forbidden\./
    );
    expect(run.errors[0]).toMatch(/INFRASTRUCTURE_ADMIN permission, or DATA_OWNER on this host/);
    // A refusal is Immuta's own word, unlike a gateway's 5xx: no lookup, and not deleted.
    expect(immuta.sent('GET', OBJECT)).toHaveLength(0);
    expect(run.summary).toContain('This step did not delete the host.');
    expect(await fs.readFile(run.outputs['script-path'], 'utf8')).toBe(snowflakeScript(1));
    expect(run.outputs.script).toBe(snowflakeScript(1));
  });

  it('401 says the API key was refused', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'api-key': 'wrong-key-123' }) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Looking up the host failed: GET \/data\/connection\/snowflake-prod answered 401 Unauthorized\..*Immuta refused the API key/
    );
    expect(visibleLog(run.log)).not.toContain('wrong-key-123');
    expect(run.stdout).toContain('::add-mask::wrong-key-123');
  });

  it('401 at the token exchange says the key was refused', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'api-key': 'wrong-key-123', 'auth-method': 'token' })
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Exchanging the API key for a token failed: POST \/bim\/apikey\/authenticate answered 401/
    );
    expect(trail(immuta)).toEqual(['POST /bim/apikey/authenticate']);
  });

  it('409 explains the integration is busy and names its state', async () => {
    immuta = await startImmutaStandIn();
    immuta.state.integrations[1].status = 'editing';
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /answered 409 Conflict\. Immuta said: Unable to edit integration with ID 1 in current state editing\./
    );
    expect(run.errors[0]).toMatch(
      /The integration is in state 'editing'.*wait until it is 'enabled'/
    );
    expect(immuta.sent('DELETE')).toHaveLength(0);
  });

  it('404 from the script endpoint while the host exists is an error naming the integration', async () => {
    immuta = await startImmutaStandIn();
    delete immuta.state.integrations[1];
    const run = await runAction({ inputs: stepInputs(immuta, { 'if-missing': 'warn' }) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /answered 404 Not Found\. Immuta said: No Integration found with ID 1\. Immuta has no integration with ID 1\./
    );
    expect(immuta.sent('DELETE')).toHaveLength(0);
  });

  it("shows Immuta's message for any other status", async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'GET',
      path: CONNECTION,
      status: 418,
      body: '{"message":"I am a teapot"}'
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toBe(
      'Looking up the host failed: GET /data/connection/snowflake-prod answered 418. Immuta said: I am a teapot.'
    );
  });
});

describe('a host that is already gone', () => {
  it('fails under if-missing: error, saying how to let it pass', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'connection-key': 'retired' }) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /GET \/data\/connection\/retired answered 404 Not Found, so Immuta has no host 'retired'.*set if-missing: warn or if-missing: ignore/
    );
    // One check that immuta-url is Immuta's API before its 404 is believed; nothing else.
    expect(trail(immuta)).toEqual(['GET /data/connection/retired', 'GET /integrations']);
  });

  it('succeeds with a warning under if-missing: warn', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': 'retired', 'if-missing': 'warn' })
    });
    expect(run.code).toBe(0);
    expect(run.warnings[0]).toMatch(/Immuta has no host 'retired'/);
    expect(run.outputs).toMatchObject({
      status: 'already-absent',
      deleted: 'false',
      'child-count': ''
    });
    expect(run.summary).toContain('Host `retired` was already gone from Immuta');
  });

  it('succeeds silently under if-missing: ignore', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': 'retired', 'if-missing': 'ignore' })
    });
    expect(run.code).toBe(0);
    expect(run.warnings).toEqual([]);
    expect(run.errors).toEqual([]);
    expect(run.outputs.status).toBe('already-absent');
  });

  it('follows if-missing when the script endpoint and the host both answer 404 (a re-run)', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'POST',
      path: SCRIPT,
      status: 404,
      body: '{"message":"No Integration found with ID 1."}'
    });
    immuta.fault({ method: 'GET', path: OBJECT, status: 404 });
    const run = await runAction({ inputs: stepInputs(immuta, { 'if-missing': 'warn' }) });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({
      status: 'already-absent',
      deleted: 'false',
      'integration-id': '1'
    });
    expect(run.warnings[0]).toMatch(/host 'snowflake-prod' is gone from Immuta/);
    expect(immuta.sent('DELETE')).toHaveLength(0);
  });
});

describe('retries', () => {
  it('retries a 503 and goes on', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'GET', path: CONNECTION, status: 503 });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(immuta.sent('GET', CONNECTION)).toHaveLength(2);
    expect(run.log).toMatch(
      /GET \/data\/connection\/snowflake-prod answered 503; trying again in \d\.\d s \(attempt 2 of 3\)/
    );
  });

  it('retries a connection reset on the script request', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'POST', path: SCRIPT, reset: true });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(immuta.sent('POST', SCRIPT)).toHaveLength(2);
    expect(run.outputs.status).toBe('deregistered');
  });

  it('waits as long as a 429 Retry-After asks before trying again', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'POST', path: SCRIPT, status: 429, headers: { 'retry-after': '2' } });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    const [first, second] = immuta.requests.filter((r) => r.path === SCRIPT);
    // Backoff alone would wait at most 1 s before the second attempt.
    expect(second.at - first.at).toBeGreaterThanOrEqual(1900);
  });

  it('gives up after max-attempts and says so', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'GET', path: CONNECTION, status: 502, times: 2 });
    const run = await runAction({ inputs: stepInputs(immuta, { 'max-attempts': '2' }) });
    expect(run.code).toBe(1);
    expect(immuta.sent('GET', CONNECTION)).toHaveLength(2);
    expect(run.errors[0]).toMatch(/answered 502 Bad Gateway\..*Gave up after 2 attempts/);
  });

  it('does not retry a 500', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'GET', path: CONNECTION, status: 500 });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(immuta.sent('GET', CONNECTION)).toHaveLength(1);
  });

  it('reports a timeout with the step, method and path', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'GET', path: CONNECTION, hang: true });
    const run = await runAction({
      inputs: stepInputs(immuta, { 'timeout-seconds': '1', 'max-attempts': '1' })
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Looking up the host failed: GET \/data\/connection\/snowflake-prod got no response \(timed out after 1 s\)\..*raise timeout-seconds/
    );
  });

  it('looks before re-sending a DELETE whose answer was lost, and reports the host deregistered', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'DELETE', path: OBJECT, resetAfterHandling: true });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(trail(immuta).slice(2)).toEqual([
      'DELETE /data/object/snowflake-prod',
      'GET /data/object/snowflake-prod'
    ]);
    expect(run.outputs).toMatchObject({
      status: 'deregistered',
      deleted: 'true',
      'child-count': ''
    });
    expect(run.log).toMatch(/that attempt deleted it/);
  });

  it('sends the DELETE again when the lookup shows the host still there', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'DELETE', path: OBJECT, reset: true });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(trail(immuta).slice(2)).toEqual([
      'DELETE /data/object/snowflake-prod',
      'GET /data/object/snowflake-prod',
      'DELETE /data/object/snowflake-prod'
    ]);
    expect(run.outputs['child-count']).toBe('42');
  });
});

describe("a gateway's 502, 503 or 504 as the DELETE's last answer", () => {
  // A gateway or load balancer may pass the DELETE on to Immuta before it answers 502 or 504 (a
  // proxy's 503 too): with no attempt left, that answer says nothing of the host, and only a
  // lookup does. Every attempt here answers the 5xx; the stand-in carries out the one marked.
  const gateway = (status: number, actsOn: 'first' | 'last' | 'none') => {
    const act = {
      method: 'DELETE',
      path: OBJECT,
      status,
      body: `upstream error ${status}`,
      afterHandling: true
    };
    const refuse = { method: 'DELETE', path: OBJECT, status, body: `upstream error ${status}` };
    if (actsOn === 'first') immuta.fault(act);
    immuta.fault({ ...refuse, times: actsOn === 'none' ? 3 : 2 });
    if (actsOn === 'last') immuta.fault(act);
  };
  const reportOf = async (run: { outputs: Record<string, string> }) =>
    JSON.parse(await fs.readFile(run.outputs['report-path']!, 'utf8'));

  it('Immuta deleted the host on the last attempt: a lookup counts it deleted, with a warning', async () => {
    immuta = await startImmutaStandIn();
    gateway(502, 'last');
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(immuta.sent('DELETE', OBJECT)).toHaveLength(3);
    expect(immuta.state.hosts['snowflake-prod']).toBeUndefined();
    // The last 502 is settled by a lookup, not taken for a deletion.
    expect(trail(immuta).slice(-2)).toEqual([`DELETE ${OBJECT}`, `GET ${OBJECT}`]);
    expect(run.outputs).toMatchObject({
      status: 'deregistered',
      deleted: 'true',
      'child-count': ''
    });
    expect(run.warnings.join('\n')).toMatch(
      /delete of host 'snowflake-prod' was not its usual answer \(it answered 502 Bad Gateway, which a gateway or proxy may send after passing the delete on to Immuta\), but a lookup shows the host is gone: it was deleted\. child-count is empty\./
    );
    expect(run.errors).toEqual([]);
  });

  it('Immuta did not delete the host: the step fails saying it did not delete it, nothing more', async () => {
    immuta = await startImmutaStandIn();
    gateway(503, 'none');
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(immuta.sent('DELETE', OBJECT)).toHaveLength(3);
    expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
    expect(run.errors[0]).toMatch(
      /^Deleting the host failed: DELETE \/data\/object\/snowflake-prod answered 503 Service Unavailable\..*A lookup \(GET \/data\/object\/snowflake-prod\) shows the host still in Immuta: it was not deleted \(a 503 does not say whether the delete reached Immuta: a gateway or proxy may pass it on .*\)\..*Gave up after 3 attempts/
    );
    expect(run.errors[0]).not.toMatch(/may (or may not )?have (been )?deleted/);
    expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
    expect(run.summary).toContain('This step did not delete the host.');
    expect((await reportOf(run)).hosts[0]).toMatchObject({
      status: 'failed',
      deleted: false,
      mayHaveDeleted: false
    });
  });

  it('Immuta deleted it and the lookup fails too: the error, summary and report say it may be deleted', async () => {
    immuta = await startImmutaStandIn();
    gateway(504, 'first');
    // Every lookup fails: those before each resend and the one after the last answer.
    immuta.fault({ method: 'GET', path: OBJECT, status: 500, times: 10 });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(immuta.sent('DELETE', OBJECT)).toHaveLength(3);
    expect(immuta.state.hosts['snowflake-prod']).toBeUndefined();
    expect(run.errors[0]).toMatch(
      /answered 504 Gateway Timeout\..*A 504 does not say whether the delete reached Immuta.*The lookup that would tell failed too \(Describing the host failed: GET \/data\/object\/snowflake-prod answered 500 Internal Server Error.*\), so the host may or may not have been deleted: check it in Immuta/
    );
    expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
    expect(run.summary).not.toContain('This step did not delete the host.');
    expect(run.summary).toContain('Whether this step deleted the host is **unknown**');
    expect((await reportOf(run)).hosts[0]).toMatchObject({
      status: 'failed',
      mayHaveDeleted: true
    });
  });

  it('a batch: each host settled by its own lookup, through the same client', async () => {
    immuta = await startImmutaStandIn();
    const at = (key: string) => `/data/object/${key}`;
    // snowflake-prod: deleted on the last attempt. databricks-uc: never reached Immuta.
    // lake-formation: deleted on the first attempt, and every lookup of it fails.
    immuta.fault({ method: 'DELETE', path: at('snowflake-prod'), status: 502, times: 2 });
    immuta.fault({
      method: 'DELETE',
      path: at('snowflake-prod'),
      status: 502,
      afterHandling: true
    });
    immuta.fault({ method: 'DELETE', path: at('databricks-uc'), status: 503, times: 3 });
    immuta.fault({
      method: 'DELETE',
      path: at('lake-formation'),
      status: 504,
      afterHandling: true
    });
    immuta.fault({ method: 'DELETE', path: at('lake-formation'), status: 504, times: 2 });
    immuta.fault({ method: 'GET', path: at('lake-formation'), status: 500, times: 10 });
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'connection-key': 'snowflake-prod\ndatabricks-uc\nlake-formation',
        'max-parallel': '1',
        'fail-fast': 'false'
      })
    });
    expect(run.code).toBe(1);
    expect(Object.keys(immuta.state.hosts)).toEqual(['databricks-uc']);
    const hosts = (await reportOf(run)).hosts.map(
      (h: { connectionKey: string; status: string; deleted: boolean; mayHaveDeleted: boolean }) => [
        h.connectionKey,
        h.status,
        h.deleted,
        h.mayHaveDeleted
      ]
    );
    expect(hosts).toEqual([
      ['snowflake-prod', 'deregistered', true, false],
      ['databricks-uc', 'failed', false, false],
      ['lake-formation', 'failed', false, true]
    ]);
    expect(run.warnings.join('\n')).toMatch(
      /delete of host 'snowflake-prod' was not its usual answer \(it answered 502 Bad Gateway, .*\), but a lookup shows the host is gone: it was deleted\./
    );
    expect(run.outputs).toMatchObject({ 'deleted-count': '1', 'failed-count': '2' });
    const row = (key: string) => run.summary.split('\n').find((l) => l.startsWith(`| \`${key}\``))!;
    expect(row('databricks-uc')).toMatch(
      /\| failed \|.*shows the host still in Immuta\\: it was not deleted/
    );
    expect(row('databricks-uc')).not.toMatch(/may be deleted|may have deleted|may or may not/);
    expect(row('lake-formation')).toMatch(
      /\| failed, may be deleted \|.*Immuta may have deleted it/
    );
    const nextStep = run.summary.split('### Next step')[1]!.split('\n|')[0]!;
    expect(nextStep).toMatch(/1 host was not deleted/);
    expect(nextStep).toMatch(/Whether host `lake-formation` was deleted is unknown/);
  });
});
