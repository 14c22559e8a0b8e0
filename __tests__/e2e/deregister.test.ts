import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import {
  startImmutaStandIn,
  snowflakeScript,
  type ImmutaStandIn as StandIn
} from '../support/immuta-stand-in.mjs';
import { runAction, scratchDir } from '../support/run-action.mjs';
import { stepInputs, trail } from '../support/inputs.js';

let immuta: StandIn;
afterEach(async () => immuta?.close());

describe('deregistering a host', () => {
  it('looks up the integration, keeps the script, then deletes, in that order', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta) });

    expect(run.code).toBe(0);
    expect(trail(immuta)).toEqual([
      'GET /data/connection/snowflake-prod',
      'POST /integrations/1/scripts/delete',
      'DELETE /data/object/snowflake-prod'
    ]);
    // A versioned User-Agent on every request, as on the warehouse and artifact calls.
    for (const request of immuta.requests) {
      expect(request.headers['user-agent']).toMatch(/^immuta-deregister-host\/\d+\.\d+\.\d+$/);
    }
    expect(run.outputs).toMatchObject({
      'integration-id': '1',
      script: snowflakeScript(1),
      deleted: 'true',
      'child-count': '42',
      status: 'deregistered'
    });
    expect(await fs.readFile(run.outputs['script-path'], 'utf8')).toBe(snowflakeScript(1));
    expect(run.outputs['script-path']).toBe(`${run.runnerTemp}/immuta-cleanup-snowflake-prod.sql`);
    expect(run.log).toContain("Deregistered host 'snowflake-prod' and its 42 child objects.");
    expect(run.summary).toContain('| Deleted | yes, with 42 child objects |');
    expect(run.summary).toContain('DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT;');
    expect(run.summary).toMatch(/Run the cleanup script .* in Snowflake/);
    expect(immuta.state.hosts['snowflake-prod']).toBeUndefined();
  });

  it('accepts a given integration-id that matches the host', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'integration-id': '1' }) });
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe('deregistered');
    expect(immuta.sent('POST', '/integrations/1/scripts/delete')).toHaveLength(1);
  });

  it('stops before any POST or DELETE when integration-id does not match the host', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'integration-id': '2' }) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /integration-id 2 does not match host 'snowflake-prod'.*nativeIntegrationId\) is 1/
    );
    expect(trail(immuta)).toEqual(['GET /data/connection/snowflake-prod']);
    expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
  });

  it('exchanges the key for a token and sends it as Bearer with auth-method: token', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'auth-method': 'token' }) });
    expect(run.code).toBe(0);
    const [auth, ...rest] = immuta.requests;
    expect(`${auth.method} ${auth.path}`).toBe('POST /bim/apikey/authenticate');
    expect(JSON.parse(auth.body)).toEqual({ apikey: immuta.apiKey });
    expect(auth.headers.authorization).toBeUndefined();
    expect(rest.map((r) => r.headers.authorization)).toEqual(
      Array(3).fill(`Bearer ${immuta.token}`)
    );
    expect(run.stdout).toContain(`::add-mask::${immuta.token}`);
  });

  it('sends the raw key as Authorization with the default auth-method', async () => {
    immuta = await startImmutaStandIn();
    await runAction({ inputs: stepInputs(immuta) });
    expect(immuta.requests.map((r) => r.headers.authorization)).toEqual(
      Array(3).fill(immuta.apiKey)
    );
  });

  it('dry run keeps the script and describes the host but sends no DELETE', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'dry-run': 'true' }) });
    expect(run.code).toBe(0);
    expect(immuta.sent('DELETE')).toHaveLength(0);
    expect(trail(immuta)).toEqual([
      'GET /data/connection/snowflake-prod',
      'POST /integrations/1/scripts/delete',
      'GET /data/object/snowflake-prod'
    ]);
    expect(run.outputs).toMatchObject({ status: 'dry-run', deleted: 'false', 'child-count': '' });
    expect(await fs.readFile(run.outputs['script-path'], 'utf8')).toBe(snowflakeScript(1));
    expect(run.summary).toContain('| State in Immuta | active |');
    expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
  });

  it('goes straight to the delete for an AWS Lake Formation host, which has no script', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': 'lake-formation' })
    });
    expect(run.code).toBe(0);
    expect(trail(immuta)).toEqual([
      'GET /data/connection/lake-formation',
      'DELETE /data/object/lake-formation'
    ]);
    expect(run.log).toMatch(/AWS Lake Formation host: Immuta makes no cleanup script/);
    expect(run.outputs['script-path']).toBeUndefined();
    expect(run.outputs).toMatchObject({ status: 'deregistered', 'child-count': '3' });
  });

  it('tells a Databricks user to run the script in Databricks', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': 'databricks-uc' })
    });
    expect(run.code).toBe(0);
    expect(run.outputs['integration-id']).toBe('2');
    expect(run.summary).toMatch(/in Databricks as a metastore admin/);
  });

  it('sends a key with special characters as one encoded path segment', async () => {
    const key = 'acme/prod db?#%..';
    immuta = await startImmutaStandIn();
    immuta.state.hosts[key] = { ...immuta.state.hosts['snowflake-prod'], childCount: 1 };
    const run = await runAction({ inputs: stepInputs(immuta, { 'connection-key': key }) });
    expect(run.code).toBe(0);
    const encoded = encodeURIComponent(key);
    expect(trail(immuta)).toEqual([
      `GET /data/connection/${encoded}`,
      'POST /integrations/1/scripts/delete',
      `DELETE /data/object/${encoded}`
    ]);
    expect(run.outputs['script-path']).toMatch(
      /immuta-cleanup-acme%2Fprod%20db%3F%23%25\.\.\.sql$/
    );
    expect(run.outputs['child-count']).toBe('1');
  });

  it('keeps the path prefix of immuta-url, trailing slash and all', async () => {
    immuta = await startImmutaStandIn({ prefix: '/immuta' });
    const run = await runAction({ inputs: stepInputs(immuta, { 'immuta-url': `${immuta.url}/` }) });
    expect(run.code).toBe(0);
    expect(immuta.requests.map((r) => r.rawPath)).toEqual([
      '/immuta/data/connection/snowflake-prod',
      '/immuta/integrations/1/scripts/delete',
      '/immuta/data/object/snowflake-prod'
    ]);
  });

  it('writes the script where script-path says, making folders as needed', async () => {
    immuta = await startImmutaStandIn();
    const target = `${await fs.mkdtemp(`${scratchDir()}/script-path-`)}/a/b/cleanup.sql`;
    const run = await runAction({ inputs: stepInputs(immuta, { 'script-path': target }) });
    expect(run.code).toBe(0);
    expect(run.outputs['script-path']).toBe(target);
    expect(await fs.readFile(target, 'utf8')).toBe(snowflakeScript(1));
  });
});

describe('reading the responses Immuta documents', () => {
  it.each(['json-string', 'json-object', 'sql-field', 'text'] as const)(
    'reads the script answered as %s',
    async (scriptShape) => {
      immuta = await startImmutaStandIn({ scriptShape });
      const run = await runAction({ inputs: stepInputs(immuta) });
      expect(run.code).toBe(0);
      expect(run.outputs.script).toBe(snowflakeScript(1));
    }
  );

  it.each([
    ['schema', '42'],
    ['object-path', '42'],
    ['docs-example', '42']
  ] as const)('reads childCount from the %s DELETE body', async (deleteShape, count) => {
    immuta = await startImmutaStandIn({ deleteShape });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(run.outputs['child-count']).toBe(count);
  });

  it('counts a 2xx DELETE with an unreadable body as deleted, count unknown, with a warning', async () => {
    immuta = await startImmutaStandIn({ deleteShape: 'unreadable' });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({
      deleted: 'true',
      'child-count': '',
      status: 'deregistered'
    });
    expect(run.warnings.join('\n')).toMatch(
      /was not its usual answer .*a lookup shows the host is gone: it was deleted\. child-count is empty/
    );
  });

  it('fails on a script body it cannot read, showing the body, and deletes nothing', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'POST',
      path: '/integrations/1/scripts/delete',
      status: 200,
      body: '{"ok":true}'
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /Getting the cleanup script failed: POST \/integrations\/1\/scripts\/delete answered 200.*\{"ok":true\}/
    );
    expect(immuta.sent('DELETE')).toHaveLength(0);
  });

  it('keeps a 2 MB script in the file and leaves it out of the output, with a warning', async () => {
    immuta = await startImmutaStandIn();
    const line = 'DROP ROLE IF EXISTS IMMUTA_ROLE_0000000000000000000000000000000000000000000;\n';
    const big = line.repeat(Math.ceil((2 * 1024 * 1024) / line.length));
    immuta.state.integrations[1].script = big;
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(run.outputs.script).toBeUndefined();
    expect(run.warnings.join('\n')).toMatch(/over GitHub's 1 MB limit for a step output/);
    expect(await fs.readFile(run.outputs['script-path'], 'utf8')).toBe(big);
    expect(run.summary).toMatch(/truncated: \d+ more characters are in the file and the artifact/);
    expect(run.summary.length).toBeLessThan(100_000);
    expect(run.outputs.status).toBe('deregistered');
  });
});
