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
   * unknown: the platform did not say how far a failed run got. ran-before: an earlier attempt
   * of the run ran it, so this one did not.
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
}

/** Runs a script on one platform; resolves with what happened, failures included. */
export interface ScriptRunner {
  readonly platform: Platform;
  /** `startAt` (0-based) resumes a script an earlier attempt ran in part. */
  run(script: string, options?: { startAt?: number }): Promise<ScriptRun>;
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
