/**
 * What step 3 did, kept where a later attempt of the same workflow run can read it, and what a
 * later attempt makes of it. "Re-run all jobs" or "Re-run failed jobs" after the host was deleted
 * finds the host gone and can only run the script an earlier attempt kept: it must never run what
 * already ran (the platform may have been registered with Immuta again since, and the script
 * would drop the new integration's objects), nor another host's script. Pure: records in, a
 * decision out.
 */
import type { ScriptRun, StatementResult } from '../warehouse/types.js';
import type { Platform } from '../warehouse/settings.js';

export const SCRIPT_RUN_KIND = 'immuta-deregister-host/script-run';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One attempt's step 3, as it ended (a run that was cut off leaves none). */
export interface ScriptRunRecord {
  readonly kind: typeof SCRIPT_RUN_KIND;
  readonly version: 1;
  /** immuta-url and GITHUB_JOB of the run: a matrix over tenants shares the artifact name. */
  readonly tenant: string;
  readonly job: string | null;
  readonly connectionKey: string;
  /** The SHA-256 of the script that ran: a record of another script says nothing of this one. */
  readonly scriptSha256: string;
  readonly platform: Platform;
  /** GITHUB_RUN_ATTEMPT of the attempt that ran it. */
  readonly attempt: number;
  readonly status: 'ran' | 'failed';
  readonly statements: number;
  /** How many leading statements are known to have run, in this attempt or an earlier one. */
  readonly knownRun: number;
  /** Whether the statement after those may have run (its answer was lost, or never came). */
  readonly nextUncertain: boolean;
  /** Snowflake: the requestId the request was sent under, to send it again under the same. */
  readonly requestId: string | null;
  readonly writtenAt: string;
}

/** The artifact an attempt keeps its record in: one per attempt, as artifacts cannot change. */
export function recordArtifactName(artifactName: string, attempt: number): string {
  return `${artifactName}-script-run-${attempt}`;
}

/** Leading statements that ran (now or before): where a resumed run starts. */
export function knownRunOf(statements: readonly Pick<StatementResult, 'outcome'>[]): number {
  const at = statements.findIndex((s) => s.outcome !== 'ran' && s.outcome !== 'ran-before');
  return at === -1 ? statements.length : at;
}

export function recordOf(
  run: ScriptRun,
  fields: {
    tenant: string;
    job: string | null;
    connectionKey: string;
    scriptSha256: string;
    attempt: number;
  },
  now: Date
): ScriptRunRecord {
  const knownRun = knownRunOf(run.statements);
  return {
    kind: SCRIPT_RUN_KIND,
    version: 1,
    ...fields,
    platform: run.platform,
    status: run.status === 'ran' ? 'ran' : 'failed',
    statements: run.statements.length,
    knownRun: run.status === 'ran' ? run.statements.length : knownRun,
    nextUncertain: run.status !== 'ran' && run.statements[knownRun]?.outcome === 'unknown',
    requestId: run.requestId ?? null,
    writtenAt: now.toISOString()
  };
}

export function serializeRecord(record: ScriptRunRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** A record read back, trusting nothing: undefined unless every field has its shape. */
export function parseRecord(text: string): ScriptRunRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  const ok =
    r.kind === SCRIPT_RUN_KIND &&
    r.version === 1 &&
    typeof r.tenant === 'string' &&
    (typeof r.job === 'string' || r.job === null) &&
    typeof r.connectionKey === 'string' &&
    typeof r.scriptSha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(r.scriptSha256) &&
    (r.platform === 'snowflake' || r.platform === 'databricks') &&
    count(r.attempt) &&
    (r.status === 'ran' || r.status === 'failed') &&
    count(r.statements) &&
    count(r.knownRun) &&
    (r.knownRun as number) <= (r.statements as number) &&
    typeof r.nextUncertain === 'boolean' &&
    // It goes into a URL: a UUID and nothing else.
    (r.requestId === null || (typeof r.requestId === 'string' && UUID.test(r.requestId)));
  return ok ? (r as unknown as ScriptRunRecord) : undefined;
}

/** What a later attempt does with a script an earlier one kept. */
export type Resumption =
  | { readonly kind: 'already-ran'; readonly attempt: number; readonly statements: number }
  /** Starts at statement `startAt` (0-based); `uncertain` when that one may have run already. */
  | {
      readonly kind: 'resume';
      readonly startAt: number;
      readonly attempt: number;
      readonly uncertain: boolean;
      /** The request an uncertain statement went in, to send again under the same requestId. */
      readonly requestId?: string;
    }
  /** Progress unknown: the whole script, with a warning that says why. */
  | { readonly kind: 'whole'; readonly why: string; readonly requestId?: string };

/**
 * From the records of earlier attempts, those of this host's script only: a finished run wins;
 * else the furthest any attempt is known to have got. A record that names another host or
 * another script, or counts other statements, is not this script's and is passed over (records
 * of another tenant or job are left out when they are read).
 */
export function resumption(
  records: readonly ScriptRunRecord[],
  script: { connectionKey: string; sha256: string; statements: number }
): Resumption {
  const ours = records.filter(
    (r) =>
      r.connectionKey === script.connectionKey &&
      r.scriptSha256 === script.sha256 &&
      r.statements === script.statements
  );
  const ran = ours.filter((r) => r.status === 'ran').sort((a, b) => a.attempt - b.attempt)[0];
  if (ran) return { kind: 'already-ran', attempt: ran.attempt, statements: ran.statements };
  const furthest = [...ours].sort(
    (a, b) => b.knownRun - a.knownRun || Number(a.nextUncertain) - Number(b.nextUncertain)
  )[0];
  if (furthest === undefined) {
    return {
      kind: 'whole',
      why: 'no earlier attempt of this run left a record of running it (an attempt cut off while the script ran leaves none), so it may have run in part'
    };
  }
  if (furthest.knownRun === 0 && !furthest.nextUncertain) {
    // It failed at the first statement: nothing ran, nothing is uncertain.
    return { kind: 'resume', startAt: 0, attempt: furthest.attempt, uncertain: false };
  }
  const requestId = furthest.requestId ?? undefined;
  if (furthest.knownRun === 0) {
    return {
      kind: 'whole',
      why: `attempt ${furthest.attempt} ran it and failed without saying how far it got, so it may have run in part`,
      ...(requestId ? { requestId } : {})
    };
  }
  return {
    kind: 'resume',
    startAt: furthest.knownRun,
    attempt: furthest.attempt,
    uncertain: furthest.nextUncertain,
    ...(furthest.nextUncertain && requestId ? { requestId } : {})
  };
}
