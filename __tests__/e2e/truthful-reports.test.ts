// Issue 22, "Reports that must tell the truth" (and the Lake Formation host's report), end to
// end: what the log, the job summary, the outputs and the artifact say after each way a run can
// end, as a reviewer or a later step reads them.
import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import type { ImmutaStandIn } from '../support/immuta-stand-in.mjs';
import { runAction, type ActionRun } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';
import { attemptOf, nextStepOf } from '../support/reruns.js';
import { snowflakeStep, standIns } from '../support/stand-ins.js';
import { unzip } from '../support/unzip.js';

const { immuta, artifacts: artifactService, snowflake } = standIns();

/** A row of the one-host summary's table, by its name. */
function row(summary: string, name: string): string | undefined {
  return new RegExp(`^\\| ${name} \\| (.*) \\|$`, 'm').exec(summary)?.[1];
}

const counts = (run: ActionRun) => [
  run.outputs['deleted-count'],
  run.outputs['absent-count'],
  run.outputs['failed-count']
];

describe('one host’s summary after step 3', () => {
  it('a re-run that finds the script already ran says nothing is left to do', async () => {
    const tenant = await immuta();
    const service = await artifactService();
    const first = await snowflake();
    expect(
      (await runAction({ inputs: snowflakeStep(tenant, first), env: attemptOf(service, 1) })).code
    ).toBe(0);
    const again = await snowflake();
    const run = await runAction({
      inputs: snowflakeStep(tenant, again),
      env: attemptOf(service, 2)
    });
    expect(run.code).toBe(0);
    expect(run.outputs['script-status']).toBe('already-ran');
    expect(nextStepOf(run.summary)).toBe(
      'Nothing left to do: the host is deregistered, and an earlier attempt of this workflow run ran its cleanup script in Snowflake (below).'
    );
    expect(run.summary).not.toMatch(/did not finish|see the error below/);
  }, 60_000);

  it('a script that fails after the delete: the summary says so first, offers "Re-run failed jobs" and the artifact, and the re-run goes on', async () => {
    const tenant = await immuta();
    const service = await artifactService();
    const first = await snowflake({ failOn: /^DROP USER/ });
    const run = await runAction({
      inputs: snowflakeStep(tenant, first),
      env: attemptOf(service, 1)
    });
    expect(run.code).toBe(1);
    expect(run.summary).toMatch(
      /^## Immuta: Deregistered host `snowflake-prod`, but its cleanup script did not finish in Snowflake \(it stopped at statement 3 of 6\)\.\n/
    );
    expect(row(run.summary, 'Status')).toBe('`failed`');
    const next = nextStepOf(run.summary);
    expect(next).toBe(
      'The host is deregistered, but the cleanup script stopped in Snowflake at statement 3: fix what the error below names, then use **Re-run failed jobs**: the re-run finds the host gone, takes the script from artifact `immuta-cleanup-script-snowflake-prod` and goes on at statement 3. Or run the rest of the script by hand in Snowflake as a privileged user, from statement 3 on (statements 1 to 2 ran), from artifact `immuta-cleanup-script-snowflake-prod`.'
    );
    // Nothing the reader is pointed at lives in the runner's temporary folder.
    expect(next).not.toContain(run.runnerTemp);
    // The log never says the host was deregistered as if all went well.
    expect(run.stdout).not.toMatch(
      /^Deregistered host 'snowflake-prod' and its 42 child objects\.$/m
    );
    expect(run.errors.at(-1)).toMatch(
      /its cleanup script is kept in artifact 'immuta-cleanup-script-snowflake-prod' \(ID \d+\) and the file .* \(on this runner only\)\. Re-run failed jobs goes on at statement 3; or run the rest by hand from statement 3 on\.$/
    );

    const again = await snowflake();
    const rerun = await runAction({
      inputs: snowflakeStep(tenant, again),
      env: attemptOf(service, 2)
    });
    expect(rerun.code).toBe(0);
    expect(rerun.outputs['statements-run']).toBe('4');
    expect(again.ranTexts[0]).toBe('DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT');
  }, 60_000);

  it('without an artifact, the summary does not offer a re-run that could not go on', async () => {
    const tenant = await immuta();
    const first = await snowflake({ failOn: /^DROP USER/ });
    const run = await runAction({
      inputs: snowflakeStep(tenant, first, { 'upload-artifact': 'false' })
    });
    expect(run.code).toBe(1);
    expect(nextStepOf(run.summary)).toMatch(
      /^The host is deregistered, but the cleanup script stopped in Snowflake at statement 3: fix what the error below names, then run the rest of the script by hand in Snowflake as a privileged user, from statement 3 on \(statements 1 to 2 ran\); it is shown below and in this step's `script` output \(the file `.*` is gone once a hosted runner's job ends\)\. Without an artifact \(upload-artifact: false\) a re-run cannot go on\.$/
    );
  }, 60_000);

  it('a dry run with run-script offers no plan, which the apply would refuse', async () => {
    const tenant = await immuta();
    const sf = await snowflake();
    const run = await runAction({
      inputs: snowflakeStep(tenant, sf, { 'dry-run': 'true', 'upload-artifact': 'false' })
    });
    expect(run.code).toBe(0);
    expect(run.outputs['plan-path']).toBeUndefined();
    expect(run.outputs['plan-sha256']).toBeUndefined();
    expect(run.summary).not.toMatch(/plan-sha256|^Plan:/m);
    await expect(
      fs.access(run.outputs['script-path']!.replace(/\.sql$/, '.plan.json'))
    ).rejects.toThrow();
    // Without run-script, a dry run still offers its plan.
    const plain = await runAction({ inputs: stepInputs(tenant, { 'dry-run': 'true' }) });
    expect(plain.outputs['plan-sha256']).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);
});

describe('the log of a re-run that converges', () => {
  it('says once why the host counts as deleted, and never that the key may be misspelt', async () => {
    const tenant = await immuta();
    const service = await artifactService();
    const inputs = stepInputs(tenant, { 'upload-artifact': 'true' });
    expect((await runAction({ inputs, env: attemptOf(service, 1) })).code).toBe(0);
    for (const ifMissing of ['error', 'warn']) {
      const run = await runAction({
        inputs: { ...inputs, 'if-missing': ifMissing },
        env: attemptOf(service, 2)
      });
      expect(run.code).toBe(0);
      expect(run.log).not.toMatch(/misspelt/);
      expect(run.warnings).toEqual([]);
      expect(run.stdout.match(/counts as deleted since then/g)).toHaveLength(1);
    }
  }, 60_000);
});

describe('a batch’s outcome', () => {
  const batch = (tenant: ImmutaStandIn, hosts: string[], extra = {}) =>
    stepInputs(tenant, { 'connection-key': hosts.join('\n'), ...extra });

  it('every host gone, none failed: deregistered, deleted, and counts that add up', async () => {
    const tenant = await immuta();
    const run = await runAction({
      inputs: batch(tenant, ['snowflake-prod', 'snowflake-prd', 'databricks-uc'], {
        'if-missing': 'warn'
      })
    });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ status: 'deregistered', deleted: 'true' });
    expect(counts(run)).toEqual(['2', '1', '0']);
    // Where reviewers read: the misspelt key, the hosts' technology and hostname, what to do.
    expect(run.summary).toContain(
      '| `snowflake-prd` |  | already absent |  | Immuta has no host with this key, and nothing says this run deleted it\\: if the key is misspelt, correct it. |'
    );
    expect(run.summary).toContain(
      '| `databricks-uc` (Databricks, dbc-1234.cloud.databricks.com) | 2 | deregistered | 7 |  |'
    );
    expect(nextStepOf(run.summary)).toMatch(
      /^Run the cleanup script of each of the 2 deleted hosts in its platform as a privileged user/
    );
  }, 60_000);

  it('every host already gone: already-absent, nothing deleted', async () => {
    const tenant = await immuta((state) => (state.hosts = {}));
    const run = await runAction({
      inputs: batch(tenant, ['snowflake-prod', 'databricks-uc'], { 'if-missing': 'ignore' })
    });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ status: 'already-absent', deleted: 'false' });
    expect(counts(run)).toEqual(['0', '2', '0']);
  }, 60_000);

  it('a delete that failed after another succeeded: partial, deleted, and a next step that resumes', async () => {
    const tenant = await immuta();
    tenant.fault({ method: 'DELETE', path: '/data/object/databricks-uc', status: 500 });
    const run = await runAction({
      inputs: batch(tenant, ['snowflake-prod', 'databricks-uc', 'lake-formation'], {
        'fail-fast': 'false'
      })
    });
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ status: 'partial', deleted: 'true' });
    expect(counts(run)).toEqual(['2', '0', '1']);
    expect(nextStepOf(run.summary)).toMatch(
      /^1 host was not deleted: fix what the notes name, then run again: with upload-artifact: false a re-run cannot tell the hosts this attempt deleted from missing ones/
    );
  }, 60_000);

  it('a dry run of hosts one of which is gone is a dry run, not partial', async () => {
    const tenant = await immuta();
    const run = await runAction({
      inputs: batch(tenant, ['snowflake-prod', 'retired'], {
        'if-missing': 'warn',
        'dry-run': 'true'
      })
    });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ status: 'dry-run', deleted: 'false' });
    expect(counts(run)).toEqual(['0', '1', '0']);
  }, 60_000);
});

describe('an AWS Lake Formation host', () => {
  it('keeps its report as an artifact, though it has no script', async () => {
    const tenant = await immuta();
    const service = await artifactService();
    const run = await runAction({
      inputs: stepInputs(tenant, { 'connection-key': 'lake-formation', 'upload-artifact': 'true' }),
      env: attemptOf(service, 1)
    });
    expect(run.code).toBe(0);
    expect(run.outputs['artifact-name']).toBe('immuta-cleanup-script-lake-formation');
    const files = unzip((await service.zipOf('immuta-cleanup-script-lake-formation'))!);
    expect([...files.keys()]).toEqual(['immuta-cleanup-lake-formation.report.json']);
    expect(
      JSON.parse(files.get('immuta-cleanup-lake-formation.report.json')!.toString())
    ).toMatchObject({
      stage: 'before-delete',
      job: 'deregister',
      attempt: '1',
      hosts: [{ connectionKey: 'lake-formation', technology: 'AWS Lake Formation', status: 'kept' }]
    });
    expect(row(run.summary, 'Artifact')).toMatch(
      /^`immuta-cleanup-script-lake-formation` \(ID \[\d+\]/
    );
  }, 60_000);
});
