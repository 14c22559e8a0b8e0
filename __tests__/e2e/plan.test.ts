// Plan → approve → apply as the example workflow runs it: a plan job, an apply job that downloads
// the plan job's artifact, and re-runs of either, through dist/index.js.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  startImmutaStandIn,
  snowflakeScript,
  type ImmutaStandIn as StandIn
} from '../support/immuta-stand-in.mjs';
import {
  startArtifactService,
  startAzurite,
  RUN_BACKEND_ID,
  type ArtifactService,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { runAction, scratchDir } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';
import { unzip } from '../support/unzip.js';

let immuta: StandIn | undefined;
afterEach(async () => {
  await immuta?.close();
  immuta = undefined;
});

const KEYS = ['snowflake-prod', 'databricks-uc', 'lake-formation'];
const sha = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');
const statuses = (report: { hosts: { status: string }[] }) => report.hosts.map((h) => h.status);

async function reportOf(run: { outputs: Record<string, string> }) {
  return JSON.parse(await fs.readFile(run.outputs['report-path']!, 'utf8'));
}

async function dryRun(keys = KEYS, extra: Record<string, string> = {}, env = {}) {
  const run = await runAction({
    inputs: stepInputs(immuta!, { 'connection-key': keys.join('\n'), 'dry-run': 'true', ...extra }),
    env
  });
  expect(run.code).toBe(0);
  return run;
}

const apply = (plan: string, extra: Record<string, string> = {}, env = {}) =>
  runAction({
    inputs: stepInputs(immuta!, { 'connection-key': '', plan, ...extra }),
    env
  });

/** A copy of a plan file with `edit` applied to its text, as a user or an editor would save it. */
async function edited(planPath: string, edit: (text: string) => string): Promise<string> {
  const file = path.join(await fs.mkdtemp(path.join(scratchDir(), 'plan-')), 'plan.json');
  await fs.writeFile(file, edit(await fs.readFile(planPath, 'utf8')));
  return file;
}

describe('re-applying a plan converges', () => {
  it.each([
    ['warn', true],
    ['ignore', false]
  ])(
    'after a full apply, under if-missing: %s every host counts as already absent',
    async (ifMissing, warns) => {
      immuta = await startImmutaStandIn();
      const planPath = (await dryRun()).outputs['plan-path']!;
      expect((await apply(planPath)).code).toBe(0);
      const again = await apply(planPath, { 'if-missing': ifMissing });
      expect(again.code).toBe(0);
      expect(again.outputs.status).toBe('already-absent');
      expect(immuta.sent('DELETE')).toHaveLength(3);
      expect(statuses(await reportOf(again))).toEqual([
        'already-absent',
        'already-absent',
        'already-absent'
      ]);
      expect(again.warnings.some((w) => /Host 'databricks-uc' of the plan is gone/.test(w))).toBe(
        warns
      );
    }
  );

  it('after a full apply, under if-missing: error the refusal says to re-run with warn', async () => {
    immuta = await startImmutaStandIn();
    const planPath = (await dryRun()).outputs['plan-path']!;
    expect((await apply(planPath)).code).toBe(0);
    const again = await apply(planPath);
    expect(again.code).toBe(1);
    expect(again.errors.at(-1)).toMatch(
      /^Hosts 'snowflake-prod', 'databricks-uc', 'lake-formation' of the plan are gone from Immuta .*Re-run with if-missing: warn/
    );
    expect(immuta.sent('DELETE')).toHaveLength(3);
  });

  it('after a partial apply (one DELETE refused), the re-apply deletes the host left', async () => {
    immuta = await startImmutaStandIn();
    const planPath = (await dryRun()).outputs['plan-path']!;
    immuta.fault({ method: 'DELETE', path: '/data/object/databricks-uc', status: 500 });
    const first = await apply(planPath, { 'fail-fast': 'false', 'if-missing': 'warn' });
    expect(first.code).toBe(1);
    expect(Object.keys(immuta.state.hosts)).toEqual(['databricks-uc']);

    const again = await apply(planPath, { 'if-missing': 'warn' });
    expect(again.code).toBe(0);
    expect(immuta.state.hosts).toEqual({});
    expect(statuses(await reportOf(again))).toEqual([
      'already-absent',
      'deregistered',
      'already-absent'
    ]);
  });

  it('a host gone beside a host whose script drifted: refused for the drift alone', async () => {
    immuta = await startImmutaStandIn();
    const planPath = (await dryRun()).outputs['plan-path']!;
    delete immuta.state.hosts['lake-formation'];
    immuta.state.integrations[2]!.script += 'DROP SCHEMA extra;\n';
    const run = await apply(planPath, { 'if-missing': 'warn' });
    expect(run.code).toBe(1);
    expect(immuta.sent('DELETE')).toHaveLength(0);
    expect(run.errors.at(-1)).toMatch(
      /^The plan does not match what Immuta holds now: nothing was deleted\. Host 'databricks-uc': its cleanup script changed/
    );
    expect(run.errors.at(-1)).not.toMatch(/lake-formation/);
  });
});

describe('plan-sha256', () => {
  it("a dry run's plan-sha256 is its plan file's SHA-256, in the outputs and the summary", async () => {
    immuta = await startImmutaStandIn();
    const batch = await dryRun();
    const one = await dryRun(['snowflake-prod']);
    for (const run of [batch, one]) {
      const digest = sha(await fs.readFile(run.outputs['plan-path']!));
      expect(run.outputs['plan-sha256']).toBe(digest);
      expect(run.summary).toContain(`SHA-256 \`${digest}\``);
    }
  });

  it('the apply refuses a plan with a host added by hand, before any request', async () => {
    immuta = await startImmutaStandIn();
    const planned = await dryRun(['snowflake-prod', 'databricks-uc']);
    const planPath = planned.outputs['plan-path']!;
    const added = await edited(planPath, (text) => {
      const plan = JSON.parse(text);
      plan.hosts.push({ connectionKey: 'lake-formation', integrationId: 3 });
      return JSON.stringify(plan, null, 2);
    });
    const sent = immuta.requests.length;
    const run = await apply(added, { 'plan-sha256': planned.outputs['plan-sha256']! });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Input 'plan-sha256' does not match the plan file .*: its SHA-256 is [0-9a-f]{64}, but the approved plan's is [0-9a-f]{64}\./
    );
    expect(immuta.requests).toHaveLength(sent);
    expect(immuta.state.hosts['lake-formation']).toBeDefined();

    const approved = await apply(planPath, { 'plan-sha256': planned.outputs['plan-sha256']! });
    expect(approved.code).toBe(0);
    expect(immuta.sent('DELETE')).toHaveLength(2);
    expect(immuta.state.hosts['lake-formation']).toBeDefined();
  });

  it('plan-sha256 that is not a SHA-256, or without a plan, is bad input', async () => {
    immuta = await startImmutaStandIn();
    const planPath = (await dryRun()).outputs['plan-path']!;
    const sent = immuta.requests.length;
    const bad = await apply(planPath, { 'plan-sha256': 'approved' });
    expect(bad.code).toBe(1);
    expect(bad.errors[0]).toMatch(/^Input 'plan-sha256' must be the 64 hex digits of a SHA-256/);
    const alone = await runAction({
      inputs: stepInputs(immuta, { 'plan-sha256': sha('x') })
    });
    expect(alone.code).toBe(1);
    expect(alone.errors[0]).toMatch(/^Input 'plan-sha256' is set, but plan is empty/);
    expect(immuta.requests).toHaveLength(sent);
  });
});

describe('what a plan file may hold', () => {
  it('a plan saved with a UTF-8 byte-order mark is applied', async () => {
    immuta = await startImmutaStandIn();
    const planPath = (await dryRun()).outputs['plan-path']!;
    const run = await apply(await edited(planPath, (text) => `\uFEFF${text}`));
    expect(run.code).toBe(0);
    expect(immuta.sent('DELETE')).toHaveLength(3);
  });

  it.each([
    ['..', /whose connection key is "\.\.", which names a folder, not a host/],
    ['snow\tprod', /whose connection key contains a control character/],
    [' snowflake-prod', /whose connection key " snowflake-prod" starts or ends with white space/]
  ])(
    'a plan naming host %j is bad input, as that connection-key would be: no request is sent',
    async (key, message) => {
      immuta = await startImmutaStandIn();
      const planPath = (await dryRun(['databricks-uc', 'lake-formation'])).outputs['plan-path']!;
      const spoiled = await edited(planPath, (text) => {
        const plan = JSON.parse(text);
        plan.hosts[1].connectionKey = key;
        return JSON.stringify(plan);
      });
      const sent = immuta.requests.length;
      const run = await apply(spoiled);
      expect(run.code).toBe(1);
      expect(run.errors[0]).toMatch(/^Input 'plan' names a host/);
      expect(run.errors[0]).toMatch(message);
      expect(immuta.requests).toHaveLength(sent);
    }
  );

  // A device never ends and a FIFO blocks whoever opens it until something writes: neither may
  // hang the step, which has no request to time out yet.
  it.each([
    ['a device', async () => '/dev/zero'],
    [
      'a FIFO',
      async () => {
        const dir = await fs.mkdtemp(path.join(scratchDir(), 'fifo-plan-'));
        const fifo = path.join(dir, 'plan.json');
        execFileSync('mkfifo', [fifo]);
        return fifo;
      }
    ],
    ['a folder', async () => fs.mkdtemp(path.join(scratchDir(), 'folder-plan-'))]
  ])('plan naming %s is refused at once, naming the input', async (_what, make) => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': '', plan: await make() }),
      timeoutMs: 30_000
    });
    expect(run.signal).toBeNull();
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      expect.stringMatching(/^Input 'plan' names (a folder|something other than a file)/)
    ]);
    expect(immuta.requests).toHaveLength(0);
  });

  it('a plan with run-script is refused before any request, never skipped silently', async () => {
    immuta = await startImmutaStandIn();
    const planPath = (await dryRun(['snowflake-prod'])).outputs['plan-path']!;
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
    });
    const sent = immuta.requests.length;
    const run = await apply(planPath, {
      'run-script': 'snowflake',
      'snowflake-account': 'xy12345',
      'snowflake-host': 'http://127.0.0.1:9',
      'snowflake-user': 'immuta_cleanup',
      'snowflake-private-key': privateKey
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/^Input 'run-script' cannot be used with plan/);
    expect(run.outputs.status).toBe('failed');
    expect(immuta.requests).toHaveLength(sent);
    expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
  });
});

describe('the artifacts of a plan job and an apply job', () => {
  let azurite: Azurite;
  let service: ArtifactService | undefined;
  beforeAll(async () => (azurite = await startAzurite()), 60_000);
  afterAll(async () => azurite?.stop());
  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  /** The runner's variables for a job of the one workflow run. */
  const job = (name: string, attempt: string) => ({
    ...service!.env(RUN_BACKEND_ID, `job-${name}`),
    GITHUB_JOB: name,
    GITHUB_RUN_ATTEMPT: attempt
  });

  /** What actions/download-artifact leaves in the job's folder: the artifact's files. */
  async function download(name: string): Promise<string> {
    const zip = await service!.zipOf(name);
    if (zip === undefined) throw new Error(`no artifact '${name}'`);
    const folder = await fs.mkdtemp(path.join(scratchDir(), 'download-'));
    for (const [file, bytes] of unzip(zip)) await fs.writeFile(path.join(folder, file), bytes);
    return folder;
  }

  it("the apply never replaces the plan job's artifact, and a re-run of the failed apply finishes", async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const plan = await dryRun(KEYS, { 'upload-artifact': 'true' }, job('plan', '1'));
    const planArtifact = plan.outputs['artifact-name']!;
    immuta.fault({ method: 'DELETE', path: '/data/object/databricks-uc', status: 500 });
    const inputs = {
      'upload-artifact': 'true',
      'if-missing': 'warn',
      'fail-fast': 'false',
      'plan-sha256': plan.outputs['plan-sha256']!
    };

    const first = await apply(
      path.join(await download(planArtifact), 'plan.json'),
      inputs,
      job('apply', '1')
    );
    expect(first.code).toBe(1);
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
    expect(first.log).not.toMatch(/Replaced artifact/);
    expect(first.outputs['artifact-name']).toBe(`${planArtifact}-apply`);
    // The plan job's artifact is as the plan job left it, its plan included.
    const kept = unzip((await service.zipOf(planArtifact))!);
    expect(kept.get('plan.json')!.toString()).toBe(
      await fs.readFile(plan.outputs['plan-path']!, 'utf8')
    );
    // The apply's own artifact holds its scripts and says whose it is.
    const own = unzip((await service.zipOf(`${planArtifact}-apply`))!);
    expect(own.get('immuta-cleanup-snowflake-prod.sql')!.toString()).toBe(snowflakeScript(1));
    expect(JSON.parse(own.get('report.json')!.toString())).toMatchObject({
      stage: 'before-delete',
      job: 'apply',
      attempt: '1'
    });

    // "Re-run failed jobs": the apply downloads the same artifact again and applies the plan.
    const rerun = await apply(
      path.join(await download(planArtifact), 'plan.json'),
      inputs,
      job('apply', '2')
    );
    expect(rerun.code).toBe(0);
    expect(immuta.state.hosts).toEqual({});
    expect(statuses(await reportOf(rerun))).toEqual([
      'already-absent',
      'deregistered',
      'already-absent'
    ]);
    expect(rerun.outputs['artifact-name']).toBe(`${planArtifact}-apply`);
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
    expect(unzip((await service.zipOf(planArtifact))!).has('plan.json')).toBe(true);
    expect(await reportOf(rerun)).toMatchObject({ job: 'apply', attempt: '2' });
  });

  it('"Re-run all jobs" after a partial apply plans the hosts left and applies them', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    // As examples/plan-approve-apply.yml runs: the plan under if-missing: warn, the apply fed the
    // plan job's outputs.
    const planJob = (attempt: string) =>
      dryRun(KEYS, { 'upload-artifact': 'true', 'if-missing': 'warn' }, job('plan', attempt));
    const applyJob = async (plan: Awaited<ReturnType<typeof planJob>>, attempt: string) =>
      apply(
        path.join(await download(plan.outputs['artifact-name']!), 'plan.json'),
        {
          'upload-artifact': 'true',
          'if-missing': 'warn',
          'plan-sha256': plan.outputs['plan-sha256']!
        },
        job('apply', attempt)
      );
    immuta.fault({ method: 'DELETE', path: '/data/object/databricks-uc', status: 500 });
    const firstPlan = await planJob('1');
    expect((await applyJob(firstPlan, '1')).code).toBe(1);

    const replanned = await planJob('2');
    const plan = JSON.parse(await fs.readFile(replanned.outputs['plan-path']!, 'utf8'));
    expect(plan.hosts.map((h: { connectionKey: string }) => h.connectionKey)).toEqual([
      'databricks-uc'
    ]);
    const second = await applyJob(replanned, '2');
    expect(second.code).toBe(0);
    expect(immuta.state.hosts).toEqual({});
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
    // The scripts of the hosts the first apply deleted are still in its artifact.
    const firstApply = unzip((await service.zipOf(`${firstPlan.outputs['artifact-name']}-apply`))!);
    expect(firstApply.get('immuta-cleanup-snowflake-prod.sql')!.toString()).toBe(
      snowflakeScript(1)
    );
  });

  it('a re-run of the plan job keeps the first plan and uploads the new one beside it', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const first = await dryRun(KEYS, { 'upload-artifact': 'true' }, job('plan', '1'));
    const second = await dryRun(KEYS, { 'upload-artifact': 'true' }, job('plan', '2'));
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
    expect(second.outputs['artifact-name']).toBe(`${first.outputs['artifact-name']}-plan`);
    for (const run of [first, second]) {
      const files = unzip((await service.zipOf(run.outputs['artifact-name']!))!);
      expect(sha(files.get('plan.json')!)).toBe(run.outputs['plan-sha256']);
    }
  });

  it("another job's artifact holding the same script is never deleted: this job keeps its own", async () => {
    immuta = await startImmutaStandIn({ permissions: { delete: false } });
    service = await startArtifactService({ azurite });
    const inputs = stepInputs(immuta, { 'upload-artifact': 'true' });
    const neighbour = await runAction({ inputs, env: job('retire-a', '1') });
    expect(neighbour.code).toBe(1);
    const name = neighbour.outputs['artifact-name']!;
    const run = await runAction({ inputs, env: job('retire-b', '1') });
    expect(run.outputs['artifact-name']).toBe(`${name}-retire-b`);
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
    const theirs = unzip((await service.zipOf(name))!);
    expect(
      JSON.parse(theirs.get('immuta-cleanup-snowflake-prod.report.json')!.toString())
    ).toMatchObject({
      job: 'retire-a',
      attempt: '1'
    });
  });

  it("a batch re-run that keeps the earlier attempt's artifact does not say it uploaded one", async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    immuta.fault({ method: 'DELETE', path: '/data/object/databricks-uc', status: 500 });
    const inputs = stepInputs(immuta, {
      'connection-key': KEYS.join('\n'),
      'upload-artifact': 'true',
      'fail-fast': 'false',
      'if-missing': 'warn'
    });
    const first = await runAction({ inputs, env: job('retire', '1') });
    expect(first.code).toBe(1);
    expect(first.log).toMatch(/Uploaded the cleanup scripts as artifact/);
    const second = await runAction({ inputs, env: job('retire', '2') });
    expect(second.code).toBe(0);
    expect(second.outputs['artifact-id']).toBe(first.outputs['artifact-id']);
    expect(second.log).toMatch(/left by an earlier attempt, already holds these scripts/);
    expect(second.log).not.toMatch(/Uploaded the cleanup scripts? as artifact/);
  });
});
