// A wrong immuta-url is not an absent host: a tenant answers its JSON 404 for any route it does
// not know, so a 404 counts as "absent" only once the URL has answered as Immuta's API does.
import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import { startImmutaStandIn, type ImmutaStandIn as StandIn } from '../support/immuta-stand-in.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs, trail } from '../support/inputs.js';

let immuta: StandIn | undefined;
afterEach(async () => {
  await immuta?.close();
  immuta = undefined;
});

/** The stand-in's URL with an extra path, as a user who copied Immuta's /api docs might give. */
const withApi = (standIn: StandIn) => ({ url: `${standIn.url}/api`, apiKey: standIn.apiKey });

describe('immuta-url with an extra path, on a tenant that answers JSON 404s for unknown routes', () => {
  it.each(['error', 'warn', 'ignore'])(
    'fails under if-missing: %s, shows the URL, and deletes nothing',
    async (ifMissing) => {
      immuta = await startImmutaStandIn();
      const url = `${immuta.url}/api`;
      const run = await runAction({
        inputs: stepInputs(withApi(immuta), { 'if-missing': ifMissing })
      });

      expect(run.code).toBe(1);
      expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
      expect(run.errors.at(-1)).toContain(`immuta-url (${url}) is likely wrong`);
      expect(run.errors.at(-1)).toMatch(/GET \/api\/integrations\b.* answered 404 Not Found/);
      expect(run.errors.at(-1)).toContain('no extra path (such as /api)');
      expect(run.errors.at(-1)).not.toMatch(/already absent|set if-missing/);
      // One extra request, then nothing: no script asked for, nothing deleted.
      expect(immuta.requests.map((r) => `${r.method} ${r.rawPath}`)).toEqual([
        'GET /api/data/connection/snowflake-prod',
        'GET /api/integrations'
      ]);
      expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
    }
  );

  it('fails when the path misses the prefix of a tenant that answers JSON 404s there too', async () => {
    immuta = await startImmutaStandIn({ prefix: '/immuta', missedPrefix: 'immuta' });
    const wrong = immuta.url.replace(/\/immuta$/, '/wrong');
    const run = await runAction({
      inputs: stepInputs({ url: wrong, apiKey: immuta.apiKey }, { 'if-missing': 'warn' })
    });

    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toContain(`immuta-url (${wrong}) is likely wrong`);
    expect(immuta.sent('DELETE')).toHaveLength(0);
    expect(run.outputs.status).toBe('failed');
  });

  it.each([
    ['a 200 HTML page', '<html><body>Welcome</body></html>', 'text/html', /HTML|<html>/],
    [
      'a 200 JSON object',
      JSON.stringify({ id: 1, status: 'enabled' }),
      'application/json',
      /not with a JSON list of integrations/
    ],
    [
      'an Immuta-shaped 404',
      JSON.stringify({ statusCode: 404, error: 'Not Found', message: 'Not Found' }),
      'application/json',
      /answered 404/
    ]
  ])(
    'a check answered with %s proves nothing: the missing host fails the step under if-missing: warn',
    async (_what, body, type, said) => {
      immuta = await startImmutaStandIn();
      immuta.fault({
        method: 'GET',
        path: '/integrations',
        status: _what.includes('404') ? 404 : 200,
        body,
        headers: { 'content-type': type }
      });
      const run = await runAction({
        inputs: stepInputs(immuta, { 'connection-key': 'retired', 'if-missing': 'warn' })
      });

      expect(run.code).toBe(1);
      expect(run.outputs.status).toBe('failed');
      expect(run.errors.at(-1)).toContain(`immuta-url (${immuta.url}) is likely wrong`);
      expect(run.errors.at(-1)).toMatch(said);
    }
  );
});

describe('a connection key Immuta does not have, at the right URL', () => {
  it('says the key may be misspelt, after one check that the URL is Immuta', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': 'snowflake-prdo' })
    });

    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      /Immuta has no host 'snowflake-prdo' \(immuta-url answers as Immuta does, so the URL is not the cause\)\. If the key is misspelt, correct it/
    );
    expect(trail(immuta)).toEqual(['GET /data/connection/snowflake-prdo', 'GET /integrations']);
  });

  it('is already absent under if-missing: warn, with the same hint in the warning', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': 'retired', 'if-missing': 'warn' })
    });

    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ status: 'already-absent', deleted: 'false' });
    expect(run.warnings.join('\n')).toContain('If the key is misspelt, correct it');
  });

  it('sends no check when the host is there', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(immuta.sent('GET', '/integrations')).toHaveLength(0);
  });
});

describe('a batch', () => {
  const KEYS = ['snowflake-prod', 'databricks-uc', 'lake-formation'];

  it('with an extra path in immuta-url: one check for the whole run, then nothing deleted', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(withApi(immuta), {
        'connection-key': KEYS.join('\n'),
        'if-missing': 'warn'
      })
    });

    expect(run.code).toBe(1);
    expect(immuta.sent('GET', /^\/api\/integrations$/)).toHaveLength(1);
    expect(immuta.sent('POST')).toHaveLength(0);
    expect(immuta.sent('DELETE')).toHaveLength(0);
    expect(run.outputs.status).toBe('failed');
    const report = JSON.parse(await fs.readFile(run.outputs['report-path']!, 'utf8'));
    for (const [i, key] of KEYS.entries()) {
      expect(report.hosts[i]).toMatchObject({ connectionKey: key, status: 'failed' });
      expect(report.hosts[i].error).toContain(`GET /api/data/connection/${key}`);
      expect(report.hosts[i].error).toContain(`immuta-url (${immuta.url}/api) is likely wrong`);
    }
    for (const key of KEYS) expect(immuta.state.hosts[key]).toBeDefined();
  });

  it('with several hosts missing at the right URL: one check, and they count as absent', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'connection-key': ['retired-1', 'retired-2', 'retired-3'].join('\n'),
        'if-missing': 'warn'
      })
    });

    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe('already-absent');
    expect(immuta.sent('GET', '/integrations')).toHaveLength(1);
    expect(run.warnings.filter((w) => w.includes('If the key is misspelt'))).toHaveLength(3);
  });

  it('a missing host beside present ones: at most one check, the others deleted', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'connection-key': ['retired', ...KEYS].join('\n'),
        'if-missing': 'warn'
      })
    });

    expect(run.code).toBe(0);
    expect(immuta.sent('GET', '/integrations').length).toBeLessThanOrEqual(1);
    expect(immuta.sent('DELETE')).toHaveLength(3);
    // Every host is gone and none failed (one was already absent): deregistered.
    expect(run.outputs).toMatchObject({ status: 'deregistered', 'absent-count': '1' });
  });
});
