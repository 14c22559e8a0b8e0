/**
 * What earlier attempts of this workflow run left in its artifacts, for a re-run that finds the
 * host gone: the script one of them kept, only when the report beside it proves it is this
 * host's script. (What step 3 did with it is in its records: src/step3/.)
 */
import { createHash } from 'node:crypto';
import type { ArtifactClient, StoredArtifact } from '../artifacts/client.js';
import { readReport } from '../reports/record.js';

/** Largest artifact worth downloading: one host's script and its report are far smaller. */
const MAX_RECOVERED_ARTIFACT_BYTES = 64 * 1024 * 1024;

/** A script an earlier attempt kept, proven to be this host's by the record beside it. */
export interface RecoveredScript {
  readonly script: string;
  readonly sha256: string;
  /** The host's technology as recorded when the script was kept. */
  readonly technology: string | undefined;
  /** Where it came from, for the log: the artifact's name and ID. */
  readonly from: string;
  /** The artifact's name, which the records of step 3 are named after. */
  readonly artifactName: string;
}

/**
 * The script an earlier attempt kept under one of `names` (the artifact name, then the names a
 * job falls back to when that one is not its own to replace), when the report beside it names
 * this connection key and its SHA-256. `refused` says why an artifact that is there cannot be
 * trusted to be this host's (another job of the run with the same artifact-name, an edited file,
 * an older version's artifact without a record); undefined when there is none.
 */
export async function recoverScript(
  client: ArtifactClient,
  names: readonly string[],
  connectionKey: string,
  run: ThisRun
): Promise<RecoveredScript | { refused: string } | undefined> {
  const found = await Promise.all(names.map((name) => client.find(name)));
  let refused: { refused: string } | undefined;
  for (const artifact of found) {
    if (artifact === undefined) continue;
    const kept = await scriptIn(client, artifact, connectionKey, run);
    if (!('refused' in kept)) return kept;
    refused ??= kept;
  }
  return refused;
}

/** The run a kept script must come from: this tenant, this job, an earlier attempt. */
export interface ThisRun {
  readonly tenant: string;
  readonly job: string | undefined;
  readonly attempt: number;
}

async function scriptIn(
  client: ArtifactClient,
  existing: StoredArtifact,
  connectionKey: string,
  run: ThisRun
): Promise<RecoveredScript | { refused: string }> {
  const from = `artifact '${existing.name}' (ID ${existing.id})`;
  if (existing.size > MAX_RECOVERED_ARTIFACT_BYTES) {
    return { refused: `${from} is far larger than one host's script and its record` };
  }
  const files = await client.files(existing);
  const scripts = [...files].filter(([name]) => name.endsWith('.sql'));
  if (scripts.length !== 1) {
    return { refused: `${from} holds ${scripts.length} script files, not one host's script` };
  }
  const [file, bytes] = scripts[0]!;
  const reports = [...files]
    .filter(([name]) => name.endsWith('.report.json'))
    .map(([, text]) => readReport(text.toString('utf8')));
  const report = reports.length === 1 ? reports[0] : undefined;
  const recorded = report?.hosts.length === 1 ? report.hosts[0] : undefined;
  if (report === undefined || recorded === undefined) {
    return {
      refused: `${from} holds no record of which host its script belongs to (a report naming one host)`
    };
  }
  if (recorded.connectionKey !== connectionKey) {
    return {
      refused: `${from} holds the script of host '${recorded.connectionKey}', not of '${connectionKey}': another job of this run uses the same artifact-name`
    };
  }
  // The same key names another host on another tenant: a matrix over tenants shares job and
  // artifact name, and its legs must never run each other's scripts.
  if (report.tenant !== run.tenant) {
    return {
      refused: `${from} was kept by a run against ${report.tenant ?? 'an unnamed tenant'}, not ${run.tenant}: another job of this run uses the same artifact-name`
    };
  }
  const attempt = Number(report.attempt);
  if (report.job !== run.job || !Number.isInteger(attempt) || attempt >= run.attempt) {
    return {
      refused: `${from} was not kept by an earlier attempt of this job (it names job '${report.job ?? 'none'}', attempt ${report.attempt ?? 'none'}; this is job '${run.job ?? 'none'}', attempt ${run.attempt}): another job of this run uses the same artifact-name`
    };
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (recorded.scriptFile !== file || recorded.scriptSha256 !== sha256) {
    return {
      refused: `the script in ${from} is not the one its record names (file ${file}, SHA-256 ${sha256.slice(0, 12)}…): it was changed after it was kept`
    };
  }
  return {
    script: bytes.toString('utf8'),
    sha256,
    technology: recorded.technology,
    from,
    artifactName: existing.name
  };
}
