/** The report of a one-host run, from its outcome: the same record a batch keeps per host. */
import * as path from 'node:path';
import type { Config } from '../action/inputs.js';
import type { Outcome } from '../flow/outcome.js';
import { sha256 } from '../flow/plan.js';
import type { ApprovalRecord } from '../approvals/review-history.js';
import {
  runReport,
  type HostRecord,
  type HostStatus,
  type RunIdentity,
  type RunReport
} from './record.js';

type Known = Pick<
  Outcome,
  'connectionKey' | 'integrationId' | 'technology' | 'hostname' | 'script' | 'deleted'
> &
  Partial<Pick<Outcome, 'status' | 'childCount' | 'timings' | 'scriptRun' | 'deletedByAttempt'>>;

/** The host's record; `status` overrides the outcome's (kept, before the delete). */
export function hostRecord(outcome: Known, status?: HostStatus): HostRecord {
  return {
    connectionKey: outcome.connectionKey,
    integrationId: outcome.integrationId,
    technology: outcome.technology,
    hostname: outcome.hostname,
    status:
      status ?? (outcome.scriptRun?.status === 'failed' ? 'failed' : (outcome.status ?? 'kept')),
    deleted: outcome.deleted,
    mayHaveDeleted: false,
    childCount: outcome.childCount,
    scriptFile: undefined,
    scriptSha256: outcome.script === undefined ? undefined : sha256(outcome.script),
    timings: outcome.timings ?? {},
    error: outcome.scriptRun?.status === 'failed' ? outcome.scriptRun.error : undefined,
    deletedByAttempt: outcome.deletedByAttempt
  };
}

export function singleReport(
  config: Config,
  records: HostRecord[],
  stage: RunReport['stage'],
  startedAt: string,
  run?: RunIdentity,
  approvals?: ApprovalRecord
): RunReport {
  const script = path.basename(config.scriptPath);
  return runReport(
    {
      tenant: config.immutaUrl,
      dryRun: config.dryRun,
      stage,
      startedAt,
      hosts: records.map((r) => ({ ...r, scriptFile: r.scriptSha256 ? script : undefined })),
      approvals
    },
    new Date(),
    run
  );
}
