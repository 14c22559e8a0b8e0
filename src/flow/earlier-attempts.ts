/**
 * What earlier attempts of this job left in the run's artifacts, and the re-run rules one host and
 * batches share. An attempt keeps, before it deletes anything, the report of its hosts beside
 * their scripts in its artifact; that report is the run's own record of what the attempt went on
 * to delete. A record counts only when the report proves it is this job's (this tenant, this job,
 * an earlier attempt, not a dry run), names the host as kept for its delete, and holds the script
 * it names, byte for byte. Then:
 * - a host gone on a re-run was deleted by that attempt (`deletedBy`), whatever if-missing says;
 * - a host still there on a re-run must be the host that attempt kept (`anotherHost`): one
 *   registered again under the same key since is never deleted, and its script never run.
 * (What step 3 did with a kept script is in its own records: src/step3/.)
 */
import { createHash } from 'node:crypto';
import type { ArtifactClient, StoredArtifact } from '../artifacts/client.js';
import { DamagedArtifact, nextStepWhenUnreadable } from '../artifacts/damaged.js';
import { errorText } from '../action/error-text.js';
import { readReport, type ReportRead } from '../reports/record.js';

/** Largest artifact worth downloading: scripts and their report are far smaller. */
const MAX_RECOVERED_ARTIFACT_BYTES = 64 * 1024 * 1024;

/** The run a record must come from: this tenant, this job, an earlier attempt. */
export interface ThisRun {
  readonly tenant: string;
  readonly job: string | undefined;
  readonly attempt: number;
}

/** What an earlier attempt of this job kept of one host just before it deleted it. */
export interface EarlierRecord {
  readonly connectionKey: string;
  readonly integrationId: number | undefined;
  readonly technology: string | undefined;
  readonly hostname: string | undefined;
  /** The attempt that kept it (and went on to delete the host). */
  readonly attempt: number;
  readonly artifact: StoredArtifact;
  /** The artifact, for messages: artifact 'name' (ID n). */
  readonly from: string;
  /** The cleanup script as kept; undefined for a host that has none (AWS Lake Formation). */
  readonly script:
    { readonly text: string; readonly sha256: string; readonly file: string } | undefined;
}

/** What the run's artifacts say of one host's earlier attempts. */
export type EarlierLookup =
  | { readonly kind: 'kept'; readonly record: EarlierRecord }
  /** An artifact is there, but nothing in it proves an earlier attempt of this job kept the host. */
  | { readonly kind: 'refused'; readonly why: string }
  /** No artifact under any name this job keeps its record under. */
  | { readonly kind: 'none' }
  /** The artifacts could not be read: nothing can be told, either way. */
  | { readonly kind: 'unreadable'; readonly why: string; readonly damaged: boolean }
  /** Two records of one attempt differ: one was planted, and neither is trusted either way. */
  | { readonly kind: 'conflict'; readonly why: string }
  /** This step keeps no record an attempt after it can read (upload-artifact: false, say). */
  | { readonly kind: 'unrecorded'; readonly why: string };

export interface EarlierAttempts {
  of(connectionKey: string): EarlierLookup;
}

/** Every host the same answer: nothing was or can be read. */
export function noRecords(lookup: EarlierLookup): EarlierAttempts {
  return { of: () => lookup };
}

/**
 * Reads the reports earlier attempts kept under `names` (the artifact name, then the names a job
 * falls back to when that one is not its own), each artifact once. Never throws: an artifact
 * service that does not answer makes every lookup `unreadable`.
 */
export async function readEarlierAttempts(
  client: ArtifactClient,
  names: readonly string[],
  run: ThisRun
): Promise<EarlierAttempts> {
  const found: Kept[] = [];
  try {
    const listed = await client.list();
    for (const name of new Set(names)) {
      // As @actions/artifact's getArtifact: of several with one name, the newest.
      const artifact = listed.filter((a) => a.name === name).sort((a, b) => b.id - a.id)[0];
      if (artifact !== undefined) found.push(await keptIn(client, artifact));
    }
  } catch (error) {
    return noRecords({
      kind: 'unreadable',
      why: errorText(error),
      damaged: error instanceof DamagedArtifact
    });
  }
  return { of: (key) => lookUp(found, key, run) };
}

/** One artifact, read: its files and the report among them, or why it holds no report. */
interface Kept {
  readonly artifact: StoredArtifact;
  readonly from: string;
  readonly files: ReadonlyMap<string, Buffer>;
  readonly report: ReportRead | undefined;
  readonly tooLarge: boolean;
}

async function keptIn(client: ArtifactClient, artifact: StoredArtifact): Promise<Kept> {
  const from = `artifact '${artifact.name}' (ID ${artifact.id})`;
  if (artifact.size > MAX_RECOVERED_ARTIFACT_BYTES) {
    return { artifact, from, files: new Map(), report: undefined, tooLarge: true };
  }
  const files = await client.files(artifact);
  const reports = [...files]
    .filter(([name]) => /(^|[./])report\.json$/.test(name))
    .map(([, text]) => readReport(text.toString('utf8')));
  const report = reports.length === 1 ? reports[0] : undefined;
  return { artifact, from, files, report, tooLarge: false };
}

/** The newest attempt's record of the host; two of one attempt that differ prove nothing. */
function lookUp(found: readonly Kept[], key: string, run: ThisRun): EarlierLookup {
  if (found.length === 0) return { kind: 'none' };
  const records: EarlierRecord[] = [];
  let refused: string | undefined;
  for (const kept of found) {
    const read = recordIn(kept, key, run);
    if ('why' in read) refused ??= read.why;
    else records.push(read);
  }
  const newest = records.sort((a, b) => b.attempt - a.attempt)[0];
  if (newest === undefined) return { kind: 'refused', why: refused! };
  const rival = records.find(
    (r) =>
      r !== newest &&
      r.attempt === newest.attempt &&
      (r.script?.sha256 !== newest.script?.sha256 || r.integrationId !== newest.integrationId)
  );
  if (rival !== undefined) {
    return {
      kind: 'conflict',
      why: `${newest.from} and ${rival.from} both hold a record of host '${key}' kept by attempt ${newest.attempt} of this job, and they differ, so one of them was not kept by this job and neither is trusted`
    };
  }
  return { kind: 'kept', record: newest };
}

/** The host's record in one artifact, or why it cannot be trusted to be this job's. */
function recordIn(kept: Kept, key: string, run: ThisRun): EarlierRecord | { why: string } {
  const { from, report } = kept;
  if (kept.tooLarge) return { why: `${from} is far larger than scripts and their record` };
  if (report === undefined) {
    return {
      why: `${from} holds no record of which host its script belongs to (a report of this action)`
    };
  }
  const host = report.hosts.find((h) => h.connectionKey === key);
  if (host === undefined) {
    const only = report.hosts.length === 1 ? report.hosts[0]!.connectionKey : undefined;
    return {
      why: `${from} holds ${only === undefined ? 'no record' : `the script of host '${only}', not`} of '${key}': another job of this run uses the same artifact-name`
    };
  }
  // The same key names another host on another tenant: a matrix over tenants shares job and
  // artifact name, and its legs must never take each other's records.
  if (report.tenant !== run.tenant) {
    return {
      why: `${from} was kept by a run against ${report.tenant ?? 'an unnamed tenant'}, not ${run.tenant}: another job of this run uses the same artifact-name`
    };
  }
  const attempt = Number(report.attempt);
  if (report.job !== run.job || !Number.isInteger(attempt) || attempt >= run.attempt) {
    return {
      why: `${from} was not kept by an earlier attempt of this job (it names job '${report.job ?? 'none'}', attempt ${report.attempt ?? 'none'}; this is job '${run.job ?? 'none'}', attempt ${run.attempt}): another job of this run uses the same artifact-name`
    };
  }
  if (report.dryRun) return { why: `${from} was kept by a dry run, which deleted nothing` };
  if (host.status !== 'kept') {
    return {
      why: `${from} says attempt ${attempt} did not go on to delete host '${key}' (its status there is ${host.status})`
    };
  }
  const script = scriptOf(kept, host);
  if (script !== undefined && 'why' in script) return script;
  return {
    connectionKey: key,
    integrationId: host.integrationId,
    technology: host.technology,
    hostname: host.hostname,
    attempt,
    artifact: kept.artifact,
    from,
    script
  };
}

/** The script the record names, when it is in the artifact byte for byte. */
function scriptOf(
  { from, files }: Kept,
  host: ReportRead['hosts'][number]
): EarlierRecord['script'] | { why: string } {
  if (host.scriptFile === undefined && host.scriptSha256 === undefined) return undefined;
  const file = host.scriptFile ?? 'none';
  const bytes = files.get(file);
  const sha256 = bytes === undefined ? 'none' : createHash('sha256').update(bytes).digest('hex');
  if (bytes === undefined || sha256 !== host.scriptSha256) {
    return {
      why: `the script in ${from} is not the one its record names (file ${file}, SHA-256 ${sha256.slice(0, 12)}…): it was changed after it was kept`
    };
  }
  return { text: bytes.toString('utf8'), sha256, file };
}

/** A host gone on a re-run: the earlier attempt's record that proves it deleted it, if any. */
export function deletedBy(lookup: EarlierLookup | undefined): EarlierRecord | undefined {
  return lookup?.kind === 'kept' ? lookup.record : undefined;
}

/** What a host is, for messages: integration 1 (Snowflake, acme-prod.snowflakecomputing.com). */
interface Identity {
  readonly integrationId: number | undefined;
  readonly technology: string | undefined;
  readonly hostname: string | undefined;
}

/**
 * Why the host Immuta names under `key` now is not the host an earlier attempt of this job kept
 * (and may have deleted), or undefined when it is, or when no attempt kept one. Integration IDs
 * are never reused, so a host registered again under the same key has another.
 */
export function anotherHost(key: string, now: Identity, lookup: EarlierLookup): string | undefined {
  if (lookup.kind === 'unreadable') {
    return `What earlier attempts of this workflow run kept could not be read (${lookup.why}), so this step cannot tell whether host '${key}' is the host an earlier attempt deleted; ${nextStepWhenUnreadable(lookup.damaged)}`;
  }
  if (lookup.kind === 'conflict') {
    return `This step cannot tell whether host '${key}' is the host an earlier attempt of this workflow run deleted: ${lookup.why}`;
  }
  const earlier = deletedBy(lookup);
  if (earlier === undefined) return undefined;
  const differs = (a: string | number | undefined, b: string | number | undefined) =>
    a !== undefined && b !== undefined && String(a).toLowerCase() !== String(b).toLowerCase();
  if (
    !differs(earlier.integrationId, now.integrationId) &&
    !differs(earlier.technology, now.technology) &&
    !differs(earlier.hostname, now.hostname)
  ) {
    return undefined;
  }
  return `Host '${key}' is not the host attempt ${earlier.attempt} of this workflow run kept the cleanup script of (${earlier.from}): that was ${described(earlier)}, and Immuta now has ${described(now)} under this key, so it was registered again after that attempt deleted the host. This run is for the host that is gone: its new namesake is never deleted and no script runs for it here. To deregister the new host, start a new workflow run`;
}

function described({ integrationId, technology, hostname }: Identity): string {
  const details = [technology, hostname].filter((d) => d !== undefined);
  return `integration ${integrationId ?? 'unknown'}${details.length ? ` (${details.join(', ')})` : ''}`;
}

/** The log line of a host that counts as deleted since the earlier attempt that deleted it. */
export function deletedSince(key: string, earlier: EarlierRecord): string {
  return `Host '${key}' is gone: attempt ${earlier.attempt} of this workflow run kept its ${earlier.script ? 'cleanup script and ' : ''}record (${earlier.from}) just before deleting it, so it counts as deleted since then, whatever if-missing says`;
}

/**
 * What a re-run that finds the host gone says when no record proves an earlier attempt deleted
 * it: why not, and so what the absence may mean.
 */
export function notProven(lookup: EarlierLookup | undefined, attempt: number): string {
  const rerun = `This is attempt ${attempt} of this workflow run`;
  switch (lookup?.kind) {
    case undefined:
    case 'kept':
      return '';
    case 'none':
      return `${rerun}, and no artifact of this run holds a record of an earlier attempt of this job deleting it (an attempt keeps one in its artifact before any delete, for retention-days), so nothing says one of them deleted it`;
    case 'refused':
      return `${rerun}, and no artifact of this run holds a record of an earlier attempt of this job deleting it: ${lookup.why}`;
    case 'unreadable':
      return `${rerun}, and what earlier attempts kept could not be read (${lookup.why}), so nothing proves whether one of them deleted it; ${nextStepWhenUnreadable(lookup.damaged)}`;
    case 'conflict':
      return `${rerun}, and nothing proves whether an earlier attempt deleted it: ${lookup.why}`;
    case 'unrecorded':
      return `${rerun}, and ${lookup.why}, so nothing proves that an earlier attempt deleted it: if one did, its log and job summary say "Deregistered host", nothing is left to do in Immuta, and its cleanup script is in that summary (unless summary-script is false)`;
  }
}
