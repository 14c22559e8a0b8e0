/**
 * Step 3 for one host, as the flow uses it: the pre-flight check (before anything is generated),
 * the script check (before anything is deleted), and one call of the executor, from the first
 * statement or from where the records of earlier attempts say this script run stopped.
 */
import { randomUUID } from 'node:crypto';
import type { ArtifactClient } from '../artifacts/client.js';
import { nextStepWhenUnreadable } from '../artifacts/damaged.js';
import { excerpt } from '../action/escape.js';
import type { Platform, WarehouseConfig } from '../warehouse/settings.js';
import { scriptStatements, unrunnable, type ScriptStatement } from '../warehouse/statements.js';
import {
  PLATFORM_NAMES,
  WarehouseError,
  type ScriptRun,
  type StatementResult,
  type WarehouseAdapter
} from '../warehouse/types.js';
import { runnerCancellation } from './cancellation.js';
import { execute, FirstRecordFailed, type Execution } from './executor.js';
import type { RecordIdentity, RecordedStatement } from './record.js';
import { newestRecord, recordWriter, UnreadableRecords } from './record-store.js';
import { requestIdFor, type RequestScope } from './request-id.js';
import { resumption, UntrustedRecord, type Resumption } from './resume.js';

export interface Step3Options {
  readonly warehouse: WarehouseConfig;
  readonly tenant: string;
  readonly connectionKey: string;
  readonly job: string | undefined;
  readonly runId: string | undefined;
  readonly repository: string | undefined;
  readonly attempt: number;
  readonly retentionDays: number | undefined;
  /** Where this attempt writes each record before it is uploaded. */
  readonly recordFile: string;
  /** A folder for files that live only during the step (RUNNER_TEMP). */
  readonly scratch: string;
  /** The run's artifacts; undefined with upload-artifact: false (no records are kept). */
  readonly artifacts: ArtifactClient | undefined;
  /** The adapter, given how to name a Snowflake request. */
  readonly adapter: (requestId: (index: number, generation: number) => string) => WarehouseAdapter;
  readonly log: { info(message: string): void; warning(message: string): void };
  readonly redact: (text: string) => string;
}

/** The script as this attempt found it: its text, and the artifact it is kept in. */
export interface ScriptToRun {
  readonly script: string;
  readonly sha256: string;
  /** The artifact the script was actually kept in; undefined when none was uploaded. */
  readonly artifact: string | undefined;
  /** Where it came from, when an earlier attempt kept it (for the log). */
  readonly from?: string;
}

export interface Step3 {
  readonly platform: Platform;
  /**
   * Signs in and proves the session, in the account or workspace of `hostname` (Immuta's record
   * of the host), before anything is generated, or on a re-run before anything runs; throws
   * saying what failed.
   */
  check(hostname: string | undefined, when?: 'first' | 'rerun'): Promise<void>;
  /** Proves the script can run one statement a request, in its session (before the delete). */
  checkScript(script: string): Promise<ScriptStatement[]>;
  /** What earlier attempts did with this script; throws when that cannot be read. */
  resumption(script: ScriptToRun): Promise<Resumption>;
  /** Runs the script from where `resumption` says (fresh for a host this attempt deleted). */
  run(script: ScriptToRun, from: Resumption): Promise<ScriptRun>;
}

/** GitHub's limit on the artifacts one job creates (actions/upload-artifact's README). */
const ARTIFACTS_PER_JOB = 500;

/**
 * The most artifacts a step with step 3 creates for a script of `n` statements: the script's,
 * one record before the first statement, one after each (and on Databricks one when each is
 * taken), and one more when the run stops.
 */
function mostArtifacts(n: number, platform: Platform): number {
  return 1 + 1 + (platform === 'databricks' ? 2 * n : n) + 1;
}

export function stepThree(options: Step3Options): Step3 {
  const platform = options.warehouse.platform;
  const name = PLATFORM_NAMES[platform];
  let scope: RequestScope | undefined;
  const adapter = options.adapter((index, generation) => {
    if (scope === undefined) throw new Error('no request scope');
    return requestIdFor(scope, index, generation);
  });
  const identityOf = (script: ScriptToRun): RecordIdentity => ({
    tenant: options.tenant,
    job: options.job ?? null,
    connectionKey: options.connectionKey,
    platform,
    runId: options.runId ?? null,
    scriptArtifact: script.artifact ?? '',
    scriptSha256: script.sha256
  });

  return {
    platform,

    async check(hostname, when = 'first') {
      let proven: string;
      try {
        proven = await adapter.check(hostname);
      } catch (error) {
        if (!(error instanceof WarehouseError)) throw error;
        throw new Error(
          `The pre-flight check in ${name} failed, so ${when === 'first' ? 'nothing was generated or deleted in Immuta' : `nothing ran in ${name}`}: ${error.message}`,
          { cause: error }
        );
      }
      options.log.info(`Pre-flight check: ${proven}.`);
    },

    async checkScript(script) {
      const statements = scriptStatements(script, platform);
      const bad = unrunnable(statements, platform);
      if (bad !== undefined) {
        throw new Error(
          `run-script cannot run this cleanup script one statement at a time, as it runs every script: statement ${bad.index + 1} (${excerpt(options.redact(statements[bad.index]!.text), 120)}) ${bad.why}. Nothing was deleted. Run the script by hand instead (run-script: none), after the delete.`
        );
      }
      if (options.artifacts !== undefined) {
        const most = mostArtifacts(statements.length, platform);
        if (most > ARTIFACTS_PER_JOB) {
          throw new Error(
            `run-script would keep up to ${most} artifacts for this script of ${statements.length} statements (the script, then a record of step 3 before the first statement and after each${platform === 'databricks' ? ', and one when Databricks takes each' : ''}), more than the ${ARTIFACTS_PER_JOB} artifacts GitHub lets a job create, so its records would stop part-way. Nothing was deleted. Run the script by hand instead (run-script: none), after the delete.`
          );
        }
      }
      try {
        await adapter.checkScript(statements);
      } catch (error) {
        if (!(error instanceof WarehouseError)) throw error;
        throw new Error(
          `The script's session does not work in ${name}, so nothing was deleted: ${error.message}`,
          { cause: error }
        );
      }
      return statements;
    },

    async resumption(script) {
      const { artifacts } = options;
      if (artifacts === undefined || script.artifact === undefined) return { kind: 'fresh' };
      try {
        const latest = await newestRecord(artifacts, identityOf(script), options.attempt);
        return resumption(latest, {
          sha256: script.sha256,
          statements: scriptStatements(script.script, platform).length,
          platform
        });
      } catch (error) {
        if (!(error instanceof UnreadableRecords) && !(error instanceof UntrustedRecord)) {
          throw error;
        }
        throw new Error(
          `Reading what earlier attempts of this run did in ${name} failed: ${error.message}. Nothing ran, so that nothing runs twice; ${nextStepWhenUnreadable(error instanceof UntrustedRecord || error.damaged)}.`,
          { cause: error }
        );
      }
    },

    async run(script, from) {
      const statements = scriptStatements(script.script, platform);
      if (from.kind === 'done') return alreadyRan(platform, statements, from.attempts, script.from);
      if (from.kind === 'stuck') {
        const entry = from.record.statements[from.at]!;
        throw new Error(
          `Statement ${from.at + 1} of ${statements.length} (${excerpt(options.redact(statements[from.at]!.text), 120)}) may have run in attempt ${entry.attempt ?? from.record.attempt}, and ${name} cannot say: its request was sent but its answer, with the ID to ask about it, never came. Nothing ran, so that nothing runs twice. Check ${adapter.whereToCheck(entry.statementId ?? undefined)} for it, then run the rest of the script by hand: from statement ${from.at + 1} if it did not run, from statement ${from.at + 2} if it did.`
        );
      }
      const origin = from.kind === 'resume' ? from.origin : options.attempt;
      scope = {
        run:
          options.runId !== undefined
            ? `${options.repository ?? ''}/${options.runId}`
            : `outside a workflow run ${randomUUID()}`,
        tenant: options.tenant,
        job: options.job ?? null,
        connectionKey: options.connectionKey,
        scriptSha256: script.sha256,
        origin
      };
      const start =
        from.kind === 'resume'
          ? { at: from.at, settle: from.settle, known: from.statements }
          : { at: 0, settle: false, known: statements.map(neverSent) };
      if (from.kind === 'resume') {
        options.log.info(
          from.at === 0
            ? `No statement of this script ran in earlier attempts: running it from statement 1.`
            : `Earlier attempts of this run ran statements 1 to ${from.at} of ${statements.length}: going on at statement ${from.at + 1}.`
        );
        if (from.settle) {
          options.log.info(
            `Statement ${from.at + 1} may have run in attempt ${from.lastSentBy ?? '?'}: asking ${name} how its request ended before anything else is sent.`
          );
        }
      }
      const recorder =
        options.artifacts && script.artifact !== undefined
          ? recordWriter({
              client: options.artifacts,
              identity: identityOf(script),
              origin,
              attempt: options.attempt,
              file: options.recordFile,
              scratch: options.scratch,
              retentionDays: options.retentionDays,
              log: options.log
            })
          : undefined;
      options.log.info(`Running the cleanup script in ${name}, one statement a request.`);
      const started = Date.now();
      const cancellation = runnerCancellation();
      let execution: Execution;
      try {
        execution = await execute({
          statements,
          start,
          attempt: options.attempt,
          adapter,
          recorder,
          deadline: started + options.warehouse.timeoutMs,
          signal: cancellation.signal,
          log: options.log
        });
      } catch (error) {
        if (!(error instanceof FirstRecordFailed)) throw error;
        const kept = `The cleanup script is kept${script.artifact ? ` (artifact '${script.artifact}')` : ''}`;
        if (from.kind === 'resume' && (from.at > 0 || from.settle)) {
          // Earlier attempts ran some of it: the script is unfinished, not skipped.
          return unfinished(platform, statements, from, options.redact(error.message), kept);
        }
        throw new Error(
          options.redact(
            `Step 3 did not start: keeping its record before the first statement failed (${error.message}), and without it a re-run could not know what ran. Nothing ran in ${name}. ${kept}; a re-run of this job runs it.`
          ),
          { cause: error }
        );
      } finally {
        cancellation.dispose();
      }
      const durationMs = Date.now() - started;
      const statementsRun = execution.results.filter((r) => r.outcome === 'ran').length;
      if (execution.stop === 'done') {
        options.log.info(
          `Ran the cleanup script in ${name}: ${statementsRun} statement${statementsRun === 1 ? '' : 's'} in ${(durationMs / 1000).toFixed(1)} s.`
        );
      }
      const cancelled = cancellation.received();
      return {
        platform,
        status: execution.stop === 'done' ? 'ran' : 'failed',
        statements: execution.results,
        statementsRun,
        durationMs,
        error:
          execution.stop === 'done'
            ? undefined
            : options.redact(
                `${cancelled ? `The job was cancelled (${cancelled}). ` : ''}${execution.error ?? 'no reason given'}`
              ),
        note: script.from
      };
    }
  };
}

/**
 * A re-run that could not keep its first record, after earlier attempts ran part of the script:
 * nothing ran in this attempt, and the script is unfinished where they left it.
 */
function unfinished(
  platform: Platform,
  statements: readonly ScriptStatement[],
  from: Extract<Resumption, { kind: 'resume' }>,
  why: string,
  kept: string
): ScriptRun {
  const name = PLATFORM_NAMES[platform];
  const at = from.at;
  const ranBefore = at === 0 ? '' : at === 1 ? 'statement 1' : `statements 1 to ${at}`;
  const doubt = from.settle
    ? ` Statement ${at + 1} may have run in attempt ${from.lastSentBy ?? '?'}: ${name} was not asked how it ended.`
    : '';
  return {
    platform,
    status: 'failed',
    statements: statements.map((s, i): StatementResult => ({
      text: s.text,
      outcome: i < at ? 'ran-before' : i === at && from.settle ? 'in-doubt' : 'not-run',
      durationMs: undefined,
      error: undefined
    })),
    statementsRun: 0,
    durationMs: 0,
    error: `Step 3 did not go on: keeping its record before the next statement failed (${why}), and without it a later re-run could not know what ran. Nothing ran in ${name} in this attempt; ${ranBefore ? `earlier attempts ran ${ranBefore} of ${statements.length}, so ` : ''}the cleanup script is unfinished from statement ${at + 1}.${doubt} ${kept}; a re-run of this job goes on at statement ${at + 1}.`,
    note: undefined
  };
}

function neverSent(): RecordedStatement {
  return { outcome: 'not-run', generation: 0, attempt: null, statementId: null };
}

function alreadyRan(
  platform: Platform,
  statements: readonly ScriptStatement[],
  attempts: readonly number[],
  from: string | undefined
): ScriptRun {
  return {
    platform,
    status: 'already-ran',
    statements: statements.map((s): StatementResult => ({
      text: s.text,
      outcome: 'ran-before',
      durationMs: undefined,
      error: undefined
    })),
    statementsRun: statements.length,
    durationMs: 0,
    error: undefined,
    note: `${attemptsText(attempts)} of this workflow run ran this cleanup script in ${PLATFORM_NAMES[platform]}${from ? ` (${from})` : ''}; nothing ran again.`
  };
}

/** "Attempt 2", "Attempts 1 and 2", "Attempts 1 to 3", "Attempts 1, 3 and 4". */
export function attemptsText(attempts: readonly number[]): string {
  const [first, ...rest] = attempts;
  if (first === undefined) return 'An earlier attempt';
  if (rest.length === 0) return `Attempt ${first}`;
  const last = rest.at(-1)!;
  if (rest.length === 1) return `Attempts ${first} and ${last}`;
  if (last - first === rest.length) return `Attempts ${first} to ${last}`;
  return `Attempts ${[first, ...rest.slice(0, -1)].join(', ')} and ${last}`;
}
