/**
 * The artifact operations the action needs (find, download, delete, upload), over the results
 * service and the blob store its signed URLs point at. It has the shape of @actions/artifact's
 * client for these four calls, and does what that client does, in a few hundred lines where that
 * client loads the Azure SDK, Octokit and archiver (six megabytes) on every run that uploads.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { answerText, formatBytes, type HttpAnswer } from '../http/body.js';
import { ExchangeFailed, type HttpCaller } from '../http/caller.js';
import { excerpt } from '../escape.js';
import { backendIdsFrom, field, ResultsService, type BackendIds } from './results-service.js';
import { unzip, zip } from './zip.js';

export interface ArtifactClient {
  /** The newest artifact of the name in this run; throws an ArtifactNotFoundError when none. */
  getArtifact(name: string): Promise<{ artifact: { name: string; id: number; size: number } }>;
  /** Unpacks the artifact's files into `options.path`. */
  downloadArtifact(id: number, options: { path: string }): Promise<{ downloadPath: string }>;
  deleteArtifact(name: string): Promise<{ id: number }>;
  /** Zips the files (paths inside the zip relative to `root`) and uploads them as the artifact. */
  uploadArtifact(
    name: string,
    files: string[],
    root: string,
    options?: { retentionDays?: number }
  ): Promise<{ id: number; size: number }>;
}

export class ArtifactNotFoundError extends Error {
  constructor(what: string) {
    super(`Artifact not found for ${what}`);
    this.name = 'ArtifactNotFoundError';
  }
}

export interface ArtifactClientOptions {
  /** The runner's environment: ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL, GITHUB_RETENTION_DAYS. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A caller of its own: the artifact service's waits and retries are not Immuta's. */
  readonly caller: HttpCaller;
  /** Masks a secret (a signed URL's signature) and cuts it out of messages. */
  readonly addSecret: (secret: string) => void;
  readonly redact: (text: string) => string;
  readonly log: { info(message: string): void; warning(message: string): void };
  readonly now?: () => Date;
  /** The most the files of one upload may hold; they are zipped in memory. */
  readonly maxUploadBytes?: number;
  /** Bound on one call to the results service (blob transfers have the caller's). */
  readonly rpcTimeoutMs?: number;
}

/** The most a downloaded artifact may unpack to: it is read to compare a few scripts. */
const MAX_UNPACKED_BYTES = 256 * 1024 * 1024;
/**
 * The most one upload holds. Scripts are kilobytes (Immuta's are capped at 8 MiB each); the zip is
 * made in memory and sent in one request, so a batch of hundreds of huge scripts is refused
 * before anything is deleted rather than taking the runner's memory.
 */
export const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;
/** A blob write with the Blob service version that takes up to 5000 MiB in one request. */
const BLOB_API_VERSION = '2021-08-06';

export function createArtifactClient(options: ArtifactClientOptions): ArtifactClient {
  const { env, caller, log } = options;
  const now = options.now ?? (() => new Date());
  let service: { rpc: ResultsService; ids: BackendIds } | undefined;
  /** Built on first use, so that a missing variable fails the upload, with the file kept. */
  const connect = () => {
    if (service) return service;
    const token = env.ACTIONS_RUNTIME_TOKEN;
    if (!token) throw new Error('ACTIONS_RUNTIME_TOKEN is not set');
    const url = env.ACTIONS_RESULTS_URL;
    if (!url || !URL.canParse(url)) {
      throw new Error(
        'ACTIONS_RESULTS_URL is not set to a URL: artifact uploads work only inside a GitHub Actions runner'
      );
    }
    options.addSecret(token);
    service = {
      rpc: new ResultsService(url, token, caller, options.redact, options.rpcTimeoutMs),
      ids: backendIdsFrom(token)
    };
    return service;
  };

  /** The newest listed artifact of the name (or with the ID); others in the answer are ignored. */
  async function listed(filter: { name_filter: string } | { id_filter: string }) {
    const { rpc, ids } = connect();
    const answer = await rpc.call('ListArtifacts', { ...ids, ...filter }, true);
    const artifacts = field(answer, 'artifacts') ?? [];
    if (!Array.isArray(artifacts)) throw new Error('ListArtifacts answered without a list');
    // The filter is the service's to apply, but deleting the wrong artifact cannot be undone.
    const found = artifacts
      .map((a) => artifactOf(a))
      .filter((a) =>
        'name_filter' in filter ? a.name === filter.name_filter : String(a.id) === filter.id_filter
      );
    if (found.length === 0) {
      throw new ArtifactNotFoundError(
        'name_filter' in filter ? `name: ${filter.name_filter}` : `ID: ${filter.id_filter}`
      );
    }
    // As @actions/artifact: of several with one name, the newest.
    return found.sort((a, b) => b.id - a.id)[0]!;
  }

  /** Sends a blob request, tried again on the answers Azure Storage says are passing. */
  async function blob(
    method: 'GET' | 'PUT',
    signedUrl: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    limit: number
  ): Promise<HttpAnswer> {
    const url = new URL(signedUrl);
    const shown = `${url.host}${url.pathname}`;
    try {
      return await caller.send(
        {
          method,
          url,
          shown,
          headers: { 'x-ms-version': BLOB_API_VERSION, ...headers },
          body,
          limit
        },
        { attempts: 5, retryable: (s) => s === 408 || s === 429 || s >= 500 }
      );
    } catch (error) {
      if (!(error instanceof ExchangeFailed)) throw error;
      throw new Error(`the blob store at ${url.host} gave no answer (${error.reason})`, {
        cause: error
      });
    }
  }

  return {
    async getArtifact(name) {
      const artifact = await listed({ name_filter: name });
      return { artifact };
    },

    async downloadArtifact(id, { path: folder }) {
      const { rpc } = connect();
      const artifact = await listed({ id_filter: String(id) });
      const answer = await rpc.call(
        'GetSignedArtifactURL',
        {
          workflow_run_backend_id: artifact.runBackendId,
          workflow_job_run_backend_id: artifact.jobBackendId,
          name: artifact.name
        },
        true
      );
      const signedUrl = signedUrlIn(field(answer, 'signed_url'), 'GetSignedArtifactURL', rpc);
      maskSignature(signedUrl, options.addSecret);
      const got = await blob('GET', signedUrl, {}, undefined, MAX_UNPACKED_BYTES);
      if (got.status !== 200) throw blobRefused('download', got, options.redact);
      if (got.truncated)
        throw new Error(`artifact ${id} is larger than ${MAX_UNPACKED_BYTES} bytes`);
      let files: Map<string, Buffer>;
      try {
        files = unzip(got.bytes, MAX_UNPACKED_BYTES);
      } catch (error) {
        throw new Error(`artifact ${id} could not be unpacked: ${(error as Error).message}`, {
          cause: error
        });
      }
      for (const [name, data] of files) {
        const target = path.join(folder, safeRelative(name));
        await fs.mkdir(path.dirname(target), { recursive: true });
        await fs.writeFile(target, data, { mode: 0o600 });
      }
      return { downloadPath: folder };
    },

    async deleteArtifact(name) {
      const { rpc } = connect();
      const artifact = await listed({ name_filter: name });
      const answer = await rpc.call(
        'DeleteArtifact',
        {
          workflow_run_backend_id: artifact.runBackendId,
          workflow_job_run_backend_id: artifact.jobBackendId,
          name: artifact.name
        },
        false
      );
      return { id: idIn(field(answer, 'artifact_id'), 'DeleteArtifact') };
    },

    async uploadArtifact(name, files, root, uploadOptions = {}) {
      const { rpc, ids } = connect();
      const limit = options.maxUploadBytes ?? MAX_UPLOAD_BYTES;
      let total = 0;
      for (const file of files) total += (await fs.stat(file)).size;
      if (total > limit) {
        throw new Error(
          `the files to upload hold ${formatBytes(total)}, more than the ${formatBytes(limit)} one artifact of this action may hold; split the batch into smaller ones`
        );
      }
      const entries = await Promise.all(
        files.map(async (file) => ({
          name: entryName(root, file),
          data: await fs.readFile(file)
        }))
      );
      const archive = zip(entries, now());
      const request: Record<string, unknown> = {
        ...ids,
        name,
        mime_type: 'application/zip',
        version: 7
      };
      const expires = expiry(uploadOptions.retentionDays, env, now(), log.warning);
      if (expires) request.expires_at = expires;
      const created = await rpc.call('CreateArtifact', request, false);
      if (field(created, 'ok') !== true)
        throw new Error('CreateArtifact: the service did not say ok');
      const uploadUrl = signedUrlIn(field(created, 'signed_upload_url'), 'CreateArtifact', rpc);
      maskSignature(uploadUrl, options.addSecret);

      log.info(`Uploading artifact: ${name}.zip (${archive.length} bytes)`);
      const put = await blob(
        'PUT',
        uploadUrl,
        {
          'x-ms-blob-type': 'BlockBlob',
          'x-ms-blob-content-type': 'application/zip',
          'content-type': 'application/zip'
        },
        archive,
        64 * 1024
      );
      if (put.status !== 201) throw blobRefused('upload', put, options.redact);

      const digest = createHash('sha256').update(archive).digest('hex');
      const finalized = await rpc.call(
        'FinalizeArtifact',
        { ...ids, name, size: String(archive.length), hash: `sha256:${digest}` },
        false
      );
      if (field(finalized, 'ok') !== true) {
        throw new Error('FinalizeArtifact: the service did not say ok');
      }
      return {
        id: idIn(field(finalized, 'artifact_id'), 'FinalizeArtifact'),
        size: archive.length
      };
    }
  };
}

/** A listed artifact, checked: the service's answer is used only in the shape it documents. */
function artifactOf(value: unknown) {
  const a = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const name = field(a, 'name');
  const runBackendId = field(a, 'workflow_run_backend_id');
  const jobBackendId = field(a, 'workflow_job_run_backend_id');
  const size = field(a, 'size') ?? '0';
  if (
    typeof name !== 'string' ||
    typeof runBackendId !== 'string' ||
    typeof jobBackendId !== 'string' ||
    !/^\d+$/.test(String(size))
  ) {
    throw new Error('ListArtifacts answered with an artifact that lacks its name, IDs or size');
  }
  return {
    name,
    id: idIn(field(a, 'database_id'), 'ListArtifacts'),
    size: Number(size),
    runBackendId,
    jobBackendId
  };
}

function idIn(value: unknown, method: string): number {
  if (
    (typeof value !== 'string' && typeof value !== 'number') ||
    !/^\d{1,15}$/.test(String(value))
  ) {
    throw new Error(`${method} answered without an artifact ID`);
  }
  return Number(value);
}

/**
 * The blob URL from the service's answer. It must be https when the service is: the script
 * travels to it, and an answer that downgrades it to plain http is not GitHub's.
 */
function signedUrlIn(value: unknown, method: string, service: ResultsService): string {
  if (typeof value !== 'string' || !URL.canParse(value)) {
    throw new Error(`${method} answered without a signed URL`);
  }
  const protocol = new URL(value).protocol;
  if (protocol !== 'https:' && !(protocol === 'http:' && service.origin.startsWith('http:'))) {
    throw new Error(
      `${method} answered with a blob URL over ${protocol.replace(':', '')}, not https; the script is not sent there`
    );
  }
  return value;
}

/** The SAS signature is the key to the blob: masked as @actions/artifact masks it. */
function maskSignature(signedUrl: string, addSecret: (secret: string) => void): void {
  const signature = new URL(signedUrl).searchParams.get('sig');
  if (signature) {
    addSecret(signature);
    addSecret(encodeURIComponent(signature));
  }
}

function blobRefused(what: string, answer: HttpAnswer, redact: (text: string) => string): Error {
  // Azure Storage says why in an XML body: <Error><Code>AuthenticationFailed</Code>...
  const code = /<Code>([A-Za-z]{1,64})<\/Code>/.exec(answerText(answer))?.[1];
  const message = /<Message>([^<]{1,2000})<\/Message>/.exec(answerText(answer))?.[1];
  return new Error(
    `the blob store refused the ${what} (${answer.status}${code ? ` ${code}` : ''})${message ? `: ${excerpt(redact(message))}` : ''}`
  );
}

/** The file's path inside the zip: relative to the root, with forward slashes. */
function entryName(root: string, file: string): string {
  const relative = path.relative(root, file);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new Error(`${file} is not inside ${root}`);
  }
  return relative.split(path.sep).join('/');
}

/** A zip entry's name as a path below the folder; one that would leave it is refused. */
function safeRelative(name: string): string {
  const parts = name.split(/[\\/]/);
  if (name.includes('\0') || path.isAbsolute(name) || parts.some((p) => p === '..' || p === '')) {
    throw new Error(
      `the artifact holds a file named ${JSON.stringify(name)}, which cannot be unpacked safely`
    );
  }
  return path.join(...parts);
}

/**
 * When the artifact expires, as @actions/artifact sets it: `days` from now, no later than the
 * repository's limit (GITHUB_RETENTION_DAYS); undefined keeps the repository's default.
 */
export function expiry(
  days: number | undefined,
  env: Readonly<Record<string, string | undefined>>,
  now: Date,
  warn: (message: string) => void
): string | undefined {
  if (!days) return undefined;
  const limit = Number.parseInt(env.GITHUB_RETENTION_DAYS ?? '', 10);
  if (Number.isFinite(limit) && limit < days) {
    warn(
      `Retention days cannot be greater than the maximum allowed retention set within the repository. Using ${limit} instead.`
    );
    days = limit;
  }
  const at = new Date(now);
  at.setDate(at.getDate() + days);
  return at.toISOString();
}
