// The action against a hostile or broken world: proxies and firewalls answering in Immuta's
// place, answers lost after the server acted, bodies that never end, servers that echo secrets,
// values that try to pass for runner commands. Each way found to break the promise is kept here.
import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  startImmutaStandIn,
  snowflakeScript,
  type ImmutaStandIn as StandIn
} from '../support/immuta-stand-in.mjs';
import { runAction, scratchDir, type ActionRun } from '../support/run-action.mjs';
import { stepInputs, trail, visibleLog } from '../support/inputs.js';

let immuta: StandIn;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await immuta?.close();
  while (closers.length) await closers.pop()!();
});

const SCRIPT = '/integrations/1/scripts/delete';
const OBJECT = '/data/object/snowflake-prod';
const CONNECTION = '/data/connection/snowflake-prod';
const SIGN_IN_PAGE =
  '<!DOCTYPE html><html><head><title>Sign in to Acme SSO</title></head><body><form>…</form></body></html>';

/** The run failed before anything was deleted, and the host is still in Immuta. */
function expectNothingDeleted(run: ActionRun) {
  expect(run.code).toBe(1);
  expect(immuta.sent('DELETE')).toHaveLength(0);
  expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
  expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
}

describe('a 200 to the script request that is not a cleanup script is refused before any delete', () => {
  it.each([
    ['an SSO sign-in page', SIGN_IN_PAGE, { 'content-type': 'text/html; charset=utf-8' }],
    ['an HTML page served as JSON', SIGN_IN_PAGE, { 'content-type': 'application/json' }],
    ['an HTML page with no content type', `\n${SIGN_IN_PAGE}`, { 'content-type': null }]
  ])('%s', async (_what, body, headers) => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'POST', path: SCRIPT, status: 200, body, headers });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expectNothingDeleted(run);
    expect(run.errors[0]).toMatch(
      /^Getting the cleanup script failed: POST \/integrations\/1\/scripts\/delete answered 200 OK\. The answer is not a cleanup script: it is an HTML page, not a script\./
    );
    expect(run.errors[0]).toContain(
      'starting “<!DOCTYPE html><html><head><title>Sign in to Acme SSO'
    );
    expect(run.errors[0]).toMatch(/Nothing was deleted/);
    expect(run.outputs['script-path']).toBeUndefined();
  });

  it('a compressed body that was never asked for', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'POST',
      path: SCRIPT,
      status: 200,
      body: gzipSync(JSON.stringify(snowflakeScript(1))),
      headers: { 'content-encoding': 'gzip' }
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expectNothingDeleted(run);
    expect(run.errors[0]).toMatch(
      /it is compressed \(content-encoding gzip\) although the action asked for no compression\. It came back as content type application\/json; charset=utf-8, content-encoding gzip, first bytes “\\x1f\\x8b\\x08/
    );
  });

  it('binary bytes', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'POST',
      path: SCRIPT,
      status: 200,
      body: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]),
      headers: { 'content-type': 'application/octet-stream' }
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expectNothingDeleted(run);
    expect(run.errors[0]).toMatch(/binary bytes, not text.*first bytes “PK\\x03\\x04\\x14\\x00/);
  });

  it("Immuta's error object served with a 200", async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'POST',
      path: SCRIPT,
      status: 200,
      body: '{"statusCode":403,"error":"Forbidden","message":"Not allowed"}'
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expectNothingDeleted(run);
    expect(run.errors[0]).toMatch(/it is an error object \(statusCode 403\)/);
  });

  it('reads text in the charset it declares, and keeps it as UTF-8', async () => {
    immuta = await startImmutaStandIn();
    const script = 'DROP USER IF EXISTS "José";\nREVOKE ROLE R FROM USER \'Åsa\';\n';
    immuta.fault({
      method: 'POST',
      path: SCRIPT,
      status: 200,
      body: Buffer.from(script, 'latin1'),
      headers: { 'content-type': 'text/plain; charset=ISO-8859-1' }
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(await fs.readFile(run.outputs['script-path'], 'utf8')).toBe(script);
    expect(run.outputs.script).toBe(script);
  });
});

describe('a 2xx to the DELETE that is not a deletion', () => {
  it('an HTML page from a firewall that never passed the DELETE on: the host is still there', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'DELETE',
      path: OBJECT,
      status: 200,
      body: '<html><body>Request blocked by policy</body></html>',
      headers: { 'content-type': 'text/html' }
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Deleting the host failed: DELETE \/data\/object\/snowflake-prod answered 200 OK\. But the answer was not Immuta's answer to a delete: it came back as content type text\/html, starting “<html><body>Request blocked by policy/
    );
    expect(run.errors[0]).toMatch(
      /shows the host still in Immuta: it was not deleted\. The cleanup script is kept: the file .*immuta-cleanup-snowflake-prod\.sql/
    );
    expect(trail(immuta).slice(-2)).toEqual([`DELETE ${OBJECT}`, `GET ${OBJECT}`]);
    expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
    expect(await fs.readFile(run.outputs['script-path'], 'utf8')).toBe(snowflakeScript(1));
  });

  it("an error object with a 200: Immuta's words are not taken for a deletion", async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'DELETE',
      path: OBJECT,
      status: 200,
      body: '{"statusCode":403,"error":"Forbidden","message":"You may not delete this"}'
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/starting “\{"statusCode":403/);
    expect(run.errors[0]).toMatch(/it was not deleted/);
    expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
  });

  it('and the lookup that would settle it fails: the host may or may not be deleted', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'DELETE', path: OBJECT, status: 200, body: '', headers: {} });
    immuta.fault({ method: 'GET', path: OBJECT, status: 500, times: 5 });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /came back as content type application\/json; charset=utf-8 and an empty body/
    );
    expect(run.errors[0]).toMatch(
      /The lookup that would tell failed too \(Describing the host failed: GET \/data\/object\/snowflake-prod answered 500 Internal Server Error.*\), so the host may or may not have been deleted: check it in Immuta/
    );
    expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
  });
  it("another host's answer after Immuta did delete this one: the lookup counts it, and a warning names the other host", async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'DELETE',
      path: OBJECT,
      status: 200,
      afterHandling: true,
      body: '{"objectPath":["databricks-uc"],"childCount":7}',
      headers: { 'content-type': 'application/json' }
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(trail(immuta).slice(-1)).toEqual([`GET ${OBJECT}`]);
    // The other host's 7 children are not this host's.
    expect(run.outputs).toMatchObject({
      status: 'deregistered',
      deleted: 'true',
      'child-count': ''
    });
    expect(run.warnings.join('\n')).toMatch(
      /its objectPath names another host, "databricks-uc", .*a lookup shows the host is gone: it was deleted/
    );
  });
});

describe('a record that is not the one asked for', () => {
  it("another host's record (a cache in the way) stops the step before anything is generated", async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'GET',
      path: CONNECTION,
      status: 200,
      body: JSON.stringify({ connectionKey: 'databricks-uc', nativeIntegrationId: 2 })
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expectNothingDeleted(run);
    expect(run.errors[0]).toMatch(
      /The answer is not the host's record: it describes a different host \(connectionKey "databricks-uc"\)/
    );
    expect(immuta.sent('POST')).toHaveLength(0);
  });
});

describe("a 404 counts as 'absent' only when Immuta says so", () => {
  it('a web server in front answers its own 404 (a missing path prefix): an error, even under if-missing: warn', async () => {
    immuta = await startImmutaStandIn({ prefix: '/immuta' });
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'immuta-url': immuta.url.replace(/\/immuta$/, ''),
        'if-missing': 'warn'
      })
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Looking up the host failed: GET \/data\/connection\/snowflake-prod answered 404 Not Found\. The answer is not in Immuta's JSON error shape \(it came back as content type text\/html, starting “<html> <head><title>404 Not Found<\/title>.*\), so immuta-url does not look like the Immuta API\. Check the URL and its path prefix/
    );
    expect(run.outputs.status).toBe('failed');
    expect(immuta.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
  });

  it('a proxy answers 404 to the DELETE: an error, not a host already gone, under if-missing: ignore', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'DELETE',
      path: OBJECT,
      status: 404,
      body: 'Not Found',
      headers: { 'content-type': 'text/plain' }
    });
    const run = await runAction({ inputs: stepInputs(immuta, { 'if-missing': 'ignore' }) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Deleting the host failed: .*answered 404 Not Found\. The answer is not in Immuta's JSON error shape/
    );
    expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
  });

  it("a proxy's 404 to the script request is not a host gone with its integration", async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'POST',
      path: SCRIPT,
      status: 404,
      body: '',
      headers: { 'content-type': 'text/html' }
    });
    const run = await runAction({ inputs: stepInputs(immuta, { 'if-missing': 'warn' }) });
    expectNothingDeleted(run);
    expect(run.errors[0]).toMatch(/immuta-url does not look like the Immuta API/);
    expect(trail(immuta)).toEqual([`GET ${CONNECTION}`, `POST ${SCRIPT}`]);
  });
});

describe('a DELETE whose answer was lost is this run’s own deletion', () => {
  it('lost answer, failed lookup, then 404 on the resend: deregistered, under if-missing: error', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'DELETE', path: OBJECT, resetAfterHandling: true });
    immuta.fault({ method: 'GET', path: OBJECT, status: 503 });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(trail(immuta).slice(2)).toEqual([
      `DELETE ${OBJECT}`,
      `GET ${OBJECT}`,
      `DELETE ${OBJECT}`
    ]);
    expect(run.outputs).toMatchObject({
      status: 'deregistered',
      deleted: 'true',
      'child-count': ''
    });
    expect(run.log).toMatch(
      /Immuta says the host is gone after an attempt whose answer was lost: that attempt deleted it/
    );
  });

  it('a gateway 502 after Immuta acted, failed lookup, then 404: deregistered', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'DELETE',
      path: OBJECT,
      afterHandling: true,
      status: 502,
      body: 'Bad Gateway'
    });
    immuta.fault({ method: 'GET', path: OBJECT, reset: true });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ status: 'deregistered', deleted: 'true' });
    expect(run.summary).toContain('yes (child count unknown)');
  });

  it('a 429 says the DELETE was refused, so a 404 after it is a host someone else removed', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'DELETE', path: OBJECT, status: 429, headers: { 'retry-after': '0' } });
    immuta.fault({
      method: 'DELETE',
      path: OBJECT,
      status: 404,
      body: '{"statusCode":404,"error":"Not Found","message":"gone"}'
    });
    const run = await runAction({ inputs: stepInputs(immuta, { 'if-missing': 'warn' }) });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ status: 'already-absent', deleted: 'false' });
    expect(immuta.sent('GET', OBJECT)).toHaveLength(0);
  });

  it('408 is tried again like 504', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'GET', path: CONNECTION, status: 408 });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(immuta.sent('GET', CONNECTION)).toHaveLength(2);
  });
});

describe('bounded reading', () => {
  it('an endless script body: reading stops at the cap, nothing is deleted, memory stays low', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'POST', path: SCRIPT, endless: true });
    const run = await runAction({ inputs: stepInputs(immuta), measureMemory: true });
    expectNothingDeleted(run);
    expect(run.errors[0]).toMatch(
      /The answer is not a cleanup script: it went on past 8 MiB, where the action stops reading/
    );
    expect(immuta.sent('POST', SCRIPT)).toHaveLength(1);
    expect(run.peakRssMiB).toBeLessThan(200);
  });

  it('millions of tiny JSON objects are refused without being parsed', async () => {
    immuta = await startImmutaStandIn();
    const body = `{"script":"x","padding":[${'{},'.repeat(2_500_000)}{}]}`;
    immuta.fault({ method: 'POST', path: SCRIPT, status: 200, body });
    const run = await runAction({ inputs: stepInputs(immuta), measureMemory: true });
    expectNothingDeleted(run);
    expect(run.errors[0]).toMatch(/it looks like JSON but cannot be read as JSON/);
    expect(run.peakRssMiB).toBeLessThan(200);
  });

  it('a script just under the cap, of two-byte characters, is kept whole within the memory bound', async () => {
    immuta = await startImmutaStandIn();
    const script = 'DROP ROLE “ÉTÉ”;\n'.repeat(330_000);
    immuta.state.integrations[1].script = script;
    const run = await runAction({ inputs: stepInputs(immuta), measureMemory: true });
    expect(run.code).toBe(0);
    expect(Buffer.byteLength(JSON.stringify(script))).toBeGreaterThan(7 * 1024 * 1024);
    expect(await fs.readFile(run.outputs['script-path'], 'utf8')).toBe(script);
    expect(run.summary).toContain('Cleanup script (330000 lines)');
    expect(run.peakRssMiB).toBeLessThan(200);
  });

  it('an endless record: stopped at 1 MiB', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'GET',
      path: CONNECTION,
      endless: true,
      headers: { 'content-type': 'application/json' }
    });
    const run = await runAction({ inputs: stepInputs(immuta), measureMemory: true });
    expectNothingDeleted(run);
    expect(run.errors[0]).toMatch(/it went on past 1 MiB/);
    expect(run.peakRssMiB).toBeLessThan(200);
  });

  it('an endless error answer: its first kilobytes are quoted, the rest never read', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'GET', path: CONNECTION, endless: true, status: 500 });
    const run = await runAction({ inputs: stepInputs(immuta), measureMemory: true });
    expectNothingDeleted(run);
    expect(run.errors[0]).toMatch(
      /answered 500 Internal Server Error\. The answer is not in Immuta's JSON error shape \(it came back as content type text\/plain, starting “DROP TABLE T;/
    );
    expect(run.peakRssMiB).toBeLessThan(200);
  });

  it('the timeout covers the body: a body that trickles forever times out', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'GET', path: CONNECTION, trickleMs: 50 });
    const started = Date.now();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'timeout-seconds': '1', 'max-attempts': '1' })
    });
    expectNothingDeleted(run);
    expect(run.errors[0]).toMatch(
      /GET \/data\/connection\/snowflake-prod got no response \(timed out after 1 s\)/
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('secrets never leak through what a server echoes', () => {
  /** No run of 8 or more of the secret's characters is visible anywhere. */
  function expectNoPieceOf(secret: string, text: string) {
    for (let i = 0; i + 8 <= secret.length; i++) expect(text).not.toContain(secret.slice(i, i + 8));
  }

  it.each([
    ['the 120-character quote', 90],
    ['a 200-character quote', 163]
  ])('a key that straddles the cut of %s is cut out whole', async (_cut, padding) => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'GET',
      path: CONNECTION,
      status: 502,
      times: 3,
      body: `<html>${'x'.repeat(padding)} Authorization: ${immuta.apiKey} was refused upstream</html>`,
      headers: { 'content-type': 'text/html' }
    });
    const run = await runAction({ inputs: stepInputs(immuta), env: { RUNNER_DEBUG: '1' } });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/starting “<html>xxxxxxxxxx/);
    expectNoPieceOf(immuta.apiKey, visibleLog(run.log) + run.summary);
  });

  it('a key with a double space is cut out before whitespace is collapsed', async () => {
    const apiKey = 'immuta  key  with  spaces-91c3';
    immuta = await startImmutaStandIn({ apiKey });
    immuta.fault({
      method: 'GET',
      path: CONNECTION,
      status: 400,
      body: JSON.stringify({ message: `Bad key "${apiKey}"` })
    });
    const run = await runAction({ inputs: stepInputs(immuta, { 'api-key': apiKey }) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toContain('Immuta said: Bad key "***"');
    const collapsed = apiKey.replace(/\s+/g, ' ');
    expect(visibleLog(run.log)).not.toContain(collapsed);
    expect(run.summary).not.toContain('key with spaces');
  });

  it("the integration's state quoted in a 409 hint is redacted", async () => {
    immuta = await startImmutaStandIn();
    immuta.state.integrations[1].status = `editing by ${immuta.apiKey}`;
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/The integration is in state 'editing by \*\*\*'/);
    expectNoPieceOf(immuta.apiKey, visibleLog(run.log) + run.summary);
  });

  it("the host's technology and hostname are redacted in the log and the summary", async () => {
    immuta = await startImmutaStandIn({ deleteShape: 'schema' });
    Object.assign(immuta.state.hosts['snowflake-prod'], {
      technology: `Snowflake ${immuta.apiKey}`,
      hostname: `${immuta.apiKey}.snowflakecomputing.com`
    });
    const run = await runAction({ inputs: stepInputs(immuta, { 'dry-run': 'true' }) });
    expect(run.code).toBe(0);
    expect(run.summary).toContain('Snowflake \\*\\*\\*');
    expectNoPieceOf(immuta.apiKey, visibleLog(run.log) + run.summary + JSON.stringify(run.outputs));
  });

  it('a key echoed in the script is kept in the file, as Immuta sent it, but not shown in the summary', async () => {
    immuta = await startImmutaStandIn();
    immuta.state.integrations[1].script = `-- generated for ${immuta.apiKey}\nDROP USER X;\n`;
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(await fs.readFile(run.outputs['script-path'], 'utf8')).toContain(immuta.apiKey);
    expect(run.summary).toContain('-- generated for ***');
    expectNoPieceOf(immuta.apiKey, run.summary);
  });

  it.each([
    ['a control character', 'session\ntoken-1234'],
    ['fewer than 8 characters', 'abc']
  ])(
    'a token from the exchange with %s is refused before it is used or masked',
    async (_what, token) => {
      immuta = await startImmutaStandIn({ token });
      const run = await runAction({ inputs: stepInputs(immuta, { 'auth-method': 'token' }) });
      expect(run.code).toBe(1);
      expect(run.errors[0]).toMatch(
        /^Exchanging the API key for a token failed: .*The token in the answer (contains a control character|is shorter than 8 characters)/
      );
      expect(run.stdout).not.toContain(`::add-mask::${token}`);
      expect(trail(immuta)).toEqual(['POST /bim/apikey/authenticate']);
    }
  );

  it('warns when NODE_TLS_REJECT_UNAUTHORIZED=0 turns certificate checks off', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta),
      env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' }
    });
    expect(run.code).toBe(0);
    expect(run.warnings).toContainEqual(
      expect.stringMatching(/^NODE_TLS_REJECT_UNAUTHORIZED=0 is set .*ca-certificate instead/)
    );
  });
});

describe('local failures are not network failures', () => {
  it('headers past what the client accepts: no retry, and the message names the cause', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'GET',
      path: CONNECTION,
      status: 200,
      body: '{}',
      headers: { 'x-padding': 'p'.repeat(70_000) }
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expectNothingDeleted(run);
    expect(immuta.sent('GET', CONNECTION)).toHaveLength(1);
    expect(run.errors[0]).toMatch(
      /^Looking up the host failed: GET \/data\/connection\/snowflake-prod could not be completed: the answer's headers are larger than the HTTP client accepts.*This is not a network failure, so it was not tried again\./
    );
    expect(run.log).not.toMatch(/trying again/);
  });

  it('an answer that is not HTTP: no retry, and the message says so', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    immuta = await startImmutaStandIn();
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const run = await runAction({ inputs: stepInputs({ url, apiKey: immuta.apiKey }) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /could not be completed: the answer is not valid HTTP \(is immuta-url an HTTP server\?\)/
    );
    expect(run.log).not.toMatch(/trying again/);
  });
});

describe('echoed values cannot pass for runner commands', () => {
  /** Lines the runner reads as plain text (not ::commands::) must hold no `##[` it would parse. */
  function plainLinesWithCommands(log: string): string[] {
    const invisible = /[\p{Cc}\p{Cf}\p{Mn}\p{Me}\p{Default_Ignorable_Code_Point}]/gu;
    return log
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('::'))
      .filter((line) => line.replace(invisible, '').includes('##['));
  }

  it.each([
    ['plain', 'evil##[add-mask]Deregistered'],
    ['with a zero-width space inside', 'evil#\u200b#[stop-commands]x'],
    ['with a combining mark inside', 'evil#\u0301#\u0301[error]pwned']
  ])('a connection key holding a legacy command, %s', async (_how, key) => {
    immuta = await startImmutaStandIn();
    immuta.state.hosts[key] = { ...immuta.state.hosts['snowflake-prod'] };
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': key, 'if-missing': 'ignore' })
    });
    expect(run.code).toBe(0);
    expect(run.log).toMatch(/Deregistered host 'evil/);
    expect(plainLinesWithCommands(run.log)).toEqual([]);
  });

  it('a script-path holding one', async () => {
    immuta = await startImmutaStandIn();
    const dir = await fs.mkdtemp(path.join(scratchDir(), 'cmd-'));
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'script-path': path.join(dir, '##[set-output name=status]x.sql')
      })
    });
    expect(run.code).toBe(0);
    expect(run.log).toMatch(/Saved the cleanup script to .*##\\u\{5b\}set-output/);
    expect(plainLinesWithCommands(run.log)).toEqual([]);
  });
});

describe('the job summary shows server fields and the key as text', () => {
  it('escapes HTML and Markdown in headings and cells', async () => {
    const key = 'prod</summary><img src=x onerror=alert(1)>|# x';
    immuta = await startImmutaStandIn();
    immuta.state.hosts[key] = {
      ...immuta.state.hosts['snowflake-prod'],
      technology: 'Snowflake <script>alert(1)</script>',
      hostname: '[click me](https://evil.example/phish)',
      state: '**active**\n## injected heading'
    };
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': key, 'dry-run': 'true' })
    });
    expect(run.code).toBe(0);
    // Code spans show their text literally; everywhere else nothing may parse as HTML or a link.
    const outsideCode = run.summary.replace(/(`+).*?\1/g, '');
    expect(outsideCode).not.toMatch(/<img|<script|\]\(https:|^## injected/m);
    expect(run.summary).toContain('&lt;script&gt;alert\\(1\\)&lt;/script&gt;');
    expect(run.summary).toContain('\\[click me\\]\\(https\\://evil.example/phish\\)');
    expect(run.summary).toContain(
      '| State in Immuta | \\*\\*active\\*\\* \\#\\# injected heading |'
    );
    // The key is inline code, in the heading as in the table: HTML inside is shown, not rendered.
    expect(run.summary).toContain(
      '## Immuta: Dry run: host `prod</summary><img src=x onerror=alert(1)>\\|# x` was not deleted.'
    );
    const headings = run.summary.split('\n').filter((l) => l.startsWith('#'));
    expect(headings).toEqual([
      expect.stringMatching(/^## Immuta: Dry run/),
      '### Next step',
      '### Who approved: the review history of workflow run 4242'
    ]);
  });
});

describe('the script file', () => {
  it('replaces a file already there atomically, with mode 0600', async () => {
    immuta = await startImmutaStandIn();
    const runnerTemp = await fs.mkdtemp(path.join(scratchDir(), 'temp-'));
    const file = path.join(runnerTemp, 'immuta-cleanup-snowflake-prod.sql');
    await fs.writeFile(file, 'old content', { mode: 0o644 });
    await fs.chmod(file, 0o644);
    const run = await runAction({ inputs: stepInputs(immuta), runnerTemp });
    expect(run.code).toBe(0);
    expect(run.outputs['script-path']).toBe(file);
    expect(await fs.readFile(file, 'utf8')).toBe(snowflakeScript(1));
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fs.readdir(runnerTemp)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('replaces a symlink at the path instead of writing where it points', async () => {
    immuta = await startImmutaStandIn();
    const runnerTemp = await fs.mkdtemp(path.join(scratchDir(), 'temp-'));
    const target = path.join(runnerTemp, 'precious.txt');
    await fs.writeFile(target, 'do not overwrite');
    const file = path.join(runnerTemp, 'immuta-cleanup-snowflake-prod.sql');
    await fs.symlink(target, file);
    const run = await runAction({ inputs: stepInputs(immuta), runnerTemp });
    expect(run.code).toBe(0);
    expect(await fs.readFile(target, 'utf8')).toBe('do not overwrite');
    expect((await fs.lstat(file)).isSymbolicLink()).toBe(false);
    expect(await fs.readFile(file, 'utf8')).toBe(snowflakeScript(1));
  });
});

describe('failure outputs', () => {
  it('a failed delete sets status failed and deleted false, for if: failure() steps', async () => {
    immuta = await startImmutaStandIn({ permissions: { delete: false } });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({
      status: 'failed',
      deleted: 'false',
      'integration-id': '1'
    });
    expect(run.summary).toMatch(/^## Immuta: the step failed/);
    expect(run.summary).toContain('This step did not delete the host.');
  });
});
