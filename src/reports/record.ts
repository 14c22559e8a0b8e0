/**
 * The audit record of a run: per host, what was found, what was kept and what was removed, and
 * who approved the run. One JSON file for every run (report-path), written before the deletes
 * (for the artifact) and again at the end. It never holds a secret or a script, only the
 * script's file and SHA-256.
 */
import type { ApprovalRecord } from '../approvals/review-history.js';

export const REPORT_KIND = 'immuta-deregister-host/report';

export type HostStatus =
  | 'deregistered'
  | 'dry-run'
  | 'already-absent'
  | 'failed'
  /** Looked up and kept, not deleted yet (the report as it stands before the deletes). */
  | 'kept'
  /** Not attempted: an earlier failure stopped the batch (fail-fast), or the plan no longer held. */
  | 'not-started';

export interface HostRecord {
  readonly connectionKey: string;
  readonly integrationId: number | undefined;
  readonly technology: string | undefined;
  readonly hostname: string | undefined;
  readonly status: HostStatus;
  readonly deleted: boolean;
  /**
   * The delete was sent and what became of it is unknown (its answer was lost, or the lookup
   * that would tell failed): `deleted` is false as nothing confirms it, yet the host may be gone.
   */
  readonly mayHaveDeleted: boolean;
  readonly childCount: number | undefined;
  /** The script's file, relative to the report's folder. */
  readonly scriptFile: string | undefined;
  readonly scriptSha256: string | undefined;
  readonly timings: { lookupMs?: number; scriptMs?: number; deleteMs?: number };
  readonly error: string | undefined;
  /**
   * For a host already gone: the earlier attempt of this workflow run that deleted it, as the
   * record it kept before the delete proves; undefined when nothing proves one did.
   */
  readonly deletedByAttempt?: number | undefined;
}

export interface RunReport {
  readonly kind: typeof REPORT_KIND;
  readonly version: 1;
  readonly tenant: string;
  readonly dryRun: boolean;
  /** before-delete: as uploaded with the scripts; final: as the run ended. */
  readonly stage: 'before-delete' | 'final';
  readonly startedAt: string;
  readonly writtenAt: string;
  /**
   * Who wrote it: the job (GITHUB_JOB) and the attempt (GITHUB_RUN_ATTEMPT) of the workflow run.
   * An artifact is told apart by it: a later attempt of the same job may replace its own, never
   * another job's (a plan job's, say).
   */
  readonly job: string | undefined;
  readonly attempt: string | undefined;
  readonly hosts: readonly HostRecord[];
  /**
   * The run's review history (who approved which environment), in the final report when
   * github-token was given in a workflow run; null otherwise.
   */
  readonly approvals?: ApprovalRecord | undefined;
}

/** The job and attempt a run belongs to, as the runner names them. */
export interface RunIdentity {
  readonly job: string | undefined;
  readonly attempt: string | undefined;
}

export function runReport(
  fields: Omit<RunReport, 'kind' | 'version' | 'writtenAt' | 'job' | 'attempt'>,
  now: Date,
  run: RunIdentity = { job: undefined, attempt: undefined }
): RunReport {
  return {
    kind: REPORT_KIND,
    version: 1,
    ...fields,
    writtenAt: now.toISOString(),
    job: run.job,
    attempt: run.attempt
  };
}

export function serializeReport(report: RunReport): string {
  // Undefined fields are written as null, so every record has every key.
  return `${JSON.stringify(report, (_k, v: unknown) => (v === undefined ? null : v), 2)}\n`;
}

export function emptyRecord(connectionKey: string): HostRecord {
  return {
    connectionKey,
    integrationId: undefined,
    technology: undefined,
    hostname: undefined,
    status: 'not-started',
    deleted: false,
    mayHaveDeleted: false,
    childCount: undefined,
    scriptFile: undefined,
    scriptSha256: undefined,
    timings: {},
    error: undefined,
    deletedByAttempt: undefined
  };
}

/** What a report read back says: where it was made, by whom, and of which hosts. */
export interface ReportRead {
  /** immuta-url of the run that wrote it. */
  readonly tenant: string | undefined;
  readonly job: string | undefined;
  readonly attempt: string | undefined;
  /** Whether a dry run wrote it: a dry run deletes nothing. */
  readonly dryRun: boolean;
  readonly hosts: readonly (Pick<
    HostRecord,
    'connectionKey' | 'integrationId' | 'technology' | 'hostname' | 'scriptFile' | 'scriptSha256'
  > & {
    /** Undefined when the report gives none this action writes. */
    readonly status: HostStatus | undefined;
  })[];
}

const HOST_STATUSES: readonly HostStatus[] = [
  'deregistered',
  'dry-run',
  'already-absent',
  'failed',
  'kept',
  'not-started'
];

/** A report read back, trusting nothing; undefined unless it is a report of this action. */
export function readReport(text: string): ReportRead | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    return undefined;
  }
  const r = raw as Partial<Record<keyof RunReport, unknown>> | null;
  if (typeof r !== 'object' || r === null || r.kind !== REPORT_KIND || !Array.isArray(r.hosts)) {
    return undefined;
  }
  const text_ = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const hosts = r.hosts.map((h: unknown) => {
    const host = (typeof h === 'object' && h !== null ? h : {}) as Record<string, unknown>;
    const status = HOST_STATUSES.find((s) => s === host.status);
    return {
      connectionKey: text_(host.connectionKey),
      integrationId: Number.isSafeInteger(host.integrationId)
        ? (host.integrationId as number)
        : undefined,
      technology: text_(host.technology),
      hostname: text_(host.hostname),
      scriptFile: text_(host.scriptFile),
      scriptSha256: text_(host.scriptSha256),
      status
    };
  });
  if (!hosts.every((h) => h.connectionKey !== undefined)) return undefined;
  return {
    tenant: text_(r.tenant),
    job: text_(r.job),
    attempt: text_(r.attempt),
    dryRun: r.dryRun !== false,
    hosts: hosts as ReportRead['hosts']
  };
}
