/** What the warehouse step reports: one shape for both platforms. */
import type { Platform } from './settings.js';

export const PLATFORM_NAMES: Record<Platform, string> = {
  snowflake: 'Snowflake',
  databricks: 'Databricks'
};

export interface StatementResult {
  /** The statement as the splitter found it. */
  readonly text: string;
  /**
   * ran-before: an earlier attempt ran it, and this run resumed after it (not sent again, or
   * only replayed as a session statement). unknown: it may or may not have run (the platform
   * did not say how far a failed run got, or an answer was lost).
   */
  readonly outcome: 'ran' | 'ran-before' | 'failed' | 'not-run' | 'unknown';
  /** Known for Databricks, where each statement is a request of its own. */
  readonly durationMs: number | undefined;
  readonly error: string | undefined;
}

export interface ScriptRun {
  readonly platform: Platform;
  /** already-ran: an earlier attempt of this workflow run ran the whole script; nothing ran now. */
  readonly status: 'ran' | 'failed' | 'skipped' | 'already-ran';
  readonly statements: readonly StatementResult[];
  /** How many statements finished; undefined when the platform did not say. */
  readonly statementsRun: number | undefined;
  readonly durationMs: number;
  /** Why the run failed, for the log and the summary. */
  readonly error: string | undefined;
  /** Why it was skipped, or where the script came from when not from this run. */
  readonly note: string | undefined;
  /**
   * Snowflake: the requestId the script was sent under. Kept in the record of the run, so that
   * a later attempt sends a request whose answer was lost again under it (retry=true), and
   * Snowflake answers for that request instead of running the script a second time.
   */
  readonly requestId?: string;
}

export interface RunOptions {
  /**
   * The 0-based statement to start at, for a script an earlier attempt ran in part: the ones
   * before it are not sent (Snowflake replays the session-only ones among them) and come back
   * 'ran-before'. 0 by default.
   */
  readonly startAt?: number;
  /**
   * Snowflake: send the request under this requestId, with retry=true from the first try: an
   * earlier attempt sent the same request under it and its answer was lost.
   */
  readonly requestId?: string;
}

/** Runs a script on one platform; resolves with what happened, failures included. */
export interface ScriptRunner {
  readonly platform: Platform;
  /**
   * Signs in and runs SELECT 1 in the session the script will get (Snowflake: role and
   * warehouse; Databricks: the warehouse); throws a WarehouseError saying what failed and what
   * to do.
   */
  check(): Promise<void>;
  run(script: string, options?: RunOptions): Promise<ScriptRun>;
}

/** A warehouse call that failed: said for the reader, with the request it was. */
export class WarehouseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WarehouseError';
  }
}

/** Every statement as not run, for a script that never started. */
export function notRun(statements: readonly string[]): StatementResult[] {
  return statements.map((text) => ({
    text,
    outcome: 'not-run',
    durationMs: undefined,
    error: undefined
  }));
}

/** The statements before startAt as run by an earlier attempt, the rest as not run. */
export function resumedFrom(statements: readonly string[], startAt: number): StatementResult[] {
  return statements.map((text, i) => ({
    text,
    outcome: i < startAt ? 'ran-before' : 'not-run',
    durationMs: undefined,
    error: undefined
  }));
}

/** startAt as given, checked: a whole number within the script. */
export function startIndex(options: RunOptions | undefined, count: number): number {
  const startAt = options?.startAt ?? 0;
  if (!Number.isInteger(startAt) || startAt < 0 || startAt > count) {
    throw new RangeError(`startAt must be a whole number from 0 to ${count}, but was ${startAt}.`);
  }
  return startAt;
}
