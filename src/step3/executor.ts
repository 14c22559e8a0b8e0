/**
 * The step-3 executor, one for both platforms: statements in, one outcome per statement out.
 * It sends one statement at a time through the platform's adapter, from where the record says
 * to go on, and keeps the record beside it: before the first statement, when a statement is
 * accepted (so its ID is known), and after each one ends. It stops at the first statement that
 * did not run, when the job is cancelled, when script-timeout-seconds runs out, or when a record
 * cannot be kept (a later attempt could not know what this one did).
 */
import { excerpt } from '../action/escape.js';
import type { ScriptStatement } from '../warehouse/statements.js';
import {
  PLATFORM_NAMES,
  type StatementEnd,
  type StatementResult,
  type WarehouseAdapter
} from '../warehouse/types.js';
import type { RecordedStatement, RecordEvent, RecordStop } from './record.js';

/** Keeps what is known now where a later attempt reads it; throws when it cannot. */
export interface Recorder {
  write(
    event: RecordEvent,
    stop: RecordStop,
    statements: readonly RecordedStatement[]
  ): Promise<void>;
}

export interface ExecutorInput {
  readonly statements: readonly ScriptStatement[];
  /** Where to start, whether that statement is settled first, and what is known of each. */
  readonly start: {
    readonly at: number;
    readonly settle: boolean;
    readonly known: readonly RecordedStatement[];
  };
  readonly attempt: number;
  readonly adapter: WarehouseAdapter;
  /** Undefined when the run keeps no artifacts (upload-artifact: false). */
  readonly recorder: Recorder | undefined;
  readonly deadline: number;
  readonly signal: AbortSignal;
  readonly log: { info(message: string): void; warning(message: string): void };
}

export interface Execution {
  /** What is known of each statement now, as the last record says it (or would have). */
  readonly known: readonly RecordedStatement[];
  /** Each statement as the step reports it. */
  readonly results: readonly StatementResult[];
  readonly stop: Exclude<RecordStop, null>;
  /** Why it stopped before the end, said for the reader. */
  readonly error: string | undefined;
}

/** The record before the first statement could not be kept: nothing was sent. */
export class FirstRecordFailed extends Error {}

/**
 * How long a record may still take once the job is cancelled. The runner sends SIGTERM 7.5 s
 * after its SIGINT and kills the step 2.5 s later: the step ends, saying why, before that. An
 * upload given up on cannot be told to stop (the artifact package has no abort); it goes on
 * unheeded until the process ends, once the step has said what it did.
 */
export const RECORD_AFTER_CANCEL_MS = 3000;

/** The write, or an error once the job was cancelled and RECORD_AFTER_CANCEL_MS have passed. */
export function withinCancelGrace(
  write: Promise<void>,
  signal: AbortSignal,
  graceMs = RECORD_AFTER_CANCEL_MS
): Promise<void> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const start = () => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `the job was cancelled while it was being uploaded, and the artifact service did not answer within ${graceMs / 1000} s after the cancel`
            )
          ),
        graceMs
      );
    };
    const settle = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', start);
    };
    if (signal.aborted) start();
    else signal.addEventListener('abort', start, { once: true });
    write.then(
      () => {
        settle();
        resolve();
      },
      (error: unknown) => {
        settle();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    );
  });
}

export async function execute(input: ExecutorInput): Promise<Execution> {
  const { statements, adapter, attempt, signal, deadline, log } = input;
  const name = PLATFORM_NAMES[adapter.platform];
  const known: RecordedStatement[] = [...input.start.known];
  const results: StatementResult[] = statements.map((s, i) => ({
    text: s.text,
    outcome: i < input.start.at ? 'ran-before' : 'not-run',
    durationMs: undefined,
    error: undefined
  }));
  let at = input.start.at;
  let settle = input.start.settle;
  let recordError: string | undefined;

  /** The next statement is about to go: it may be sent from now on, so it is in doubt. */
  const sending = (i: number) => {
    if (i >= statements.length || settle) return;
    known[i] = { ...known[i]!, outcome: 'in-doubt', attempt, statementId: null };
  };
  const record = async (event: RecordEvent, stop: RecordStop) => {
    if (!input.recorder || recordError !== undefined) return;
    try {
      await withinCancelGrace(input.recorder.write(event, stop, known), signal);
    } catch (error) {
      recordError = (error as Error).message;
    }
  };
  const finish = async (stop: Exclude<RecordStop, null>, error?: string): Promise<Execution> => {
    if (recordError !== undefined) {
      // One more try, so that a later attempt reads what is true now, not what was going to be.
      const failed = recordError;
      recordError = undefined;
      await record('ended', 'record-failed');
      recordError = failed;
      return {
        known,
        results,
        stop: 'record-failed',
        error: `${error ? `${error} ` : ''}Keeping the record of step 3 failed (${failed}), so a re-run could not know what this attempt did: it sent nothing more.`
      };
    }
    await record('ended', stop);
    return { known, results, stop, error };
  };

  /** A record could not be kept: statement `i` is not sent after all. */
  const unsent = (i: number) => {
    known[i] = { ...known[i]!, outcome: 'not-run', attempt: null };
    return finish('record-failed');
  };

  sending(at);
  if (input.recorder) {
    try {
      await withinCancelGrace(input.recorder.write('started', null, known), signal);
    } catch (error) {
      throw new FirstRecordFailed((error as Error).message);
    }
  }

  while (at < statements.length) {
    const statement = statements[at]!;
    const label = `Statement ${at + 1} of ${statements.length} (${excerpt(statement.text, 120)})`;
    if (signal.aborted || Date.now() >= deadline) {
      // Not sent: a later attempt sends it, under the same ID.
      if (!settle) known[at] = { ...known[at]!, outcome: 'not-run', attempt: null };
      const cancelled = signal.aborted;
      return finish(
        cancelled ? 'cancelled' : 'timeout',
        `${label} was not sent: ${cancelled ? 'the job was cancelled' : `script-timeout-seconds ran out`}.`
      );
    }
    const began = Date.now();
    const entry = known[at]!;
    const end: StatementEnd = await adapter.execute(
      {
        statement,
        script: statements,
        generation: entry.generation,
        ...(settle ? { settle: { statementId: entry.statementId ?? undefined } } : {})
      },
      {
        deadline,
        signal,
        onAccepted: async (statementId) => {
          known[at] = { ...known[at]!, statementId };
          await record('accepted', null);
        }
      }
    );
    const durationMs = Date.now() - began;
    // Not asked is not answered: a statement in doubt that was not settled stays in doubt.
    const outcome = settle && end.outcome === 'not-run' ? 'in-doubt' : end.outcome;
    known[at] = {
      ...known[at]!,
      outcome,
      statementId: end.statementId ?? known[at]!.statementId
    };
    results[at] = { text: statement.text, outcome, durationMs, error: end.error };

    const over = end.outcome === 'failed' || end.outcome === 'cancelled';
    if (settle && over && !signal.aborted && recordError === undefined) {
      // The earlier request is over and did not run it: it goes again as a new request.
      log.info(
        `${label}: ${name} says the request an earlier attempt sent ended ${end.outcome} (${excerpt(end.error ?? 'no reason given', 300)}); it is sent again as a new request.`
      );
      settle = false;
      known[at] = { ...known[at]!, outcome: 'not-run', generation: entry.generation + 1 };
      sending(at);
      await record('ended', null);
      if (recordError !== undefined) return unsent(at);
      continue;
    }
    if (settle && end.outcome === 'ran') {
      log.info(`${label}: ${name} says the request an earlier attempt sent ran.`);
    }
    settle = false;
    if (end.outcome !== 'ran') {
      const stop = signal.aborted
        ? 'cancelled'
        : Date.now() >= deadline && over
          ? 'timeout'
          : end.outcome === 'in-doubt'
            ? 'in-doubt'
            : 'failed';
      return finish(stop, `${label} ${describe(end)}`);
    }
    at++;
    if (signal.aborted) {
      return finish('cancelled', `The job was cancelled after statement ${at} ran.`);
    }
    if (recordError !== undefined) return finish('record-failed');
    if (at === statements.length) break;
    sending(at);
    await record('ended', null);
    if (recordError !== undefined) return unsent(at);
  }
  return finish('done');
}

function describe(end: StatementEnd): string {
  const why = end.error ?? 'no reason given';
  switch (end.outcome) {
    case 'failed':
      return `failed: ${why}`;
    case 'cancelled':
      return `was cancelled: ${why}`;
    case 'not-run':
      return `was not sent: ${why}`;
    default:
      return `may or may not have run: ${why}`;
  }
}
