/**
 * Step 3's words, shared by the executor and the platform adapters: what one statement's request
 * is, how it ended, what an adapter does, and what the step reports.
 */
import type { Platform } from './settings.js';
import type { ScriptStatement } from './statements.js';

export const PLATFORM_NAMES: Record<Platform, string> = {
  snowflake: 'Snowflake',
  databricks: 'Databricks'
};

/**
 * How one statement's request ended, from the warehouse's own answer:
 * ran: its answer proves it ran; failed: the warehouse refused or failed it (it did not run);
 * cancelled: the action cancelled it and the warehouse says it ended so (it did not run);
 * in-doubt: it may have run (an answer was lost, came in another shape, or a cancel was not
 * confirmed); not-run: it was never sent.
 */
export type StatementOutcome = 'ran' | 'failed' | 'cancelled' | 'in-doubt' | 'not-run';

/** One statement to send, with what its session and its identity need. */
export interface StatementRequest {
  readonly statement: ScriptStatement;
  /** The whole script, for the session the statement needs (what came before it). */
  readonly script: readonly ScriptStatement[];
  /** How many times it was sent anew before: Snowflake's request ID is bumped by it. */
  readonly generation: number;
  /**
   * Set to settle a request an earlier attempt may have sent, by asking the warehouse, instead of
   * sending a new one: Snowflake resends it under its request ID with retry=true; Databricks reads
   * its statement_id back.
   */
  readonly settle?: { readonly statementId: string | undefined };
}

export interface StatementEnd {
  readonly outcome: StatementOutcome;
  /** Databricks: the statement_id it ran under, once known. */
  readonly statementId?: string;
  /** Why it failed or is in doubt, said for the reader (secrets cut out). */
  readonly error?: string;
}

export interface Controls {
  /** When script-timeout-seconds runs out (ms since the epoch). */
  readonly deadline: number;
  /** Aborted when the runner cancels the job (SIGINT/SIGTERM). */
  readonly signal: AbortSignal;
  /** Told a statement's ID the moment the warehouse takes it; the adapter waits for it. */
  readonly onAccepted: (statementId: string) => Promise<void>;
}

/** One platform, as step 3 needs it. Every method throws only WarehouseError for its failures. */
export interface WarehouseAdapter {
  readonly platform: Platform;
  /**
   * Signs in and proves the session the script gets (before anything is generated), in the
   * account or workspace of `hostname`, Immuta's record of the host; says what it proved.
   */
  check(hostname: string | undefined): Promise<string>;
  /** Proves the session each statement will be sent with (before anything is deleted). */
  checkScript(statements: readonly ScriptStatement[]): Promise<void>;
  /** One statement, from its request to its end (or settles one an earlier attempt sent). */
  execute(request: StatementRequest, controls: Controls): Promise<StatementEnd>;
  /** Where to look when a statement's outcome cannot be settled by asking the warehouse. */
  whereToCheck(statementId: string | undefined): string;
}

/** A statement as the step reports it. */
export interface StatementResult {
  /** The statement as the splitter found it. */
  readonly text: string;
  /** ran-before: an earlier attempt of the run ran it; this one did not send it again. */
  readonly outcome: StatementOutcome | 'ran-before';
  /** How long its request took, when this attempt sent it. */
  readonly durationMs: number | undefined;
  readonly error: string | undefined;
}

export interface ScriptRun {
  readonly platform: Platform;
  /** already-ran: an earlier attempt of this workflow run ran the whole script; nothing ran now. */
  readonly status: 'ran' | 'failed' | 'skipped' | 'already-ran';
  readonly statements: readonly StatementResult[];
  /** How many statements ran in this attempt. */
  readonly statementsRun: number;
  readonly durationMs: number;
  /** Why the run failed, for the log and the summary. */
  readonly error: string | undefined;
  /** Why it was skipped, or where the script came from when not from this run. */
  readonly note: string | undefined;
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
