/**
 * The artifact operations the action needs, through @actions/artifact, the package
 * actions/upload-artifact and actions/download-artifact are built on: its requests to the
 * results service, its zip, its blob transfers, retries, timeouts, retention and name checks.
 * The package is loaded on first use, so a step that keeps no artifact never loads it. What this
 * adds is what the action's rules need: a deadline on every operation, a read-back capped in
 * size, its digest checked, its names trusted only when each stands for one file, and a delete
 * that removes the artifact that was compared or says it did not.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Secrets } from '../action/secrets.js';
import { DamagedArtifact } from './damaged.js';
import { checkFileNames } from './names.js';

/** An artifact of this run, as @actions/artifact lists it. */
export interface StoredArtifact {
  readonly name: string;
  readonly id: number;
  readonly size: number;
  /** sha256:<hex> of what was uploaded, as the service lists it; undefined for uploads that gave none. */
  readonly digest?: string;
}

export interface ArtifactClient {
  /** Every artifact of this workflow run, of every attempt and every job. */
  list(): Promise<StoredArtifact[]>;
  /** The newest artifact of the name in this run, or undefined when there is none. */
  find(name: string): Promise<StoredArtifact | undefined>;
  /** The artifact's files, by their paths inside it. */
  files(artifact: StoredArtifact): Promise<Map<string, Buffer>>;
  delete(artifact: StoredArtifact): Promise<void>;
  /** Uploads the files (paths inside the artifact relative to `root`) as the artifact. */
  upload(
    name: string,
    files: readonly string[],
    root: string,
    retentionDays?: number
  ): Promise<{ id: number; size: number }>;
}

export interface ArtifactClientOptions {
  /** The runner's environment: ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL, RUNNER_TEMP. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where the runtime token is masked and cut out of messages. */
  readonly secrets: Secrets;
  /** Where what the package costs to load is told (a debug line, read by `npm run bench`). */
  readonly log?: { debug(message: string): void };
  /**
   * How long one operation may take once the package is loaded: a listing, a download, a delete,
   * and an upload's requests to the results service (its blob gets `blobStallMs` more). The
   * package's requests to the results service have no time limit of their own, so a service
   * that takes a request and never answers would otherwise hold the step until the job's
   * timeout-minutes. The step gives it timeout-seconds × max-attempts.
   */
  readonly deadlineMs: number;
}

/**
 * How long @actions/artifact lets a blob upload go without progress before it gives up, read as
 * it reads it: ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS, 5 minutes when unset. A value it cannot read
 * it refuses at the upload, and a negative one gives up at once: neither adds anything here.
 */
export function blobStallMs(env: Readonly<Record<string, string | undefined>>): number {
  const value = env.ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS;
  if (!value) return 300_000;
  const ms = parseInt(value);
  return Number.isNaN(ms) ? 0 : Math.max(0, ms);
}

/** Node's longest timer: one set longer fires at once. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/** An upload's deadline: its requests' (`deadlineMs`), and the time the package gives its blob. */
export function uploadDeadlineMs(
  deadlineMs: number,
  env: Readonly<Record<string, string | undefined>>
): number {
  return Math.min(LONGEST_TIMER_MS, deadlineMs + blobStallMs(env));
}

/**
 * `work`, or an error once `ms` have passed. The package cannot be told to stop, so what it was
 * doing goes on unheeded until the process ends with the step.
 */
async function within<T>(work: Promise<T>, ms: number, what: string, bound: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `${what} did not end within ${+(ms / 1000).toFixed(3)} s (${bound}): the artifact service (or its blob store, or a proxy on the way) did not answer in time. If it is only slow, raise timeout-seconds or max-attempts`
          )
        ),
      ms
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

const BOUND = 'timeout-seconds × max-attempts';

/**
 * The most an artifact read back may hold, downloaded or unpacked: scripts are kilobytes
 * (Immuta's are capped at 8 MiB each), and what is compared is held in memory.
 */
export const MAX_READ_BYTES = 256 * 1024 * 1024;

type Toolkit = typeof import('./toolkit.js');

/**
 * Why the runner's environment names no results service to upload to: the step checks it before
 * any request (a container or script that passes ACTIONS_RUNTIME_TOKEN on without it), the client
 * again on first use.
 */
export function resultsServiceProblem(
  env: Readonly<Record<string, string | undefined>>
): string | undefined {
  const url = env.ACTIONS_RESULTS_URL;
  if (url && URL.canParse(url)) return undefined;
  return 'ACTIONS_RESULTS_URL is not set to a URL: artifact uploads work only inside a GitHub Actions runner, which sets it with ACTIONS_RUNTIME_TOKEN';
}

export function createArtifactClient(options: ArtifactClientOptions): ArtifactClient {
  const { env, secrets, log, deadlineMs } = options;
  const uploadMs = uploadDeadlineMs(deadlineMs, env);
  let loaded: Promise<{ client: InstanceType<Toolkit['DefaultArtifactClient']>; toolkit: Toolkit }>;
  /** Checked and loaded on first use, so that a missing variable fails the upload, file kept. */
  const connect = () =>
    (loaded ??= (async () => {
      const token = env.ACTIONS_RUNTIME_TOKEN;
      if (!token) throw new Error('ACTIONS_RUNTIME_TOKEN is not set');
      const noService = resultsServiceProblem(env);
      if (noService !== undefined) throw new Error(noService);
      secrets.add(token);
      const started = performance.now();
      const toolkit = await import('./toolkit.js');
      log?.debug(`Loaded @actions/artifact in ${Math.round(performance.now() - started)} ms`);
      return { client: new toolkit.DefaultArtifactClient(), toolkit };
    })());

  async function list(what = "listing this run's artifacts"): Promise<StoredArtifact[]> {
    const { client } = await connect();
    const { artifacts } = await within(client.listArtifacts(), deadlineMs, what, BOUND);
    return artifacts.map((a) => {
      // Its answer decides what may be deleted: an artifact without its name or ID is not used.
      if (typeof a.name !== 'string' || !Number.isSafeInteger(a.id) || a.id <= 0) {
        throw new Error('the artifact service listed an artifact without its name or ID');
      }
      return {
        name: a.name,
        id: a.id,
        size: Number.isSafeInteger(a.size) ? a.size : 0,
        ...(a.digest ? { digest: a.digest } : {})
      };
    });
  }

  return redacting(secrets, {
    list: () => list(),

    async find(name) {
      // Filtered here, not by the service: deleting the wrong artifact cannot be undone.
      const named = (await list(`looking up artifact '${name}'`)).filter((a) => a.name === name);
      // As @actions/artifact's getArtifact: of several with one name, the newest.
      return named.sort((a, b) => b.id - a.id)[0];
    },

    async files(artifact) {
      const what = `artifact ${artifact.id}`;
      if (artifact.size > MAX_READ_BYTES) {
        throw new DamagedArtifact(`${what} is larger than ${MAX_READ_BYTES} bytes`);
      }
      const { client, toolkit } = await connect();
      const folder = await fs.mkdtemp(
        path.join(env.RUNNER_TEMP || os.tmpdir(), 'immuta-artifact-')
      );
      try {
        // The archive as it was stored, digest checked by the package; unpacked below, in memory.
        const { digestMismatch } = await within(
          client.downloadArtifact(artifact.id, {
            path: folder,
            expectedHash: artifact.digest,
            skipDecompress: true
          }),
          deadlineMs,
          `downloading ${what} ('${artifact.name}')`,
          BOUND
        );
        const [name, ...more] = await fs.readdir(folder);
        if (name === undefined || more.length > 0) {
          throw new DamagedArtifact(
            `the download of ${what} left ${more.length + 1} files, not one`
          );
        }
        const file = path.join(folder, name);
        if ((await fs.stat(file)).size > MAX_READ_BYTES) {
          throw new DamagedArtifact(`${what} is larger than ${MAX_READ_BYTES} bytes`);
        }
        if (digestMismatch) {
          const bytes = await fs.readFile(file);
          throw new DamagedArtifact(
            `${what} does not match the digest the results service lists for it (${artifact.digest}); its download is sha256:${createHash('sha256').update(bytes).digest('hex')}`
          );
        }
        let read;
        try {
          // An artifact that is no zip is the one file it is, as download-artifact saves it.
          read = (await toolkit.zipEntries(file, MAX_READ_BYTES)) ?? [
            { name, data: await fs.readFile(file) }
          ];
        } catch (error) {
          throw new DamagedArtifact(`${what} could not be unpacked: ${(error as Error).message}`, {
            cause: error
          });
        }
        try {
          checkFileNames(read.map((f) => f.name));
        } catch (error) {
          throw new DamagedArtifact((error as Error).message, { cause: error });
        }
        return new Map(read.map((f) => [f.name, f.data]));
      } finally {
        // A download given up on may still hold its file open (Windows refuses to remove it):
        // what the step says is why it stopped, and the runner clears RUNNER_TEMP anyway.
        await fs.rm(folder, { recursive: true, force: true }).catch(() => undefined);
      }
    },

    async delete(artifact) {
      const { client } = await connect();
      // The package deletes the newest artifact of the name: names are unique in a run, so that
      // is the one compared, unless it was replaced in between; then the step says so.
      const { id } = await within(
        client.deleteArtifact(artifact.name),
        deadlineMs,
        `deleting artifact '${artifact.name}' (ID ${artifact.id})`,
        BOUND
      );
      if (id !== artifact.id) {
        throw new Error(
          `deleting artifact '${artifact.name}' removed ID ${id}, not ID ${artifact.id}, which was compared: another job replaced it in between`
        );
      }
    },

    async upload(name, files, root, retentionDays) {
      const { client } = await connect();
      const { id, size } = await within(
        client.uploadArtifact(name, [...files], root, retentionDays ? { retentionDays } : {}),
        uploadMs,
        `uploading artifact '${name}'`,
        `${BOUND}, plus ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS for its blob`
      );
      if (id === undefined) throw new Error(`the upload of artifact '${name}' gave no ID`);
      return { id, size: size ?? 0 };
    }
  });
}

/**
 * The client, its errors cut of the runtime token: the package passes on the service's error
 * text, which may echo the token it was sent (raw, or in base64), and that text reaches the
 * log, the summary and the report.
 */
function redacting(secrets: Secrets, client: ArtifactClient): ArtifactClient {
  const clean = (error: unknown): never => {
    if (error instanceof Error) {
      error.message = secrets.redact(error.message);
      throw error;
    }
    throw new Error(secrets.redact(String(error)));
  };
  return {
    list: () => client.list().catch(clean),
    find: (name) => client.find(name).catch(clean),
    files: (artifact) => client.files(artifact).catch(clean),
    delete: (artifact) => client.delete(artifact).catch(clean),
    upload: (name, files, root, retentionDays) =>
      client.upload(name, files, root, retentionDays).catch(clean)
  };
}
