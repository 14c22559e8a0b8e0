// Attack round 2 (A): step 3, re-runs and neighbours, tried as an attacker and an unlucky user
// would, on the bundled action as the runner starts it. Each test is a way found to break a
// promise of the README or the developers' guide; each fails on the commit it was written on and
// passes once that way is closed.
import { describe, expect, it } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ImmutaStandIn } from '../support/immuta-stand-in.mjs';
import type { DatabricksStandIn, SnowflakeStandIn } from '../support/warehouse-stand-ins.mjs';
import { runAction, type ActionRun } from '../support/run-action.mjs';
import type { ArtifactService } from '../support/artifact-service-stand-in.mjs';
import { visibleLog } from '../support/inputs.js';
import { attemptOf } from '../support/reruns.js';
import {
  databricksStep as keptDatabricksStep,
  snowflakeStep as keptSnowflakeStep,
  standIns
} from '../support/stand-ins.js';
import { unzip } from '../support/unzip.js';

const start = standIns();
const immutaWith = start.immuta;
const artifactService = start.artifacts;
const snowflake = start.snowflake;
const databricks = start.databricks;

function snowflakeStep(immuta: ImmutaStandIn, sf: SnowflakeStandIn, extra = {}) {
  return keptSnowflakeStep(immuta, sf, { 'if-missing': 'warn', ...extra });
}

function databricksStep(immuta: ImmutaStandIn, db: DatabricksStandIn, extra = {}) {
  return keptDatabricksStep(immuta, db, { 'if-missing': 'warn', ...extra });
}

/** The statements of the Immuta stand-in's Snowflake script that change something, in order. */
const SNOWFLAKE_DROPS = [
  'DROP DATABASE IF EXISTS IMMUTA_SYSTEM',
  'DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT',
  'DROP ROLE IF EXISTS IMMUTA_SNOWFLAKE_ROLE',
  'REVOKE ROLE IMMUTA_SNOWFLAKE_ROLE FROM USER "ops@example.com"',
  'EXECUTE IMMEDIATE $$ BEGIN DROP WAREHOUSE IF EXISTS IMMUTA_WH; END; $$'
];

/**
 * Cancels the job as GitHub's runner does: SIGINT, SIGTERM 7.5 s later if the process is still
 * there, and SIGKILL 2.5 s after that. A process that ends on its own has `signal` null.
 */
function cancelLikeTheRunner(child: ChildProcess) {
  const alive = () => child.exitCode === null && child.signalCode === null;
  child.kill('SIGINT');
  const term = setTimeout(() => alive() && child.kill('SIGTERM'), 7500);
  const kill = setTimeout(() => alive() && child.kill('SIGKILL'), 10_000);
  child.once('exit', () => {
    clearTimeout(term);
    clearTimeout(kill);
  });
}

/** The records of step 3 in the run, read back from the blob store, oldest first. */
async function records(service: ArtifactService) {
  const found = [];
  for (const a of service.artifacts.filter((a) => a.name.startsWith('immuta-step3-'))) {
    const zipped = await service.zipOf(a.name);
    if (!zipped || !a.finalized) continue;
    const [text] = [...unzip(zipped).values()];
    found.push({ name: a.name, ...JSON.parse(text!.toString('utf8')) });
  }
  return found.sort((a, b) => a.attempt - b.attempt || a.sequence - b.sequence);
}

/**
 * The log as the runner shows it: every value the step masked (`::add-mask::`) starred out, as
 * the runner does for every line after the mask, a package's debug lines included.
 */
function maskedLog(log: string): string {
  const masks = log
    .split('\n')
    .filter((line) => line.startsWith('::add-mask::'))
    .map((line) =>
      line
        .slice('::add-mask::'.length)
        .replace(/\r$/, '')
        .replace(/%0D/g, '\r')
        .replace(/%0A/g, '\n')
        .replace(/%25/g, '%')
    )
    .filter((value) => value !== '')
    .sort((a, b) => b.length - a.length);
  return masks.reduce((text, value) => text.split(value).join('***'), visibleLog(log));
}

/**
 * Everything a reader, a later step or a downloaded report could see of the run: the log as the
 * runner shows it, and unmasked what the runner does not mask (the summary, the outputs, the
 * files) or what the action writes itself (its errors and warnings, held to its own redaction).
 */
async function everythingShown(run: ActionRun): Promise<string> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(file);
      else files.push(await fs.readFile(file, 'utf8'));
    }
  };
  await walk(run.runnerTemp);
  return [
    maskedLog(run.log),
    ...run.errors,
    ...run.warnings,
    run.summary,
    JSON.stringify(run.outputs),
    ...files
  ].join('\n');
}

describe('the runner’s cancel is honoured within its grace period', () => {
  it('a cancel of the statement in flight that the warehouse answers with 503 and Retry-After: 60 does not hold the step past the runner’s SIGKILL, on Snowflake or Databricks', async () => {
    // Snowflake: DROP USER runs until cancelled; its cancel is answered "come back in a minute".
    {
      const immuta = await immutaWith();
      const service = await artifactService();
      const sf = await snowflake({ neverEnds: /DROP USER/ });
      sf.fault({
        method: 'POST',
        path: /\/cancel$/,
        status: 503,
        headers: { 'retry-after': '60' },
        body: { code: '390505', message: 'Service temporarily unavailable.' },
        times: 20
      });
      const run = await runAction({
        inputs: snowflakeStep(immuta, sf),
        env: attemptOf(service, 1),
        onStart: (child) =>
          void sf
            .waitFor(
              (r) =>
                r.method === 'POST' &&
                !r.check &&
                r.path === '/api/v2/statements' &&
                JSON.parse(r.body).statement.includes('DROP USER')
            )
            .then((post) => sf.waitFor((r) => r.method === 'GET' && !r.check && r.at >= post.at))
            .then(() => cancelLikeTheRunner(child))
      });
      // It ended on its own, failed, saying so, with its record written.
      expect(run.signal).toBeNull();
      expect(run.code).toBe(1);
      expect(run.errors.at(-1)).toMatch(/The job was cancelled \(SIGINT\)/);
      expect((await records(service)).at(-1)!.stop).toBe('cancelled');
    }
    // Databricks: the same, by statement_id.
    {
      const immuta = await immutaWith();
      const service = await artifactService();
      const db = await databricks({ neverEnds: /^DROP/ });
      db.fault({
        method: 'POST',
        path: /\/cancel$/,
        status: 503,
        headers: { 'retry-after': '60' },
        body: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'Try again later.' },
        times: 20
      });
      const run = await runAction({
        inputs: databricksStep(immuta, db),
        env: attemptOf(service, 1),
        onStart: (child) =>
          void db
            .waitFor(
              (r) =>
                r.method === 'GET' && !r.check && /^\/api\/2\.0\/sql\/statements\//.test(r.path)
            )
            .then(() => cancelLikeTheRunner(child))
      });
      expect(run.signal).toBeNull();
      expect(run.code).toBe(1);
      expect(run.errors.at(-1)).toMatch(/The job was cancelled \(SIGINT\)/);
      expect((await records(service)).at(-1)!.stop).toBe('cancelled');
    }
  }, 180_000);

  it('a cancel while the record after a statement is being uploaded and the artifact service stalls ends the step on its own, failed, and the re-run runs nothing twice', async () => {
    const immuta = await immutaWith();
    let uploads = 0;
    let stall = true;
    // The third record (after statement 2 ran) reaches a service that takes it and never answers.
    const service = await artifactService({
      CreateArtifact: (r: Record<string, unknown>) =>
        stall && String(r.name).startsWith('immuta-step3-') && ++uploads === 3 ? 'hang' : undefined
    });
    const sf = await snowflake();
    const first = await runAction({
      inputs: snowflakeStep(immuta, sf),
      env: attemptOf(service, 1),
      onStart: (child) =>
        void (async () => {
          while (uploads < 3) await new Promise((resolve) => setTimeout(resolve, 50));
          cancelLikeTheRunner(child);
        })()
    });
    expect(first.signal).toBeNull();
    expect(first.code).toBe(1);
    // It says why it stopped: the cancel, or the record it could not keep in the time left.
    expect(first.errors.at(-1)).toMatch(/cancelled|record of step 3/);
    expect(first.outputs['script-status']).toBe('failed');

    stall = false;
    const second = await runAction({
      inputs: snowflakeStep(immuta, sf),
      env: attemptOf(service, 2)
    });
    expect(second.code).toBe(0);
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS);
  }, 180_000);
});

describe('a long script runs within what GitHub allows a job', () => {
  it('a Databricks script of 260 statements, whose records would pass GitHub’s limit of 500 artifacts a job, is refused before anything is deleted, and nothing runs', async () => {
    const statements = Array.from(
      { length: 260 },
      (_, i) => `DROP SCHEMA IF EXISTS immuta.s${i + 1} CASCADE`
    );
    const immuta = await immutaWith(
      (state) => (state.integrations[2]!.script = `${statements.join(';\n')};\n`)
    );
    // "A single job can upload a maximum of 500 artifacts" (GitHub's changelog for artifacts v4;
    // actions/upload-artifact's README, Limitations). The refusal's status and words are inferred.
    const perJob = new Map<string, number>();
    const service = await artifactService({
      CreateArtifact: (r: Record<string, unknown>) => {
        const job = String(r.workflow_job_run_backend_id);
        const count = (perJob.get(job) ?? 0) + 1;
        perJob.set(job, count);
        return count > 500
          ? {
              status: 400,
              contentType: 'application/json',
              body: JSON.stringify({
                code: 'failed_precondition',
                msg: 'the job has reached the maximum number of artifacts (500)'
              })
            }
          : undefined;
      }
    });
    const db = await databricks({ polls: 0 });
    const run = await runAction({
      inputs: databricksStep(immuta, db),
      env: attemptOf(service, 1)
    });
    expect(run.code).toBe(1);
    // 2 × 260 + 3 records and the script: the step says so, and how to go on, before the delete.
    expect(run.errors.at(-1)).toMatch(
      /^run-script would keep up to 523 artifacts for this script of 260 statements .*more than the 500 artifacts GitHub lets a job create.* Nothing was deleted\. Run the script by hand instead \(run-script: none\)/
    );
    expect(immuta.sent('DELETE')).toHaveLength(0);
    expect(db.ran).toEqual([]);
    expect(run.outputs['script-status']).toBe('skipped');
    // No record of step 3 was started: the job is far from the limit a later step may need.
    expect(service.artifacts.filter((a) => a.name.startsWith('immuta-step3-'))).toEqual([]);
  }, 120_000);
});

describe('no token in what the step shows', () => {
  it('an artifact service that echoes the job’s runtime token when it refuses a record: the token is in no message, summary or report', async () => {
    let token = '';
    let uploads = 0;
    const service = await artifactService({
      CreateArtifact: (r: Record<string, unknown>) =>
        String(r.name).startsWith('immuta-step3-') && ++uploads === 2
          ? {
              status: 401,
              contentType: 'application/json',
              body: JSON.stringify({
                code: 'unauthenticated',
                msg: `token ${token} (${Buffer.from(token).toString('base64')}) is not valid here`
              })
            }
          : undefined
    });
    const env = attemptOf(service, 1);
    token = env.ACTIONS_RUNTIME_TOKEN;
    const immuta = await immutaWith();
    const sf = await snowflake();
    const run = await runAction({ inputs: snowflakeStep(immuta, sf), env });
    expect(run.code).toBe(1);
    // The step failed for the record it could not keep, and said so.
    expect(run.errors.at(-1)).toMatch(/Keeping the record of step 3 failed/);
    const shown = await everythingShown(run);
    const claims = token.split('.')[1]!;
    expect(claims.length).toBeGreaterThan(20);
    expect(shown).not.toContain(claims);
    expect(shown).not.toContain(Buffer.from(token).toString('base64').slice(8, 60));
  }, 120_000);
});

describe('what a re-run says is true', () => {
  it('a re-run whose first record cannot be kept says the script is unfinished (script-status failed) and where it stopped, not that nothing ran', async () => {
    const immuta = await immutaWith();
    const faults: Record<string, unknown> = {};
    const service = await artifactService(faults);
    const sf = await snowflake({ failOn: /DROP USER/, failTimes: 1 });
    const first = await runAction({
      inputs: snowflakeStep(immuta, sf),
      env: attemptOf(service, 1)
    });
    expect(first.code).toBe(1);
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS.slice(0, 1));

    faults.CreateArtifact = (r: Record<string, unknown>) =>
      String(r.name).startsWith('immuta-step3-') ? 403 : undefined;
    const second = await runAction({
      inputs: snowflakeStep(immuta, sf),
      env: attemptOf(service, 2)
    });
    expect(second.code).toBe(1);
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS.slice(0, 1));
    // Statements 1 and 2 ran in attempt 1: the script is not "skipped", and something did run.
    expect(second.outputs['script-status']).toBe('failed');
    expect(second.errors.at(-1)).not.toMatch(/Nothing ran in Snowflake\./);
    expect(second.summary).toMatch(/statement 3/);
  }, 180_000);

  it('a re-run after a script that took three attempts does not say the last of them ran the script', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const sf = await snowflake({ failOn: /DROP USER|DROP ROLE/, failTimes: 1 });
    for (const n of [1, 2, 3]) {
      await runAction({ inputs: snowflakeStep(immuta, sf), env: attemptOf(service, n) });
    }
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS);
    const fourth = await runAction({
      inputs: snowflakeStep(immuta, sf),
      env: attemptOf(service, 4)
    });
    expect(fourth.code).toBe(0);
    expect(fourth.outputs['script-status']).toBe('already-ran');
    // Attempt 1 ran statements 1-2, attempt 2 statement 3, attempt 3 statements 4-6.
    const said = [visibleLog(fourth.log), fourth.summary].join('\n');
    expect(said).not.toMatch(/Attempt 3 of this workflow run ran this cleanup script/);
    // What it says of who ran the script names attempt 1, which ran its first statements.
    const lines = said.split('\n');
    expect(
      lines.some(
        (line) => /\b[Aa]ttempts? 1\b/.test(line) && /\bran\b/.test(line) && /script/.test(line)
      )
    ).toBe(true);
  }, 180_000);
});
