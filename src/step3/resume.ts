/**
 * Where a later attempt goes on, from the newest record of step 3: exactly after the last
 * statement recorded as ran. A statement that failed or was cancelled is sent again as a new
 * request; one in doubt is settled by asking the warehouse, never silently sent again; where the
 * warehouse cannot be asked, nothing runs. Pure: a record in, a decision out.
 */
import type { Platform } from '../warehouse/settings.js';
import type { RecordedStatement, Step3Record } from './record.js';

export type Resumption =
  /** No attempt started the script (no record): it runs from its first statement. */
  | { readonly kind: 'fresh' }
  /** Every statement ran; `attempts` ran them, in order (the last ran the last statement). */
  | { readonly kind: 'done'; readonly attempts: readonly number[] }
  /** Goes on at statement `at` (0-based), settling it first when `settle`. */
  | {
      readonly kind: 'resume';
      readonly at: number;
      readonly settle: boolean;
      readonly origin: number;
      /** What is known of every statement, with `at` as it will be sent (its generation). */
      readonly statements: readonly RecordedStatement[];
      /** The attempt that last sent statement `at`, if any did. */
      readonly lastSentBy: number | null;
    }
  /** Statement `at` may have run, and the warehouse cannot say: nothing runs. */
  | { readonly kind: 'stuck'; readonly at: number; readonly record: Step3Record };

/** A record that is not of this script, or does not add up: nothing is run on its word. */
export class UntrustedRecord extends Error {}

export function resumption(
  latest: Step3Record | undefined,
  script: { readonly sha256: string; readonly statements: number; readonly platform: Platform }
): Resumption {
  if (latest === undefined) return { kind: 'fresh' };
  if (latest.scriptSha256 !== script.sha256 || latest.statements.length !== script.statements) {
    throw new UntrustedRecord(
      `it is the record of another script (SHA-256 ${latest.scriptSha256.slice(0, 12)}…, ${latest.statements.length} statements; this one's is ${script.sha256.slice(0, 12)}…, ${script.statements} statements)`
    );
  }
  if (latest.platform !== script.platform) {
    throw new UntrustedRecord(`it records a run on ${latest.platform}, not ${script.platform}`);
  }
  const entries = latest.statements;
  const at = entries.findIndex((s) => s.outcome !== 'ran');
  if (at === -1) {
    const ran = entries.map((s) => s.attempt ?? latest.attempt);
    return {
      kind: 'done',
      attempts: [...new Set(ran.length ? ran : [latest.attempt])].sort((a, b) => a - b)
    };
  }
  const later = entries.slice(at + 1).findIndex((s) => s.outcome !== 'not-run');
  if (later !== -1) {
    throw new UntrustedRecord(
      `it says statement ${at + 2 + later} was sent although statement ${at + 1} had not run`
    );
  }
  const entry = entries[at]!;
  const statements = [...entries];
  let settle = false;
  if (entry.outcome === 'failed' || entry.outcome === 'cancelled') {
    // That request is over and did not run the statement: a new one, under a new request ID.
    statements[at] = { ...entry, outcome: 'not-run', generation: entry.generation + 1 };
  } else if (entry.outcome === 'in-doubt') {
    if (script.platform === 'databricks' && entry.statementId === null) {
      return { kind: 'stuck', at, record: latest };
    }
    settle = true;
  }
  return {
    kind: 'resume',
    at,
    settle,
    origin: latest.origin,
    statements,
    lastSentBy: entry.attempt
  };
}
