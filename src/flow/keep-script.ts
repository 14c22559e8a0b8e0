import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as runner from '../action/runner.js';
import type { ArtifactClient, StoredArtifact } from '../artifacts/client.js';
import type { Config } from '../action/inputs.js';
import { errorText } from '../action/error-text.js';
import { log } from '../action/log.js';
import { ownArtifactNames } from '../action/naming.js';
import { sha256 } from './plan.js';
import { readReport, type ReportRead } from '../reports/record.js';

/** GitHub refuses a step output over 1 MB; stay under it with room to spare. */
export const MAX_OUTPUT_BYTES = 1_000_000;

export interface KeptScript {
  readonly path: string;
  readonly inOutput: boolean;
  readonly artifactId: number | undefined;
  readonly artifactUrl: string | undefined;
  /** The artifact the script was actually kept in (the name asked for, or the job's own). */
  readonly artifactName?: string;
}

export interface RunContext {
  readonly serverUrl: string;
  /** Whether ACTIONS_RUNTIME_TOKEN is set: only a runner provides it. */
  readonly hasRuntimeToken: boolean;
  /** owner/name, or undefined outside a workflow. */
  readonly repository: string | undefined;
  readonly runId: string | undefined;
  /** GITHUB_JOB and GITHUB_RUN_ATTEMPT: whose artifact is whose. */
  readonly job?: string | undefined;
  readonly attempt?: string | undefined;
}

/**
 * The client, with the lookup `keepScript` makes first (is there an artifact of this name
 * already?) started now, while Immuta is still answering; the first such call gets its answer.
 */
export function withEarlyLookup(client: ArtifactClient, artifactName: string): ArtifactClient {
  // Started once the first request to Immuta is on its way: loading @actions/artifact keeps the
  // CPU busy for a while, which is best spent while Immuta is answering.
  const early = new Promise((resolve) => setTimeout(resolve, 20)).then(() =>
    client.find(artifactName)
  );
  early.catch(() => undefined);
  let used = false;
  return {
    ...client,
    find: (name) => {
      if (name !== artifactName || used) return client.find(name);
      used = true;
      return early;
    }
  };
}

/**
 * The client, each artifact downloaded at most once: an artifact never changes, and a re-run
 * reads an earlier attempt's to tell whose host it kept before it compares it with its own.
 */
export function downloadingOnce(client: ArtifactClient): ArtifactClient {
  const downloads = new Map<number, Promise<Map<string, Buffer>>>();
  return {
    ...client,
    files: (artifact) => {
      let files = downloads.get(artifact.id);
      if (files === undefined) {
        files = client.files(artifact);
        downloads.set(artifact.id, files);
        // A download that failed is tried again when asked again.
        files.catch(() => downloads.delete(artifact.id));
      }
      return files;
    }
  };
}

/** The artifact's link on the run page, or undefined when the run is not known. */
export function artifactUrlFor(run: RunContext, artifactId: number): string | undefined {
  if (!run.repository || !run.runId) return undefined;
  return `${run.serverUrl.replace(/\/+$/, '')}/${run.repository}/actions/runs/${run.runId}/artifacts/${artifactId}`;
}

/**
 * Why no artifact can be uploaded here, found before any call so the message is plain. The host
 * test mirrors @actions/artifact's own: github.com, *.ghe.com and *.localhost serve artifacts v2+.
 */
export function artifactUnavailable(run: RunContext): string | undefined {
  let hostname: string;
  try {
    hostname = new URL(run.serverUrl).hostname.toLowerCase();
  } catch {
    hostname = '';
  }
  const github =
    hostname === 'github.com' || hostname.endsWith('.ghe.com') || hostname.endsWith('.localhost');
  if (!github) {
    return `this looks like GitHub Enterprise Server (${run.serverUrl}), where artifacts v2+ are not available`;
  }
  if (!run.hasRuntimeToken) {
    return 'ACTIONS_RUNTIME_TOKEN is not set: artifact uploads work only inside a GitHub Actions runner';
  }
  return undefined;
}

export function fitsInOutput(script: string): boolean {
  return Buffer.byteLength(script, 'utf8') <= MAX_OUTPUT_BYTES;
}

/**
 * Keeps the script every way the user asked for: the file, the step outputs and the artifact
 * (with `extras`, files beside the script such as the report, in it too). Any failure throws, so
 * the caller never reaches the delete with the script unsaved.
 */
export async function keepScript(
  script: string,
  config: Pick<
    Config,
    'scriptPath' | 'uploadArtifact' | 'artifactName' | 'retentionDays' | 'immutaUrl'
  >,
  artifacts: ArtifactClient | undefined,
  run: RunContext,
  extras: readonly string[] = []
): Promise<KeptScript> {
  const { inOutput } = await keepFile(script, config.scriptPath);
  if (!config.uploadArtifact) {
    return { path: config.scriptPath, inOutput, artifactId: undefined, artifactUrl: undefined };
  }
  const kept = await keepInArtifact(
    {
      files: [config.scriptPath, ...extras],
      root: path.dirname(config.scriptPath),
      scripts: new Map([[path.basename(config.scriptPath), Buffer.from(script, 'utf8')]]),
      saved: `the script is saved at ${config.scriptPath} (${Buffer.byteLength(script, 'utf8')} bytes)`
    },
    config,
    artifacts,
    run
  );
  return { path: config.scriptPath, inOutput, ...kept };
}

/**
 * The script in its file, read back and checked, and in the outputs `script-path` and `script`
 * (empty, with a warning, when it is over the output limit). `whose` says whose script it is in
 * the log, when not this step's: the one an earlier attempt kept, say.
 */
export async function keepFile(
  script: string,
  file: string,
  whose = 'the cleanup script'
): Promise<{ inOutput: boolean }> {
  await writeFileAtomically(file, script, whose);
  await checkKept(new Map([[file, sha256(script)]]));
  runner.setOutput('script-path', file);
  log.info(`Saved ${whose} to ${file}.`);
  const inOutput = fitsInOutput(script);
  if (inOutput) {
    runner.setOutput('script', script);
  } else {
    log.warning(
      `The cleanup script is ${Buffer.byteLength(script, 'utf8')} bytes, over GitHub's 1 MB limit for a step output, so the 'script' output is empty. Read it from the file at 'script-path' or from the artifact.`
    );
  }
  return { inOutput };
}

/** What goes into an artifact: files under one root, and the scripts among them, by name. */
export interface ArtifactBundle {
  readonly files: readonly string[];
  readonly root: string;
  /** The scripts by their names in the artifact: what proves an existing artifact is this one's. */
  readonly scripts: ReadonlyMap<string, Buffer>;
  /** Where the scripts are kept anyway, for a message saying the upload failed. */
  readonly saved: string;
  /**
   * A batch's: an earlier attempt's artifact may hold more scripts than these (those of hosts it
   * deleted). One host's artifact must hold its script alone.
   */
  readonly batch?: boolean;
}

/** An artifact holding scripts and their report, as the outputs and the summary name it. */
export interface KeptArtifact {
  readonly artifactId: number;
  readonly artifactUrl: string | undefined;
  readonly artifactName: string;
}

/** Uploads the bundle as the artifact and sets the artifact outputs; throws when it cannot. */
export async function keepInArtifact(
  bundle: ArtifactBundle,
  config: ArtifactConfig,
  artifacts: ArtifactClient | undefined,
  run: RunContext
): Promise<KeptArtifact> {
  // A runner without the artifact service was refused with the inputs, before any request.
  if (artifacts === undefined) {
    throw uploadFailed(config, bundle, 'no artifact client was started for this run');
  }
  const kept = await upload(artifacts, config, bundle, run);
  const artifact = artifactOf(run, kept);
  // An artifact an earlier attempt left, kept as it is, was not uploaded by this one.
  if (!kept.reused) {
    log.info(`Uploaded ${keptWhat(bundle)} as artifact '${kept.name}' (ID ${kept.id}).`);
  }
  return artifact;
}

/** The artifact as the outputs name it, which are set: `artifact-id`, `-url` and `-name`. */
export function artifactOf(run: RunContext, stored: { id: number; name: string }): KeptArtifact {
  const artifactUrl = artifactUrlFor(run, stored.id);
  runner.setOutput('artifact-id', String(stored.id));
  runner.setOutput('artifact-url', artifactUrl ?? '');
  runner.setOutput('artifact-name', stored.name);
  return { artifactId: stored.id, artifactUrl, artifactName: stored.name };
}

/** What a bundle keeps, in words: its script or scripts, or a host's report alone. */
function keptWhat(bundle: ArtifactBundle): string {
  const n = bundle.scripts.size;
  return n === 0 ? 'the report' : n === 1 ? 'the cleanup script' : 'the cleanup scripts';
}

/** Why a kept script file cannot be trusted: its bytes are not what Immuta sent. */
export class KeptScriptChanged extends Error {}

/**
 * Reads every kept script file back and checks it against the SHA-256 of what Immuta sent, by
 * file path; returns the bytes read. Two keys whose files fold to one name on a case-insensitive
 * file system, or anything else that changed a file after it was written, shows here, before the
 * artifact and before any delete. `readFile` is injectable so a test can fold names.
 */
export async function checkKept(
  expected: ReadonlyMap<string, string>,
  readFile: (file: string) => Promise<Buffer> = (file) => fs.readFile(file)
): Promise<Map<string, Buffer>> {
  const read = new Map<string, Buffer>();
  for (const [file, hash] of expected) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new KeptScriptChanged(
        `The kept script ${file} cannot be read back (${errorText(error)}). Nothing was deleted.`
      );
    }
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== hash) {
      throw new KeptScriptChanged(
        `The kept script ${file} is not what Immuta sent (SHA-256 ${actual.slice(0, 12)}…, Immuta's ${hash.slice(0, 12)}…): another file overwrote it (two connection keys that one file system folds to one name?) or it was changed after it was written. Nothing was deleted. Give the step a script-path on a case-sensitive file system, or one folder per step.`
      );
    }
    read.set(file, bytes);
  }
  return read;
}

/**
 * Writes a file beside the target and renames it into place: the file is never half-written, is
 * 0600 whatever stood there before, and a symlink at the path is replaced, not followed to
 * wherever it points.
 */
export async function writeFileAtomically(file: string, text: string, what: string): Promise<void> {
  // A short name of its own, so a long script-path cannot make it too long for the file system.
  const temporary = path.join(path.dirname(file), `.immuta-${randomBytes(8).toString('hex')}.tmp`);
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(temporary, text, { encoding: 'utf8', mode: 0o600, flag: 'wx' });
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    throw new Error(
      `Saving ${what} to ${file} failed: ${errorText(error)}. Nothing was deleted. Set script-path to a writable location.`,
      { cause: error }
    );
  }
}

type ArtifactConfig = Pick<Config, 'artifactName' | 'retentionDays' | 'immutaUrl'>;

/** Largest artifact worth downloading to compare: a batch's scripts zip far smaller. */
const MAX_COMPARED_ARTIFACT_BYTES = 64 * 1024 * 1024;

async function upload(
  artifacts: ArtifactClient,
  config: ArtifactConfig,
  bundle: ArtifactBundle,
  run: RunContext
): Promise<{ id: number; name: string; reused: boolean }> {
  // The files are read again by the upload: they must still be the scripts compared below.
  await checkKept(
    new Map(
      [...bundle.scripts].map(([name, bytes]) => [
        path.join(bundle.root, name),
        createHash('sha256').update(bytes).digest('hex')
      ])
    )
  );
  const names = ownArtifactNames(config.artifactName, run.job, run.attempt);
  let name = config.artifactName;
  const leaveFor = (next: string | undefined) =>
    next === undefined
      ? ''
      : ` This step keeps ${keptWhat(bundle).replace(/^the /, 'its ')} as artifact '${next}'.`;
  try {
    for (const [i, candidate] of names.entries()) {
      name = candidate;
      // A re-run of a job whose first attempt failed at the delete finds its own artifact. It is
      // replaced only when it holds exactly these scripts and its report proves it this job's:
      // an artifact of the same name can be another job's, and deleting it could lose a script
      // whose host is already gone, or the plan an apply job downloads. Any other is left as it
      // is, and this step keeps its own under its next name.
      const existing = await artifacts.find(name);
      if (existing !== undefined) {
        const held = await compareWith(artifacts, existing, bundle, run, config.immutaUrl);
        if (typeof held === 'object') {
          log.info(
            `Artifact '${name}' (ID ${existing.id}) ${held.keep}; it is left as it is.${leaveFor(names[i + 1])}`
          );
          continue;
        }
        if (held === 'more') {
          // A batch re-run after some hosts were deleted: the earlier artifact holds these
          // scripts and those of the deleted hosts, which must not be lost. It stays as it is.
          log.info(
            `Artifact '${name}' (ID ${existing.id}), left by an earlier attempt, already holds these scripts and those of hosts deleted then; it is kept as it is.`
          );
          return { id: existing.id, name, reused: true };
        }
        await artifacts.delete(existing);
        log.info(
          `Replaced artifact '${name}' (ID ${existing.id}), left by an earlier attempt with these same scripts.`
        );
      }
      try {
        const uploaded = await artifacts.upload(
          name,
          bundle.files,
          bundle.root,
          config.retentionDays
        );
        return { id: uploaded.id, name, reused: false };
      } catch (error) {
        // The service refuses a second CreateArtifact of a name, finalized or not: a matrix leg
        // racing for it (both found none), or an earlier attempt cut off during its upload.
        if (!/\(409\)|already exists/i.test(errorText(error)) || i === names.length - 1) {
          throw error;
        }
        log.info(
          `Artifact '${name}' was created by another job of this run at the same moment (or by an earlier attempt cut off during its upload); it is left as it is.${leaveFor(names[i + 1])}`
        );
      }
    }
    throw new ArtifactCollision(
      name,
      'it and the other names this step could use belong to other jobs of this run or hold a plan'
    );
  } catch (error) {
    if (error instanceof ArtifactCollision) throw uploadFailed(config, bundle, error.message);
    if (/\(409\)|already exists/i.test(errorText(error))) {
      throw uploadFailed(
        config,
        bundle,
        new ArtifactCollision(
          name,
          'another job of this run created it at the same moment, as it did the other names this step could use'
        ).message
      );
    }
    throw uploadFailed(config, bundle, errorText(error));
  }
}

class ArtifactCollision extends Error {
  constructor(name: string, why: string) {
    super(
      `an artifact named '${name}' already exists in this workflow run and ${why}, so it may hold another host's script; it was left alone. Give this step an artifact-name of its own (for example '${name}-2'), or leave artifact-name empty to use the name derived from the connection key`
    );
  }
}

/**
 * Whether the artifact is this step's own from an earlier attempt, holding exactly these scripts
 * ('same') or these and more ('more': a batch whose earlier attempt deleted some hosts), byte
 * for byte; else why it is left as it is (`keep`). It is this step's only when the report inside
 * it proves it (the artifact service does not say which job uploaded an artifact): this tenant,
 * this job, an earlier attempt, these hosts, and for every script in it the host's connection key
 * and the script's SHA-256. One not proven so is never deleted or taken as its own, nor one that
 * holds a plan (an apply job or its re-run downloads it), nor one holding a script of this host
 * other than the one Immuta gave now (the script an earlier attempt got).
 */
async function compareWith(
  artifacts: ArtifactClient,
  existing: StoredArtifact,
  bundle: ArtifactBundle,
  run: RunContext,
  tenant: string
): Promise<'same' | 'more' | { keep: string }> {
  const { scripts } = bundle;
  const batch = bundle.batch === true;
  if (existing.size > MAX_COMPARED_ARTIFACT_BYTES) {
    return { keep: 'is far larger than these cleanup scripts, so it is not compared' };
  }
  const all = await artifacts.files(existing);
  const owner = [...all]
    .filter(([name]) => isReport(name))
    .map(([, bytes]) => readReport(bytes.toString('utf8')))
    .find((report) => report?.job !== undefined);
  if ([...all.keys()].some((name) => /(^|[./])plan\.json$/.test(name))) {
    return {
      keep: `holds a plan${owner ? ` (job '${owner.job}' made it)` : ''}, which is never deleted`
    };
  }
  if (owner === undefined) {
    return {
      keep: "holds no report of this action naming the job that uploaded it, so it is not proven this job's and is never deleted"
    };
  }
  if (owner.job !== run.job) {
    return {
      keep: `was uploaded by job '${owner.job}' of this run, whose artifacts are never deleted here`
    };
  }
  // A matrix leg shares the job, and over tenants the key and the script too: only an earlier
  // attempt of this job on this tenant left an artifact this step may replace.
  if (owner.tenant !== tenant) {
    return {
      keep: `was uploaded for another tenant (${owner.tenant ?? 'unnamed'}) by a job of this run`
    };
  }
  const attempt = Number(owner.attempt);
  if (run.attempt === undefined || !Number.isInteger(attempt) || attempt >= Number(run.attempt)) {
    return {
      keep: `was uploaded by another job of this attempt (a matrix leg with the same artifact name)`
    };
  }
  const ours = await ownReport(bundle);
  const theirs = new Set(owner.hosts.map((h) => h.connectionKey));
  const stranger = ours?.hosts.find((h) => !theirs.has(h.connectionKey));
  if (stranger !== undefined) {
    return {
      keep: `holds no record of host '${stranger.connectionKey}', so it is another matrix leg's of this job (with the same artifact name)`
    };
  }
  const held = new Map([...all].filter(([name]) => name.endsWith('.sql')));
  const same = [...scripts].every(([name, bytes]) => held.get(name)?.equals(bytes) === true);
  // One host's artifact must hold its script alone: another's, beside it, is not this step's.
  if (!same || (held.size > scripts.size && !batch)) {
    return {
      keep: `holds ${held.size === 1 ? 'a script' : `${held.size} scripts`} that an earlier attempt of this job got from Immuta, not ${scripts.size === 1 ? 'the one' : 'those'} Immuta gave now`
    };
  }
  const unproven = [...held].find(([file, bytes]) => {
    const recorded = owner.hosts.find((h) => h.scriptFile === file);
    const mine = ours?.hosts.find((h) => h.scriptFile === file);
    return (
      recorded === undefined ||
      recorded.scriptSha256 !== createHash('sha256').update(bytes).digest('hex') ||
      (mine !== undefined && mine.connectionKey !== recorded.connectionKey) ||
      (mine === undefined && scripts.has(file))
    );
  });
  if (unproven !== undefined) {
    return {
      keep: `holds '${unproven[0]}', which its report does not name with this host's connection key and SHA-256, so it is not proven this job's and is never deleted`
    };
  }
  return held.size === scripts.size ? 'same' : 'more';
}

const isReport = (name: string) => /(^|[./])report\.json$/.test(name);

/** The report this step uploads with its scripts, read back: which key each script is for. */
async function ownReport(bundle: ArtifactBundle): Promise<ReportRead | undefined> {
  const file = bundle.files.find((f) => isReport(path.basename(f)));
  if (file === undefined) return undefined;
  return readReport(await fs.readFile(file, 'utf8'));
}

function uploadFailed(config: ArtifactConfig, bundle: ArtifactBundle, why: string): Error {
  const what = keptWhat(bundle);
  return new Error(
    `Uploading ${what} as artifact '${config.artifactName}' failed: ${why}. Nothing was deleted; ${bundle.saved}. If the files${bundle.scripts.size === 1 ? " and the 'script' output" : ''} are enough, set upload-artifact: false.`
  );
}
