// Many hosts in one step, and plan → approve → apply, through dist/index.js.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import {
  defaultState,
  startImmutaStandIn,
  snowflakeScript,
  databricksScript,
  type ImmutaStandIn as StandIn,
  type State
} from '../support/immuta-stand-in.mjs';
import {
  startArtifactService,
  startAzurite,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { runAction, scratchDir } from '../support/run-action.mjs';
import { stepInputs, trail } from '../support/inputs.js';
import { unzip } from '../support/unzip.js';

let immuta: StandIn | undefined;
afterEach(async () => {
  await immuta?.close();
  immuta = undefined;
});

const KEYS = ['snowflake-prod', 'databricks-uc', 'lake-formation'];
const batch = (keys: string[] = KEYS, extra: Record<string, string> = {}) =>
  stepInputs(immuta!, { 'connection-key': keys.join('\n'), ...extra });
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

async function reportOf(run: { outputs: Record<string, string> }) {
  return JSON.parse(await fs.readFile(run.outputs['report-path']!, 'utf8'));
}

describe('a batch', () => {
  it('looks every host up, keeps every script, then deletes every host', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: batch(['# retired hosts', ...KEYS.map((k) => `  ${k}  `), ''])
    });
    expect(run.code).toBe(0);
    const methods = trail(immuta).map((t) => t.split(' ')[0]);
    // Every lookup before any script, every script before any delete.
    expect(methods.lastIndexOf('GET')).toBeLessThan(methods.indexOf('POST'));
    expect(methods.lastIndexOf('POST')).toBeLessThan(methods.indexOf('DELETE'));
    expect(immuta.sent('DELETE')).toHaveLength(3);
    expect(run.outputs).toMatchObject({
      status: 'deregistered',
      deleted: 'true',
      'child-count': String(42 + 7 + 3),
      script: '',
      'integration-id': ''
    });
    const folder = run.outputs['script-path']!;
    expect(await fs.readFile(path.join(folder, 'immuta-cleanup-snowflake-prod.sql'), 'utf8')).toBe(
      snowflakeScript(1)
    );
    expect(await fs.readFile(path.join(folder, 'immuta-cleanup-databricks-uc.sql'), 'utf8')).toBe(
      databricksScript(2)
    );
    const report = await reportOf(run);
    expect(report).toMatchObject({ stage: 'final', tenant: immuta.url, dryRun: false });
    expect(report.hosts).toEqual([
      expect.objectContaining({
        connectionKey: 'snowflake-prod',
        integrationId: 1,
        technology: 'Snowflake',
        hostname: 'acme-prod.snowflakecomputing.com',
        status: 'deregistered',
        deleted: true,
        childCount: 42,
        scriptFile: 'immuta-cleanup-snowflake-prod.sql',
        scriptSha256: sha(snowflakeScript(1)),
        error: null
      }),
      expect.objectContaining({ connectionKey: 'databricks-uc', status: 'deregistered' }),
      expect.objectContaining({
        connectionKey: 'lake-formation',
        scriptFile: null,
        scriptSha256: null
      })
    ]);
    expect(report.hosts[0].timings).toEqual({
      lookupMs: expect.any(Number),
      scriptMs: expect.any(Number),
      deleteMs: expect.any(Number)
    });
    expect(run.summary).toMatch(/^## Immuta: 3 hosts\\: 3 deregistered\./);
    expect(run.summary).toContain(
      '| `databricks-uc` (Databricks, dbc-1234.cloud.databricks.com) | 2 | deregistered | 7 |  |'
    );
    expect(run.summary).toContain('<details><summary>snowflake-prod (7 lines)</summary>');
  });

  it('one failed lookup: nothing is generated or deleted', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({ method: 'GET', path: '/data/connection/databricks-uc', status: 500 });
    const run = await runAction({ inputs: batch() });
    expect(run.code).toBe(1);
    expect(immuta.sent('POST')).toHaveLength(0);
    expect(immuta.sent('DELETE')).toHaveLength(0);
    expect(run.errors.at(-1)).toMatch(
      /^Looking up 'databricks-uc' failed: nothing was deleted\. 'databricks-uc': Looking up the host failed: GET \/data\/connection\/databricks-uc answered 500/
    );
    expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
    expect((await reportOf(run)).hosts.map((h: { status: string }) => h.status)).toEqual([
      'not-started',
      'failed',
      'not-started'
    ]);
  });

  it.each([
    ['error', 1, 0, 'failed'],
    // Every host is gone and none failed: the batch is deregistered (its counts say how).
    ['warn', 0, 2, 'deregistered'],
    ['ignore', 0, 2, 'deregistered']
  ])('a missing host under if-missing: %s', async (ifMissing, code, deletes, status) => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: batch(['snowflake-prod', 'retired', 'databricks-uc'], { 'if-missing': ifMissing })
    });
    expect(run.code).toBe(code);
    expect(immuta.sent('DELETE')).toHaveLength(deletes);
    expect(run.outputs.status).toBe(status);
    if (ifMissing === 'error') {
      expect(immuta.sent('POST')).toHaveLength(0);
      expect(run.errors.at(-1)).toMatch(
        /Immuta has no host 'retired' \(if-missing: error; set if-missing: warn or ignore/
      );
    } else {
      expect((await reportOf(run)).hosts[1]).toMatchObject({
        connectionKey: 'retired',
        status: 'already-absent',
        deleted: false
      });
      expect(run.warnings.some((w) => w.includes("Immuta has no host 'retired'"))).toBe(
        ifMissing === 'warn'
      );
    }
  });

  it.each([
    ['true', 1],
    ['false', 2]
  ])('a failed delete with fail-fast: %s', async (failFast, otherDeletes) => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'DELETE',
      path: '/data/object/snowflake-prod',
      status: 500,
      body: '{"message":"database busy"}'
    });
    const run = await runAction({
      inputs: batch(KEYS, { 'fail-fast': failFast, 'max-parallel': '1' })
    });
    expect(run.code).toBe(1);
    expect(immuta.sent('DELETE')).toHaveLength(otherDeletes === 1 ? 1 : 3);
    const report = await reportOf(run);
    expect(report.hosts[0]).toMatchObject({
      status: 'failed',
      deleted: false,
      error: expect.stringMatching(/database busy/)
    });
    if (failFast === 'true') {
      expect(report.hosts.slice(1).map((h: { status: string }) => h.status)).toEqual([
        'not-started',
        'not-started'
      ]);
      expect(run.errors.at(-1)).toMatch(
        /^1 of 3 hosts failed\. 'snowflake-prod': Deleting the host failed.* 2 not started \(fail-fast\)\./
      );
      expect(run.outputs.status).toBe('failed');
    } else {
      expect(report.hosts.slice(1).map((h: { status: string }) => h.status)).toEqual([
        'deregistered',
        'deregistered'
      ]);
      // This step deleted hosts: deleted says so, and the counts say how many.
      expect(run.outputs).toMatchObject({
        status: 'partial',
        deleted: 'true',
        'deleted-count': '2',
        'failed-count': '1'
      });
    }
  });

  it('a storm of 429s in the middle of the deletes: every worker waits, every host is deleted', async () => {
    const state = manyHosts(12);
    immuta = await startImmutaStandIn({ state });
    immuta.fault({
      method: 'DELETE',
      path: /^\/data\/object\/host-\d$/,
      status: 429,
      times: 4,
      headers: { 'retry-after': '1' }
    });
    const run = await runAction({
      inputs: batch(Object.keys(state.hosts), { 'max-parallel': '4' })
    });
    expect(run.code).toBe(0);
    expect(immuta.sent('DELETE')).toHaveLength(12 + 4);
    expect(Object.keys(immuta.state.hosts)).toEqual([]);
    const first = immuta.requests.find((r) => r.method === 'DELETE')!.at;
    // The first 429 paused them all: the deletes after it wait out its second.
    const early = immuta.requests.filter((r) => r.at > first + 50 && r.at < first + 900);
    expect(early).toEqual([]);
  });

  it('a 429 pauses every worker until its Retry-After has passed', async () => {
    const state = manyHosts(8);
    immuta = await startImmutaStandIn({ state });
    immuta.fault({
      method: 'GET',
      path: '/data/connection/host-3',
      status: 429,
      headers: { 'retry-after': '2' }
    });
    const run = await runAction({
      inputs: batch(Object.keys(state.hosts), { 'max-parallel': '4' })
    });
    expect(run.code).toBe(0);
    const limited = immuta.requests.find((r) => r.path === '/data/connection/host-3')!;
    // A request another worker sent before the 429 reached the client may still arrive a moment
    // later on a busy machine; none may start from then until the two seconds are over.
    const during = immuta.requests.filter(
      (r) => r.at > limited.at + 400 && r.at < limited.at + 1900
    );
    expect(during).toEqual([]);
    expect(immuta.sent('DELETE')).toHaveLength(8);
  });

  it('refuses integration-id, run-script and repeated or empty host lists, sending nothing', async () => {
    immuta = await startImmutaStandIn();
    for (const [inputs, message] of [
      [batch(KEYS, { 'integration-id': '1' }), /Input 'integration-id' is for one host/],
      [batch(KEYS, { 'run-script': 'snowflake' }), /Input 'run-script' runs one host's script/],
      [batch(['a', 'b', 'a']), /Input 'connection-key' names host 'a' twice/],
      [stepInputs(immuta, { 'connection-key': '# nothing here\n\n' }), /names no host/]
    ] as const) {
      const run = await runAction({ inputs });
      expect(run.code).toBe(1);
      expect(run.errors[0]).toMatch(message);
    }
    expect(immuta.requests).toEqual([]);
  });

  it('finishes 500 hosts at 50 ms a request in bounded memory, its summary under 1 MiB', async () => {
    const state = manyHosts(
      500,
      (n) => `-- cleanup for host ${n}\n${'DROP ROLE IF EXISTS R;\n'.repeat(200)}`
    );
    immuta = await startImmutaStandIn({ state, latencyMs: 50 });
    const run = await runAction({
      inputs: batch(Object.keys(state.hosts), { 'max-parallel': '16' }),
      measureMemory: true
    });
    expect(run.code).toBe(0);
    expect(Buffer.byteLength(run.summary)).toBeLessThan(1024 * 1024);
    expect(run.summary).toMatch(
      /more scripts are not shown here, to keep the summary under GitHub's limit/
    );
    expect(run.summary).toContain('| `host-499` (Snowflake, acme-prod.snowflakecomputing.com) |');
    expect((await reportOf(run)).hosts).toHaveLength(500);
    expect(immuta.sent('DELETE')).toHaveLength(500);
    expect(run.peakRssMiB).toBeLessThan(200);
  }, 120_000);
});

describe('one host', () => {
  it('writes its report too, and a dry run its plan, both beside the script', async () => {
    immuta = await startImmutaStandIn();
    const dry = await runAction({ inputs: stepInputs(immuta, { 'dry-run': 'true' }) });
    expect(dry.code).toBe(0);
    expect(dry.outputs['plan-path']).toBe(
      dry.outputs['script-path']!.replace(/\.sql$/, '.plan.json')
    );
    const plan = JSON.parse(await fs.readFile(dry.outputs['plan-path']!, 'utf8'));
    expect(plan.hosts).toEqual([
      expect.objectContaining({ connectionKey: 'snowflake-prod', sha256: sha(snowflakeScript(1)) })
    ]);

    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(run.outputs['plan-path']).toBeUndefined();
    const report = await reportOf(run);
    expect(report).toMatchObject({ stage: 'final', dryRun: false });
    expect(report.hosts).toEqual([
      expect.objectContaining({
        connectionKey: 'snowflake-prod',
        status: 'deregistered',
        deleted: true,
        childCount: 42,
        scriptFile: 'immuta-cleanup-snowflake-prod.sql',
        scriptSha256: sha(snowflakeScript(1))
      })
    ]);
  });

  it('a failed run writes its report with the error', async () => {
    immuta = await startImmutaStandIn({ permissions: { delete: false } });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    const report = await reportOf(run);
    expect(report.hosts[0]).toMatchObject({
      status: 'failed',
      deleted: false,
      error: expect.stringMatching(/403 Forbidden/)
    });
  });
});

describe('the batch artifact', () => {
  let azurite: Azurite;
  beforeAll(async () => (azurite = await startAzurite()), 60_000);
  afterAll(async () => azurite?.stop());

  it('holds every script and the report as it stood before the deletes', async () => {
    immuta = await startImmutaStandIn();
    const service = await startArtifactService({ azurite });
    try {
      const run = await runAction({
        inputs: batch(KEYS, { 'upload-artifact': 'true' }),
        env: service.env()
      });
      expect(run.code).toBe(0);
      const files = unzip((await service.zipOf(run.outputs['artifact-name']!))!);
      expect([...files.keys()].sort()).toEqual([
        'immuta-cleanup-databricks-uc.sql',
        'immuta-cleanup-snowflake-prod.sql',
        'report.json'
      ]);
      expect(files.get('immuta-cleanup-snowflake-prod.sql')!.toString()).toBe(snowflakeScript(1));
      const report = JSON.parse(files.get('report.json')!.toString());
      expect(report.stage).toBe('before-delete');
      expect(report.hosts.map((h: { status: string }) => h.status)).toEqual([
        'kept',
        'kept',
        'kept'
      ]);
      expect(run.outputs['artifact-name']).toMatch(/^immuta-cleanup-scripts-[0-9a-f]{12}$/);
    } finally {
      await service.close();
    }
  });

  it('a re-run after some deletes failed keeps the earlier artifact, which holds every script', async () => {
    immuta = await startImmutaStandIn();
    const service = await startArtifactService({ azurite });
    try {
      immuta.fault({ method: 'DELETE', path: '/data/object/databricks-uc', status: 500 });
      const inputs = batch(KEYS, {
        'upload-artifact': 'true',
        'fail-fast': 'false',
        'if-missing': 'warn'
      });
      const first = await runAction({ inputs, env: service.env() });
      expect(first.code).toBe(1);
      const second = await runAction({
        inputs,
        env: { ...service.env(), GITHUB_RUN_ATTEMPT: '2' }
      });
      expect(second.code).toBe(0);
      // Every host is gone, none failed: deregistered, though attempt 1 deleted two of them.
      expect(second.outputs.status).toBe('deregistered');
      expect(immuta.state.hosts['databricks-uc']).toBeUndefined();
      expect(second.outputs['artifact-id']).toBe(first.outputs['artifact-id']);
      expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
      const files = unzip((await service.zipOf(first.outputs['artifact-name']!))!);
      expect(files.get('immuta-cleanup-snowflake-prod.sql')!.toString()).toBe(snowflakeScript(1));
      expect(files.get('immuta-cleanup-databricks-uc.sql')!.toString()).toBe(databricksScript(2));
    } finally {
      await service.close();
    }
  });
});

describe('plan → approve → apply', () => {
  async function planned(keys = KEYS) {
    const run = await runAction({ inputs: batch(keys, { 'dry-run': 'true' }) });
    expect(run.code).toBe(0);
    expect(immuta!.sent('DELETE')).toHaveLength(0);
    return run.outputs['plan-path']!;
  }
  const apply = (planPath: string, extra: Record<string, string> = {}) =>
    runAction({
      inputs: stepInputs(immuta!, { 'connection-key': '', plan: planPath, ...extra })
    });

  it('a dry run writes the plan: tenant, hosts, scripts and their hashes, no secret', async () => {
    immuta = await startImmutaStandIn();
    const planPath = await planned();
    const text = await fs.readFile(planPath, 'utf8');
    expect(text).not.toContain(immuta.apiKey);
    const plan = JSON.parse(text);
    expect(plan).toMatchObject({
      kind: 'immuta-deregister-host/plan',
      version: 1,
      tenant: immuta.url
    });
    expect(plan.hosts[0]).toEqual({
      connectionKey: 'snowflake-prod',
      integrationId: 1,
      technology: 'Snowflake',
      hostname: 'acme-prod.snowflakecomputing.com',
      script: snowflakeScript(1),
      sha256: sha(snowflakeScript(1))
    });
  });

  it('applies an unchanged plan', async () => {
    immuta = await startImmutaStandIn();
    const planPath = await planned();
    const run = await apply(planPath);
    expect(run.code).toBe(0);
    expect(immuta.sent('DELETE')).toHaveLength(3);
    expect(run.outputs.status).toBe('deregistered');
  });

  it('applies a one-host plan, and one that names its hosts again', async () => {
    immuta = await startImmutaStandIn();
    const planPath = await planned(['snowflake-prod']);
    const run = await apply(planPath, { 'connection-key': 'snowflake-prod' });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({
      status: 'deregistered',
      'integration-id': '1',
      script: snowflakeScript(1)
    });
  });

  it.each([
    [
      'a changed script',
      (s: State) => (s.integrations[2]!.script += 'DROP SCHEMA extra;\n'),
      /Host 'databricks-uc': its cleanup script changed/
    ],
    [
      'a changed integration',
      (s: State) => (s.hosts['databricks-uc']!.nativeIntegrationId = 1),
      /Host 'databricks-uc': its integration was 2 and is now 1/
    ]
  ])('refuses the plan after %s: nothing at all is deleted', async (_what, change, message) => {
    immuta = await startImmutaStandIn();
    const planPath = await planned();
    change(immuta.state);
    const run = await apply(planPath, { 'if-missing': 'warn' });
    expect(run.code).toBe(1);
    expect(immuta.sent('DELETE')).toHaveLength(0);
    expect(run.errors.at(-1)).toMatch(
      /^The plan does not match what Immuta holds now: nothing was deleted\./
    );
    expect(run.errors.at(-1)).toMatch(message);
    expect(run.summary).toContain('Not as planned, so nothing was deleted:');
    expect(run.warnings.some((w) => message.test(w))).toBe(true);
  });

  it('refuses a plan made for another tenant, before any request', async () => {
    immuta = await startImmutaStandIn();
    const planPath = await planned();
    const sent = immuta.requests.length;
    const other = await startImmutaStandIn();
    try {
      const run = await runAction({
        inputs: stepInputs(other, { 'connection-key': '', plan: planPath })
      });
      expect(run.code).toBe(1);
      expect(run.errors.at(-1)).toMatch(
        /The tenant: the plan was made for http:\/\/127\.0\.0\.1:\d+, but immuta-url is http:\/\/127\.0\.0\.1:\d+\./
      );
      expect(other.requests).toEqual([]);
      expect(immuta.requests).toHaveLength(sent);
    } finally {
      await other.close();
    }
  });

  it.each([
    [
      'tampered',
      (p: string) => p.replace('DROP DATABASE', 'DROP DATABASES'),
      /does not match its sha256: it was edited/
    ],
    ['truncated', (p: string) => p.slice(0, p.length / 2), /is not JSON \(is it cut short\?\)/],
    [
      'foreign',
      () => JSON.stringify({ hosts: [{ connectionKey: 'x' }] }),
      /is not a plan of this action/
    ]
  ])('a %s plan file is bad input, and no request is sent', async (_what, spoil, message) => {
    immuta = await startImmutaStandIn();
    const planPath = await planned();
    const spoiled = path.join(await fs.mkdtemp(path.join(scratchDir(), 'plan-')), 'plan.json');
    await fs.writeFile(spoiled, spoil(await fs.readFile(planPath, 'utf8')));
    const sent = immuta.requests.length;
    const run = await apply(spoiled);
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/^Input 'plan' /);
    expect(run.errors[0]).toMatch(message);
    expect(immuta.requests).toHaveLength(sent);
  });

  it('refuses connection-key naming other hosts than the plan', async () => {
    immuta = await startImmutaStandIn();
    const planPath = await planned();
    const run = await apply(planPath, { 'connection-key': 'snowflake-prod' });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/Input 'connection-key' names other hosts than the plan/);
  });
});

/** A state of n Snowflake hosts, host-0 … host-(n-1), each with its own integration. */
function manyHosts(
  n: number,
  script = (i: number) => `-- cleanup for host ${i}\nDROP ROLE R${i};\n`
): State {
  const state: State = { hosts: {}, integrations: {} };
  const base = defaultState().hosts['snowflake-prod']!;
  for (let i = 0; i < n; i++) {
    state.hosts[`host-${i}`] = { ...base, nativeIntegrationId: 100 + i, childCount: 1 };
    state.integrations[100 + i] = { status: 'enabled', type: 'Snowflake', script: script(i) };
  }
  return state;
}
