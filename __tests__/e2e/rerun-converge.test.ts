// Issue 22, "Re-runs that must converge", end to end: the bundled action run as the runner runs
// it, with the runner's re-run semantics (a new GITHUB_RUN_ATTEMPT, a new job backend ID in
// ACTIONS_RUNTIME_TOKEN, the artifacts of earlier attempts visible). A re-run cannot change its
// inputs, so it must converge from the record an earlier attempt kept (the report beside its
// scripts), and nothing else: not a neighbour's record, not a host registered again since.
import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import {
  addHost,
  defaultState,
  snowflakeScript,
  type ImmutaStandIn
} from '../support/immuta-stand-in.mjs';
import type { SnowflakeStandIn } from '../support/warehouse-stand-ins.mjs';
import { runAction, scratchDir, type ActionRun } from '../support/run-action.mjs';
import { stepInputs, trail } from '../support/inputs.js';
import { attemptOf } from '../support/reruns.js';
import { SNOWFLAKE_DROPS as DROPS, snowflakeStep, standIns } from '../support/stand-ins.js';
import { unzip } from '../support/unzip.js';
import { zip } from '../support/zip.js';

const { immuta: immutaWith, artifacts: artifactService, snowflake } = standIns();

function withArtifact(immuta: ImmutaStandIn, extra: Record<string, string> = {}) {
  return stepInputs(immuta, { 'upload-artifact': 'true', ...extra });
}

const KEYS = ['snowflake-prod', 'databricks-uc', 'lake-formation'];
const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');
const deletes = (immuta: ImmutaStandIn) => immuta.sent('DELETE').length;

async function reportOf(run: ActionRun) {
  return JSON.parse(await fs.readFile(run.outputs['report-path']!, 'utf8'));
}

describe('batches and plans under if-missing: error converge from the kept report', () => {
  it('"Re-run failed jobs" of a batch whose second DELETE failed deletes the host left and goes green', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    immuta.fault({ method: 'DELETE', path: '/data/object/databricks-uc', status: 500 });
    const inputs = withArtifact(immuta, {
      'connection-key': KEYS.join('\n'),
      'fail-fast': 'false'
    });
    const first = await runAction({ inputs, env: attemptOf(service, 1) });
    expect(first.code).toBe(1);
    expect(Object.keys(immuta.state.hosts)).toEqual(['databricks-uc']);

    const second = await runAction({ inputs, env: attemptOf(service, 2) });
    expect(second.errors).toEqual([]);
    expect(second.code).toBe(0);
    expect(immuta.state.hosts).toEqual({});
    expect(second.outputs).toMatchObject({ status: 'deregistered', deleted: 'true' });
    const report = await reportOf(second);
    expect(
      report.hosts.map((h: { status: string; deletedByAttempt: number | null }) => [
        h.status,
        h.deletedByAttempt
      ])
    ).toEqual([
      ['already-absent', 1],
      ['deregistered', null],
      ['already-absent', 1]
    ]);
    expect(second.log).toContain(
      "Host 'snowflake-prod' is gone: attempt 1 of this workflow run kept its cleanup script and record"
    );
    // The script of the host attempt 1 deleted is back in this run's folder, as kept.
    expect(
      await fs.readFile(
        path.join(second.outputs['script-path']!, 'immuta-cleanup-snowflake-prod.sql'),
        'utf8'
      )
    ).toBe(snowflakeScript(1));
  }, 60_000);

  it('"Re-run failed jobs" of an apply whose second DELETE failed applies the rest of the plan', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const job = (name: string, n: number) => attemptOf(service, n, name);
    const plan = await runAction({
      inputs: withArtifact(immuta, { 'connection-key': KEYS.join('\n'), 'dry-run': 'true' }),
      env: job('plan', 1)
    });
    expect(plan.code).toBe(0);
    // What actions/download-artifact leaves in the apply job's folder.
    const download = async () => {
      const folder = await fs.mkdtemp(path.join(scratchDir(), 'download-'));
      const files = unzip((await service.zipOf(plan.outputs['artifact-name']!))!);
      for (const [file, bytes] of files) await fs.writeFile(path.join(folder, file), bytes);
      return path.join(folder, 'plan.json');
    };
    immuta.fault({ method: 'DELETE', path: '/data/object/databricks-uc', status: 500 });
    const apply = async (n: number) =>
      runAction({
        inputs: withArtifact(immuta, {
          'connection-key': '',
          plan: await download(),
          'plan-sha256': plan.outputs['plan-sha256']!,
          'fail-fast': 'false'
        }),
        env: job('apply', n)
      });
    expect((await apply(1)).code).toBe(1);
    const again = await apply(2);
    expect(again.errors).toEqual([]);
    expect(again.code).toBe(0);
    expect(immuta.state.hosts).toEqual({});
    expect(again.outputs.status).toBe('deregistered');
    // A re-run of the re-run finds every host deleted by an earlier attempt: green, nothing sent.
    const sent = deletes(immuta);
    const third = await apply(3);
    expect(third.code).toBe(0);
    expect(third.outputs).toMatchObject({ status: 'already-absent', deleted: 'false' });
    expect(deletes(immuta)).toBe(sent);
  }, 60_000);

  it('a misspelt key still fails every re-run, saying no attempt deleted it', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const inputs = withArtifact(immuta, { 'connection-key': 'snowflake-prod\nsnowflake-prd' });
    for (const n of [1, 2, 3]) {
      const run = await runAction({ inputs, env: attemptOf(service, n) });
      expect(run.code).toBe(1);
      expect(deletes(immuta)).toBe(0);
      if (n > 1) {
        expect(run.errors.at(-1)).toMatch(
          new RegExp(
            `Immuta has no host 'snowflake-prd' .*This is attempt ${n} of this workflow run, and no artifact of this run holds a record of an earlier attempt of this job deleting it`
          )
        );
      }
    }
  }, 60_000);

  it("another job's record of the same hosts does not count as this job's", async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const inputs = withArtifact(immuta, { 'connection-key': KEYS.join('\n') });
    // Job 'retire-a' deleted the hosts; job 'retire-b' of the same run names them too.
    expect((await runAction({ inputs, env: attemptOf(service, 1, 'retire-a') })).code).toBe(0);
    const run = await runAction({ inputs, env: attemptOf(service, 2, 'retire-b') });
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      /was not kept by an earlier attempt of this job \(it names job 'retire-a', attempt 1; this is job 'retire-b', attempt 2\)/
    );
  }, 60_000);
});

describe('one host with upload-artifact: false, re-run after it succeeded', () => {
  it('says that nothing proves an earlier attempt deleted it, and why', async () => {
    const immuta = await immutaWith();
    const inputs = stepInputs(immuta);
    expect((await runAction({ inputs, env: { GITHUB_RUN_ATTEMPT: '1' } })).code).toBe(0);
    const error = await runAction({ inputs, env: { GITHUB_RUN_ATTEMPT: '2' } });
    expect(error.code).toBe(1);
    expect(error.errors).toEqual([
      expect.stringContaining(
        'This is attempt 2 of this workflow run, and with upload-artifact: false no attempt keeps a record a later one can read, so nothing proves that an earlier attempt deleted it: if one did, its log and job summary say "Deregistered host", nothing is left to do in Immuta, and its cleanup script is in that summary (unless summary-script is false). If it was already deregistered, set if-missing: warn or if-missing: ignore to let the step succeed (a re-run keeps the inputs of its workflow run: in a new run).'
      )
    ]);
    // Under warn it succeeds, and says the same rather than "deleted by attempt 1".
    const warn = await runAction({
      inputs: { ...inputs, 'if-missing': 'warn' },
      env: { GITHUB_RUN_ATTEMPT: '2' }
    });
    expect(warn.code).toBe(0);
    expect(warn.warnings).toEqual([
      expect.stringContaining('nothing proves that an earlier attempt deleted it')
    ]);
    expect(warn.summary).not.toMatch(/deleted by attempt/);
  }, 60_000);

  it('converges where the run keeps a record: the same step with upload-artifact: true', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const inputs = withArtifact(immuta);
    expect((await runAction({ inputs, env: attemptOf(service, 1) })).code).toBe(0);
    const again = await runAction({ inputs, env: attemptOf(service, 2) });
    expect(again.code).toBe(0);
    expect(again.outputs).toMatchObject({ status: 'already-absent', deleted: 'false' });
    expect(again.summary).toMatch(
      /^## Immuta: Host `snowflake-prod` was deleted by attempt 1 of this workflow run/
    );
  }, 60_000);
});

describe('a re-run after the host was registered again under the same key', () => {
  /** Immuta after a user registered the host again: same key, a new integration. */
  function registerAgain(
    immuta: ImmutaStandIn,
    key = 'snowflake-prod',
    script = snowflakeScript(1)
  ) {
    immuta.state.hosts[key] = {
      nativeIntegrationId: 7,
      technology: 'Snowflake',
      hostname: 'acme-new.snowflakecomputing.com',
      childCount: 5
    };
    immuta.state.integrations[7] = { status: 'enabled', type: 'Snowflake', script };
  }

  it('stops before anything: the new host is not deleted and the script does not run again', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const first = await snowflake();
    expect(
      (await runAction({ inputs: snowflakeStep(immuta, first), env: attemptOf(service, 1) })).code
    ).toBe(0);
    expect(first.ranTexts).toHaveLength(5);
    // The same script text, so no comparison of scripts can tell the hosts apart.
    registerAgain(immuta);
    const requests = immuta.requests.length;
    for (const n of [2, 3]) {
      const again = await snowflake();
      const run = await runAction({
        inputs: snowflakeStep(immuta, again),
        env: attemptOf(service, n)
      });
      expect(run.code).toBe(1);
      expect(run.errors).toEqual([
        expect.stringMatching(
          /^Host 'snowflake-prod' is not the host attempt 1 of this workflow run kept the cleanup script of \(artifact 'immuta-cleanup-script-snowflake-prod' \(ID \d+\)\): that was integration 1 \(Snowflake, acme-prod\.snowflakecomputing\.com\), and Immuta now has integration 7 \(Snowflake, acme-new\.snowflakecomputing\.com\) under this key, so it was registered again after that attempt deleted the host\..*Nothing was generated or deleted\.$/
        )
      ]);
      expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
      expect(again.ranTexts).toEqual([]);
    }
    expect(immuta.state.hosts['snowflake-prod']!.nativeIntegrationId).toBe(7);
    expect(
      trail(immuta)
        .slice(requests)
        .filter((t) => !t.startsWith('GET '))
    ).toEqual([]);
  }, 90_000);

  it('a batch re-run refuses every delete when one of its hosts was registered again', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const inputs = withArtifact(immuta, {
      'connection-key': 'snowflake-prod\ndatabricks-uc',
      'if-missing': 'warn'
    });
    expect((await runAction({ inputs, env: attemptOf(service, 1) })).code).toBe(0);
    registerAgain(immuta);
    immuta.state.hosts['databricks-uc'] = { ...defaultState().hosts['databricks-uc']! };
    immuta.state.integrations[2] = defaultState().integrations[2]!;
    const run = await runAction({ inputs, env: attemptOf(service, 2) });
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      /^Host 'snowflake-prod' is not the host attempt 1 of this workflow run kept the cleanup script of .*: nothing was deleted\./
    );
    expect(deletes(immuta)).toBe(2);
    expect(Object.keys(immuta.state.hosts).sort()).toEqual([
      'databricks-uc',
      'lake-formation',
      'snowflake-prod'
    ]);
  }, 60_000);

  it('the same host, still there because its delete failed, is deleted by the re-run', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    immuta.fault({ method: 'DELETE', status: 500 });
    const inputs = withArtifact(immuta);
    expect((await runAction({ inputs, env: attemptOf(service, 1) })).code).toBe(1);
    const calls = service.calls.length;
    const run = await runAction({ inputs, env: attemptOf(service, 2) });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ status: 'deregistered', deleted: 'true' });
    // Attempt 1's artifact is read once: to tell the host, then to compare it and replace it.
    const methods = service.calls.slice(calls).map((c) => c.method);
    expect(methods.filter((m) => m === 'GetSignedArtifactURL')).toHaveLength(1);
    expect(methods).toContain('DeleteArtifact');
  }, 60_000);
});

describe('what other jobs of the run left is never taken as this job’s', () => {
  it('a matrix leg re-run resumes its own script, whatever the records of a leg sharing its artifact-name say', async () => {
    const immuta = await immutaWith((state) => {
      addHost(state, 'snowflake-dev', {
        integrationId: 4,
        hostname: 'dev.snowflakecomputing.com',
        childCount: 2
      });
    });
    const service = await artifactService();
    const leg = (key: string, sf: SnowflakeStandIn) =>
      snowflakeStep(immuta, sf, { 'connection-key': key, 'artifact-name': 'cleanup' });
    const a = await snowflake();
    expect(
      (
        await runAction({
          inputs: leg('snowflake-prod', a),
          env: attemptOf(service, 1, 'deregister', 'a')
        })
      ).code
    ).toBe(0);
    // Leg b's host is in another account, which its own secret reaches.
    const dev = { locator: 'DEV', organization: 'ACME', accountName: 'DEV' };
    const b = await snowflake({ failOn: /^DROP USER/, identity: dev });
    const failed = await runAction({
      inputs: leg('snowflake-dev', b),
      env: attemptOf(service, 1, 'deregister', 'b')
    });
    expect(failed.code).toBe(1);
    expect(failed.outputs['statements-run']).toBe('2');

    // "Re-run failed jobs": leg b alone, in attempt 2.
    const again = await snowflake({ identity: dev });
    const run = await runAction({
      inputs: leg('snowflake-dev', again),
      env: attemptOf(service, 2, 'deregister', 'b')
    });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ 'script-status': 'ran', 'statements-run': '4' });
    // Leg b's own statements 3 to 6: leg a's records, which say its script ran, count for nothing.
    expect(again.ranTexts).toEqual(DROPS.slice(1));
  }, 90_000);

  it('a report planted under this job’s name, naming this job, makes the re-run run nothing', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    // A neighbour plants, before this job keeps its script, an artifact under the name this job
    // would use first, whose report names this job, this tenant and attempt 1, with its own script.
    const planted = 'DROP DATABASE PRECIOUS;\n';
    const file = 'immuta-cleanup-snowflake-prod.sql';
    const report = {
      kind: 'immuta-deregister-host/report',
      version: 1,
      tenant: immuta.url,
      job: 'deregister',
      attempt: '1',
      dryRun: false,
      stage: 'before-delete',
      hosts: [
        {
          connectionKey: 'snowflake-prod',
          integrationId: 1,
          technology: 'Snowflake',
          hostname: 'acme-prod.snowflakecomputing.com',
          status: 'kept',
          deleted: false,
          scriptFile: file,
          scriptSha256: sha256(planted)
        }
      ]
    };
    await service.plant(
      'immuta-cleanup-script-snowflake-prod',
      zip([
        { name: file, data: Buffer.from(planted) },
        {
          name: 'immuta-cleanup-snowflake-prod.report.json',
          data: Buffer.from(JSON.stringify(report))
        }
      ]),
      undefined,
      'job-neighbour'
    );
    const first = await snowflake({ failOn: /^DROP USER/ });
    const one = await runAction({
      inputs: snowflakeStep(immuta, first),
      env: attemptOf(service, 1)
    });
    expect(one.code).toBe(1);
    expect(one.outputs['artifact-name']).toBe('immuta-cleanup-script-snowflake-prod-deregister');

    const again = await snowflake();
    const run = await runAction({
      inputs: snowflakeStep(immuta, again),
      env: attemptOf(service, 2)
    });
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      /both hold a record of host 'snowflake-prod' kept by attempt 1 of this job, and they differ, so one of them was not kept by this job and neither is trusted/
    );
    expect(again.requests.filter((r) => !r.check)).toEqual([]);
    expect(again.ranTexts).toEqual([]);
  }, 90_000);

  it("another job's artifact of the same name without a report is never deleted", async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    // The very script this host's, as another job (an older version of the action) kept it.
    const id = await service.plant(
      'immuta-cleanup-script-snowflake-prod',
      zip([{ name: 'immuta-cleanup-snowflake-prod.sql', data: Buffer.from(snowflakeScript(1)) }]),
      undefined,
      'job-neighbour'
    );
    const run = await runAction({ inputs: withArtifact(immuta), env: attemptOf(service, 2) });
    expect(run.code).toBe(0);
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
    expect(service.artifacts.map((a) => a.database_id)).toContain(id);
    expect(run.outputs['artifact-name']).toBe('immuta-cleanup-script-snowflake-prod-deregister');
    expect(run.log).toMatch(
      /Artifact 'immuta-cleanup-script-snowflake-prod' \(ID \d+\) holds no report of this action naming the job that uploaded it, so it is not proven this job's and is never deleted; it is left as it is\./
    );
  }, 60_000);

  it('a matrix over two tenants with the same key and default artifact names deregisters both legs, and both re-runs converge', async () => {
    const tenants = [
      await immutaWith(),
      await immutaWith((state) => {
        state.hosts['snowflake-prod']!.nativeIntegrationId = 9;
        state.integrations[9] = {
          status: 'enabled',
          type: 'Snowflake',
          script: snowflakeScript(9)
        };
      })
    ];
    const service = await artifactService();
    const legs = (n: number) =>
      Promise.all(
        tenants.map((immuta, leg) =>
          runAction({
            inputs: withArtifact(immuta),
            env: attemptOf(service, n, 'deregister', String(leg))
          })
        )
      );
    // The legs start together, as a matrix's do: both find no artifact, and both go for its name.
    const first = await legs(1);
    expect(first.map((r) => r.code)).toEqual([0, 0]);
    expect(tenants.map((t) => t.state.hosts['snowflake-prod'])).toEqual([undefined, undefined]);
    expect(first.map((r) => r.outputs['artifact-name']).sort()).toEqual([
      'immuta-cleanup-script-snowflake-prod',
      'immuta-cleanup-script-snowflake-prod-deregister'
    ]);
    for (const [leg, run] of first.entries()) {
      const files = unzip((await service.zipOf(run.outputs['artifact-name']!))!);
      expect(files.get('immuta-cleanup-snowflake-prod.sql')!.toString()).toBe(
        snowflakeScript(leg === 0 ? 1 : 9)
      );
    }
    // "Re-run all jobs": each leg finds its own record, not the other tenant's.
    const second = [];
    for (const [leg, immuta] of tenants.entries()) {
      second.push(
        await runAction({
          inputs: withArtifact(immuta),
          env: attemptOf(service, 2, 'deregister', String(leg))
        })
      );
    }
    expect(second.map((r) => r.code)).toEqual([0, 0]);
    expect(second.map((r) => r.outputs['artifact-name'])).toEqual(
      first.map((r) => r.outputs['artifact-name'])
    );
    expect(second.map((r) => r.outputs['integration-id'])).toEqual(['1', '9']);
  }, 90_000);
});

describe('one host, re-run after a successful delete', () => {
  it('sets the outputs from the earlier attempt’s report, so the cleanup job of examples/snowflake-cleanup.yml runs', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const inputs = withArtifact(immuta);
    const first = await runAction({ inputs, env: attemptOf(service, 1) });
    expect(first.code).toBe(0);
    const again = await runAction({ inputs, env: attemptOf(service, 2) });
    expect(again.code).toBe(0);
    for (const output of [
      'artifact-id',
      'artifact-name',
      'artifact-url',
      'technology',
      'integration-id',
      'hostname'
    ]) {
      expect([output, again.outputs[output]]).toEqual([output, first.outputs[output]]);
    }
    expect(again.outputs.script).toBe(snowflakeScript(1));
    // The example's condition, and the file it runs out of the artifact it downloads by ID.
    const { technology, 'artifact-id': artifactId } = again.outputs;
    expect(technology === 'Snowflake' && artifactId !== '').toBe(true);
    const scriptFile = path.basename(again.outputs['script-path']!);
    const downloaded = unzip(
      (await service.zipOf(service.artifacts.find((a) => a.database_id === artifactId)!.name))!
    );
    expect(downloaded.get(scriptFile)!.toString()).toBe(snowflakeScript(1));
    expect(await fs.readFile(again.outputs['script-path']!, 'utf8')).toBe(snowflakeScript(1));
    // A re-run of the re-run, which kept nothing itself, still finds attempt 1's record.
    const third = await runAction({ inputs, env: attemptOf(service, 3) });
    expect(third.code).toBe(0);
    expect(third.outputs['artifact-id']).toBe(first.outputs['artifact-id']);
    expect(third.summary).toMatch(/was deleted by attempt 1 of this workflow run/);
  }, 60_000);

  it('an AWS Lake Formation host converges too: its report was kept as an artifact', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const inputs = withArtifact(immuta, { 'connection-key': 'lake-formation' });
    const first = await runAction({ inputs, env: attemptOf(service, 1) });
    expect(first.code).toBe(0);
    const again = await runAction({ inputs, env: attemptOf(service, 2) });
    expect(again.code).toBe(0);
    expect(again.outputs).toMatchObject({
      status: 'already-absent',
      technology: 'AWS Lake Formation',
      'integration-id': '3',
      'artifact-id': first.outputs['artifact-id']
    });
    expect(first.outputs['artifact-id']).toMatch(/^\d+$/);
    expect(again.outputs['script-path']).toBeUndefined();
  }, 60_000);
});

describe('a delete whose outcome is unknown', () => {
  it('runs no script in its attempt, and "Re-run failed jobs" runs the kept script once', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const sf = await snowflake();
    // Immuta deletes the host and the answer is lost, with no attempt left to look it up.
    immuta.fault({ method: 'DELETE', resetAfterHandling: true });
    const inputs = snowflakeStep(immuta, sf, { 'max-attempts': '1' });
    const first = await runAction({ inputs, env: attemptOf(service, 1) });
    expect(first.code).toBe(1);
    expect(immuta.state.hosts['snowflake-prod']).toBeUndefined();
    expect(first.errors.join('\n')).toMatch(/Immuta may have deleted the host/);
    expect(sf.ranTexts).toEqual([]);

    const again = await runAction({ inputs, env: attemptOf(service, 2) });
    expect(again.code).toBe(0);
    expect(again.outputs['script-status']).toBe('ran');
    expect(sf.ranTexts).toEqual(DROPS);
    const third = await runAction({ inputs, env: attemptOf(service, 3) });
    expect(third.outputs['script-status']).toBe('already-ran');
    expect(sf.ranTexts).toEqual(DROPS);
  }, 120_000);
});
