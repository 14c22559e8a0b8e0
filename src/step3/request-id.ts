/**
 * Snowflake request IDs that a later attempt can compute: one per statement and generation,
 * derived from the workflow run, the tenant, the job, the key, the script's SHA-256 and the
 * attempt that started this run of it. Sent again under the same ID with retry=true, a request
 * whose answer was lost is answered for, not run twice; a statement that must be sent anew (it
 * failed, or was cancelled) goes out under the next generation's ID. Pure.
 */
import { createHash } from 'node:crypto';

export interface RequestScope {
  /**
   * The workflow run (repository and run ID). Outside a workflow there is no run to resume, and
   * the caller passes a value of its own that no other run has.
   */
  readonly run: string;
  readonly tenant: string;
  readonly job: string | null;
  readonly connectionKey: string;
  readonly scriptSha256: string;
  readonly origin: number;
}

/** A UUID (version 8: name-based, from SHA-256, as RFC 9562 allows) for one request. */
export function requestIdFor(scope: RequestScope, index: number, generation: number): string {
  const digest = createHash('sha256')
    .update(
      JSON.stringify([
        'immuta-deregister-host/step3',
        scope.run,
        scope.tenant,
        scope.job,
        scope.connectionKey,
        scope.scriptSha256,
        scope.origin,
        index,
        generation
      ])
    )
    .digest();
  const bytes = Buffer.from(digest.subarray(0, 16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
