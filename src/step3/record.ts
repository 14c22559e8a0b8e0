/**
 * The record of step 3: what a later attempt of the workflow run needs to go on exactly where
 * this one stopped, and never send a statement twice. One record is written before the first
 * statement, one after each statement ends, and (Databricks) one when a statement is accepted,
 * so its statement_id is known. Artifacts cannot change, so each record is an artifact of its
 * own, and each holds everything known so far: a later attempt reads only the newest. Pure.
 */
import { createHash } from 'node:crypto';
import type { Platform } from '../warehouse/settings.js';
import type { StatementOutcome } from '../warehouse/types.js';

export const RECORD_KIND = 'immuta-deregister-host/step3-record';

/** Whose script run a record belongs to: the same for every record of it. */
export interface RecordIdentity {
  /** immuta-url: a matrix over tenants shares job, key and artifact name. */
  readonly tenant: string;
  /** GITHUB_JOB. */
  readonly job: string | null;
  readonly connectionKey: string;
  readonly platform: Platform;
  /** GITHUB_RUN_ID: records of another run are never read. */
  readonly runId: string | null;
  /** The artifact the script was kept in, which the record's name is derived from. */
  readonly scriptArtifact: string;
  readonly scriptSha256: string;
}

export interface RecordedStatement {
  readonly outcome: StatementOutcome;
  /** How many times it was sent anew: Snowflake's request ID is derived from it. */
  readonly generation: number;
  /** The attempt that last sent it; null when none did. */
  readonly attempt: number | null;
  /** Databricks: the statement_id of its last request, once Databricks took it. */
  readonly statementId: string | null;
}

/** started: before the first statement; accepted: a statement was taken; ended: one ended. */
export type RecordEvent = 'started' | 'accepted' | 'ended';

/** Why an attempt sends nothing more: null while it goes on. */
export type RecordStop =
  'done' | 'failed' | 'cancelled' | 'timeout' | 'in-doubt' | 'record-failed' | null;

export interface Step3Record extends RecordIdentity {
  readonly kind: typeof RECORD_KIND;
  readonly version: 1;
  /** The attempt that started this run of the script: its request IDs are derived from it. */
  readonly origin: number;
  /** The attempt that wrote it, and its place among that attempt's records (from 0). */
  readonly attempt: number;
  readonly sequence: number;
  readonly event: RecordEvent;
  readonly stop: RecordStop;
  /** One entry per statement of the script, in order. */
  readonly statements: readonly RecordedStatement[];
  readonly writtenAt: string;
}

/**
 * The first part of every record's name for this identity. It never starts like an artifact
 * name the action gives a script (immuta-cleanup-script…), and its digest of tenant, job, key
 * and script artifact keeps a neighbour's records (another tenant, key or job) apart.
 */
export function recordPrefix(identity: RecordIdentity): string {
  const digest = createHash('sha256')
    .update(
      JSON.stringify([
        identity.tenant,
        identity.job,
        identity.connectionKey,
        identity.scriptArtifact
      ])
    )
    .digest('hex')
    .slice(0, 16);
  return `immuta-step3-${digest}-`;
}

export function recordName(identity: RecordIdentity, attempt: number, sequence: number): string {
  return `${recordPrefix(identity)}${attempt}-${sequence}`;
}

/** The attempt and sequence a record's name gives, or undefined for any other name. */
export function recordPlace(
  name: string,
  prefix: string
): { attempt: number; sequence: number } | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const m = /^([1-9]\d{0,5})-(0|[1-9]\d{0,5})$/.exec(name.slice(prefix.length));
  return m ? { attempt: Number(m[1]), sequence: Number(m[2]) } : undefined;
}

export function serializeRecord(record: Step3Record): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

const OUTCOMES: ReadonlySet<string> = new Set([
  'ran',
  'failed',
  'cancelled',
  'in-doubt',
  'not-run'
]);
const EVENTS: ReadonlySet<string> = new Set(['started', 'accepted', 'ended']);
const STOPS: ReadonlySet<string> = new Set([
  'done',
  'failed',
  'cancelled',
  'timeout',
  'in-doubt',
  'record-failed'
]);
/** A statement_id goes into a URL path: letters, digits and dashes only. */
const STATEMENT_ID = /^[A-Za-z0-9-]{1,100}$/;

/** A record read back, trusting nothing: undefined unless every field has its shape. */
export function parseRecord(text: string): Step3Record | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    return undefined;
  }
  if (!isObject(raw)) return undefined;
  const r = raw;
  const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  const ok =
    r.kind === RECORD_KIND &&
    r.version === 1 &&
    typeof r.tenant === 'string' &&
    (typeof r.job === 'string' || r.job === null) &&
    typeof r.connectionKey === 'string' &&
    (r.platform === 'snowflake' || r.platform === 'databricks') &&
    (r.runId === null || (typeof r.runId === 'string' && /^\d+$/.test(r.runId))) &&
    typeof r.scriptArtifact === 'string' &&
    typeof r.scriptSha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(r.scriptSha256) &&
    count(r.origin) &&
    count(r.attempt) &&
    (r.origin as number) >= 1 &&
    (r.origin as number) <= (r.attempt as number) &&
    count(r.sequence) &&
    typeof r.event === 'string' &&
    EVENTS.has(r.event) &&
    (r.stop === null || (typeof r.stop === 'string' && STOPS.has(r.stop))) &&
    typeof r.writtenAt === 'string' &&
    Array.isArray(r.statements) &&
    r.statements.every(
      (s) =>
        isObject(s) &&
        typeof s.outcome === 'string' &&
        OUTCOMES.has(s.outcome) &&
        count(s.generation) &&
        (s.attempt === null ||
          (count(s.attempt) && (s.attempt as number) <= (r.attempt as number))) &&
        (s.statementId === null ||
          (typeof s.statementId === 'string' && STATEMENT_ID.test(s.statementId)))
    );
  return ok ? (r as unknown as Step3Record) : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
