/**
 * The artifact operations the action needs (find, read, delete, upload), over the results
 * service and the blob store its signed URLs point at: what @actions/artifact does for these
 * calls, in a few hundred lines where that client loads the Azure SDK, Octokit and archiver (six
 * megabytes) on every run that uploads.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { answerText, formatBytes, type HttpAnswer } from '../http/body.js';
import { ExchangeFailed, HttpCaller } from '../http/caller.js';
import type { Transport } from '../http/transport.js';
import { excerpt } from '../action/escape.js';
import type { Secrets } from '../action/secrets.js';
import { USER_AGENT } from '../action/version.js';
import {
  ATTEMPTS,
  backendIdsFrom,
  field,
  ResultsService,
  type BackendIds
} from './results-service.js';
import { unzip, zip } from './zip.js';

/** An artifact of this run, as the results service lists it. */
export interface StoredArtifact {
  readonly name: string;
  readonly id: number;
  readonly size: number;
  /** The run and job it was uploaded from, which the service files it under. */
  readonly runBackendId: string;
  readonly jobBackendId: string;
  /** sha256:<hex> of the zip, as the service lists it; undefined for uploads that gave none. */
  readonly digest?: string;
}

export interface ArtifactClient {
  /** The newest artifact of the name in this run, or undefined when there is none. */
  find(name: string): Promise<StoredArtifact | undefined>;
  /** Every artifact of this run, of every job and attempt. */
  list(): Promise<StoredArtifact[]>;
  /** The artifact's files, by their paths inside it. */
  files(artifact: StoredArtifact): Promise<Map<string, Buffer>>;
  delete(artifact: StoredArtifact): Promise<void>;
  /** Zips the files (paths inside the zip relative to `root`) and uploads them as the artifact. */
  upload(
    name: string,
    files: readonly string[],
    root: string,
    retentionDays?: number
  ): Promise<{ id: number; size: number }>;
}

export interface ArtifactClientOptions {
  /** The runner's environment: ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL, GITHUB_RETENTION_DAYS. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The run's transport (its proxies and CA); the client's waits and retries are its own. */
  readonly transport: Transport;
  /** Where the runtime token and signed URLs' signatures are masked and cut out of messages. */
  readonly secrets: Secrets;
  readonly log: {
    debug(message: string): void;
    info(message: string): void;
    warning(message: string): void;
  };
  readonly now?: () => Date;
  /** The most the files of one upload may hold; they are zipped in memory. */
  readonly maxUploadBytes?: number;
  /** Bound on one call to the results service. */
  readonly rpcTimeoutMs?: number;
}

/**
 * The most the files of one artifact hold, uploaded or read back. Scripts are kilobytes
 * (Immuta's are capped at 8 MiB each); zips are made and read in memory, so a batch of hundreds
 * of huge scripts is refused before anything is deleted rather than taking the runner's memory.
 */
export const MAX_ARTIFACT_BYTES = 256 * 1024 * 1024;
/** A blob write with the Blob service version that takes up to 5000 MiB in one request. */
const BLOB_API_VERSION = '2021-08-06';
/** A blob transfer: an artifact of a few megabytes at most, so minutes are ample. */
const BLOB_TIMEOUT_MS = 5 * 60_000;

export function createArtifactClient(options: ArtifactClientOptions): ArtifactClient {
  const { env, secrets, log } = options;
  const now = options.now ?? (() => new Date());
  const redact = (text: string) => secrets.redact(text);
  const caller = new HttpCaller({
    transport: options.transport,
    timeoutMs: BLOB_TIMEOUT_MS,
    maxAttempts: ATTEMPTS,
    log,
    redact
  });
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
    secrets.add(token);
    service = {
      rpc: new ResultsService(url, token, caller, redact, options.rpcTimeoutMs),
      ids: backendIdsFrom(token)
    };
    return service;
  };

  /** ListArtifacts, with a name filter or none. */
  async function listed(filter: { name_filter?: string }): Promise<StoredArtifact[]> {
    const { rpc, ids } = connect();
    const answer = await rpc.call('ListArtifacts', { ...ids, ...filter }, true);
    const artifacts = field(answer, 'artifacts') ?? [];
    if (!Array.isArray(artifacts)) throw new Error('ListArtifacts answered without a list');
    return artifacts.map((a) => artifactOf(a));
  }

  async function find(name: string): Promise<StoredArtifact | undefined> {
    // The filter is the service's to apply, but deleting the wrong artifact cannot be undone.
    const found = (await listed({ name_filter: name })).filter((a) => a.name === name);
    // As @actions/artifact: of several with one name, the newest.
    return found.sort((a, b) => b.id - a.id)[0];
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
          headers: { 'x-ms-version': BLOB_API_VERSION, 'user-agent': USER_AGENT, ...headers },
          body,
          limit
        },
        { retryable: (s) => s === 408 || s === 429 || s >= 500 }
      );
    } catch (error) {
      if (!(error instanceof ExchangeFailed)) throw error;
      throw new Error(`the blob store at ${url.host} gave no answer (${error.reason})`, {
        cause: error
      });
    }
  }

  /** The artifact as the service names it in calls about it. */
  const named = (artifact: StoredArtifact) => ({
    workflow_run_backend_id: artifact.runBackendId,
    workflow_job_run_backend_id: artifact.jobBackendId,
    name: artifact.name
  });

  return {
    find,

    list: () => listed({}),

    async files(artifact) {
      const { rpc } = connect();
      const answer = await rpc.call('GetSignedArtifactURL', named(artifact), true);
      const signedUrl = signedUrlIn(field(answer, 'signed_url'), 'GetSignedArtifactURL', rpc);
      maskSignature(signedUrl, secrets);
      const got = await blob('GET', signedUrl, {}, undefined, MAX_ARTIFACT_BYTES);
      if (got.status !== 200) throw blobRefused('download', got, redact);
      if (got.truncated) {
        throw new Error(`artifact ${artifact.id} is larger than ${MAX_ARTIFACT_BYTES} bytes`);
      }
      // As download-artifact checks it: what is compared must be what was uploaded.
      const downloaded = `sha256:${createHash('sha256').update(got.bytes).digest('hex')}`;
      if (artifact.digest !== undefined && artifact.digest !== downloaded) {
        throw new Error(
          `artifact ${artifact.id} does not match the digest the results service lists for it (${artifact.digest}); its download is ${downloaded}`
        );
      }
      let files: Map<string, Buffer>;
      try {
        files = unzip(got.bytes, MAX_ARTIFACT_BYTES);
      } catch (error) {
        throw new Error(
          `artifact ${artifact.id} could not be unpacked: ${(error as Error).message}`,
          { cause: error }
        );
      }
      for (const name of files.keys()) refuseUnsafe(name);
      return files;
    },

    async delete(artifact) {
      await connect().rpc.call('DeleteArtifact', named(artifact), false);
    },

    async upload(name, files, root, retentionDays) {
      const { rpc, ids } = connect();
      const limit = options.maxUploadBytes ?? MAX_ARTIFACT_BYTES;
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
      const expires = expiry(retentionDays, env, now(), log.warning);
      if (expires) request.expires_at = expires;
      const created = await rpc.call('CreateArtifact', request, false);
      if (field(created, 'ok') !== true)
        throw new Error('CreateArtifact: the service did not say ok');
      const uploadUrl = signedUrlIn(field(created, 'signed_upload_url'), 'CreateArtifact', rpc);
      maskSignature(uploadUrl, secrets);

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
      if (put.status !== 201) throw blobRefused('upload', put, redact);

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
function artifactOf(value: unknown): StoredArtifact {
  const a = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const name = field(a, 'name');
  const runBackendId = field(a, 'workflow_run_backend_id');
  const jobBackendId = field(a, 'workflow_job_run_backend_id');
  const size = field(a, 'size') ?? '0';
  const digest = field(a, 'digest') ?? undefined;
  if (digest !== undefined && (typeof digest !== 'string' || !SHA256.test(digest))) {
    throw new Error(
      'ListArtifacts answered with an artifact whose digest is not a sha256 (sha256:<64 hex digits>)'
    );
  }
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
    jobBackendId,
    ...(digest === undefined ? {} : { digest: digest.toLowerCase() })
  };
}

const SHA256 = /^sha256:[0-9a-f]{64}$/i;

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
function maskSignature(signedUrl: string, secrets: Secrets): void {
  const signature = new URL(signedUrl).searchParams.get('sig');
  if (signature) {
    secrets.add(signature);
    secrets.add(encodeURIComponent(signature));
  }
}

function blobRefused(what: string, answer: HttpAnswer, redact: (text: string) => string): Error {
  // Azure Storage says why in an XML body: <Error><Code>AuthenticationFailed</Code>...
  const text = answerText(answer);
  const code = /<Code>([A-Za-z]{1,64})<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]{1,2000})<\/Message>/.exec(text)?.[1];
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

/**
 * Neither this action nor actions/upload-artifact writes a name that would leave the folder it
 * is downloaded to; an artifact holding one was made to harm whoever unpacks it, and is not
 * compared, let alone replaced.
 */
function refuseUnsafe(name: string): void {
  const parts = name.split(/[\\/]/);
  if (name.includes('\0') || path.isAbsolute(name) || parts.some((p) => p === '..' || p === '')) {
    throw new Error(
      `the artifact holds a file named ${JSON.stringify(name)}, which cannot be unpacked safely`
    );
  }
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
