// The artifact back end on loopback: a small fake of the GitHub Actions results service (its twirp
// JSON RPCs) in front of Azurite, Microsoft's Azure Storage emulator, as the real blob store. The
// bundled action and @actions/artifact (the package actions/upload-artifact and
// actions/download-artifact are built on, which the action runs) talk to it unchanged, so a test
// can read back, from the blob store's side, exactly what a user would download.
//
// Its answers have the fields of @actions/artifact's generated client for
// github.actions.results.api.v1.ArtifactService (lib/generated/results/api/v1/artifact.js), in
// protobuf JSON with proto field names, and twirp's error body ({ code, msg }). Inferred, as no
// public document shows them: the service's error texts, the blob names it signs (the artifact
// name with .zip for a zip, the name alone for a file uploaded as it is), and the content type a
// blob is served with (whatever the upload set, as Azure Storage does).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import {
  BlobSASPermissions,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters
} from '@azure/storage-blob';

const SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/';
export const RUN_BACKEND_ID = 'run-backend-7d1c';
export const JOB_BACKEND_ID = 'job-backend-3e9a';

// Azurite's published development account: not a secret, the same on every Azurite.
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** An unsigned JWT like the runner's: the client only decodes the `scp` claim. */
export function runtimeToken(run = RUN_BACKEND_ID, job = JOB_BACKEND_ID) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ scp: `Actions.GenericRead Actions.Results:${run}:${job}` })}.`;
}

/** The variable the test run's global setup names its one Azurite in. */
export const SHARED_AZURITE = 'IMMUTA_TEST_AZURITE';

/**
 * Azurite's blob service on 127.0.0.1: the test run's, when its global setup started one (then
 * stop() leaves it running for the other test files), else one of this caller's own.
 */
export async function startAzurite() {
  const shared = process.env[SHARED_AZURITE];
  if (shared) return { ...clientsOf(shared), stop: async () => undefined };
  return startOwnAzurite();
}

function clientsOf(url) {
  const credential = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY);
  return { url, credential, blobs: new BlobServiceClient(`${url}/${ACCOUNT}`, credential) };
}

/**
 * Starts Azurite's blob service on 127.0.0.1, in memory, with telemetry off (it would otherwise
 * reach out to the internet). Resolves once it listens; stop() ends the process.
 */
export async function startOwnAzurite() {
  const main = path.join(
    path.dirname(createRequire(import.meta.url).resolve('azurite/package.json')),
    'dist/src/blob/main.js'
  );
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'azurite-'));
  const child = spawn(
    process.execPath,
    [
      main,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--inMemoryPersistence',
      '--extentMemoryLimit',
      '256',
      '--disableTelemetry',
      '--silent',
      '--skipApiVersionCheck',
      '--loose'
    ],
    { cwd, stdio: ['ignore', 'pipe', 'pipe'] }
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start:\n${log}`)), 30_000);
    const read = (chunk) => {
      log += chunk;
      const m = /successfully listens on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with ${code}:\n${log}`));
    });
  });
  return {
    ...clientsOf(url),
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  };
}

/**
 * Starts the results-service fake in front of an Azurite from startAzurite(). Every call is
 * recorded in `calls` (method, request and headers), for comparing one client with another.
 * faults: { CreateArtifact, FinalizeArtifact, ListArtifacts, GetSignedArtifactURL, DeleteArtifact }:
 * a number answers that HTTP status (with a twirp error body) instead of doing the work; an
 * object { status, contentType, body } answers that instead (a proxy's page); 'lost' does the
 * work and then drops the connection unanswered; 'lost-once' does so the first time only;
 * 'hang' takes the request and never answers, doing nothing; 'half' does the work and sends the
 * head of its answer and half the body, then nothing more;
 * ListArtifacts: 'ignore-filter' lists every artifact of the run, whatever name was asked for.
 * A function in place of a fault is asked with the request and returns a fault, or undefined.
 * blob: 'refuse' hands out an upload URL whose signature the blob store rejects; 'refuse-read' a
 * download URL so; 'stall' an upload URL to a server that takes the upload and never answers;
 * 'stall-read' a download URL to a server that sends the head of a zip's answer and half its
 * bytes, then nothing more.
 * hostnames: { results, blob }: names for the service and the blob store in the URLs handed out
 * (ACTIONS_RESULTS_URL; signed URLs, as devstoreaccount1.<blob>), which only a proxy that maps
 * them to loopback can reach.
 */
export async function startArtifactService({ azurite, faults = {}, hostnames }) {
  // A container of its own, so services sharing one Azurite never see each other's blobs.
  const containerName = `actions-results-${Math.random().toString(36).slice(2, 10)}`;
  const container = azurite.blobs.getContainerClient(containerName);
  await container.createIfNotExists();
  const artifacts = [];
  const calls = [];
  /** Answers a fault holds open, ended when the service closes. */
  const held = new Set();
  /** Every signed URL handed out, in order. */
  const issued = [];
  let nextId = 1000 + Math.floor(Math.random() * 1000) * 10;

  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method !== 'POST' || !url.pathname.startsWith(SERVICE))
      return twirpError(res, 404, 'not found');
    const method = url.pathname.slice(SERVICE.length);
    const request = JSON.parse(body || '{}');
    calls.push({ method, request, headers: req.headers });
    // A function chooses the fault by the request (an artifact's name, say), or none.
    const chosen = faults[method];
    const fault = typeof chosen === 'function' ? chosen(request) : chosen;
    if (typeof fault === 'number') return twirpError(res, fault, `injected ${method} failure`);
    if (typeof fault === 'object') {
      res.writeHead(fault.status ?? 200, { 'content-type': fault.contentType ?? 'text/html' });
      return res.end(fault.body ?? '');
    }
    if (fault === 'hang') return held.add(res);
    if (fault === 'half') {
      // The answer the service would give, cut in the middle of its body.
      const answer = { status: 200, headers: {}, body: '' };
      const capture = {
        writeHead: (status, headers) => Object.assign(answer, { status, headers }),
        end: (text) => (answer.body = String(text ?? ''))
      };
      await rpc(method, request, capture);
      const bytes = Buffer.from(answer.body);
      res.writeHead(answer.status, { ...answer.headers, 'content-length': bytes.length });
      res.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
      return held.add(res);
    }
    if (fault === 'lost' || fault === 'lost-once') {
      if (fault === 'lost-once' && typeof chosen !== 'function') delete faults[method];
      // The service acts; its answer never arrives.
      const unanswered = { writeHead: () => unanswered, end: () => req.socket.destroy() };
      return rpc(method, request, unanswered).catch(() => req.socket.destroy());
    }
    try {
      await rpc(method, request, res);
    } catch (error) {
      twirpError(res, 500, String(error?.message ?? error));
    }
  });

  async function rpc(method, request, res) {
    const sameJob = (a) =>
      a.workflow_run_backend_id === request.workflow_run_backend_id &&
      a.workflow_job_run_backend_id === request.workflow_job_run_backend_id;
    switch (method) {
      case 'CreateArtifact': {
        // As the real service: a name is unique across the whole run, every job and attempt.
        const sameRun = (a) => a.workflow_run_backend_id === request.workflow_run_backend_id;
        if (artifacts.some((a) => sameRun(a) && a.name === request.name)) {
          return twirpError(
            res,
            409,
            'an artifact with this name already exists on the workflow run'
          );
        }
        const zipped = (request.mime_type ?? 'application/zip') === 'application/zip';
        const blobName = `${request.workflow_run_backend_id}/${request.workflow_job_run_backend_id}/${request.name}${zipped ? '.zip' : ''}`;
        artifacts.push({ ...request, finalized: false, blobName });
        const signed = uploadUrl(blobName, faults.blob === 'refuse');
        return json(res, {
          ok: true,
          signed_upload_url: faults.blob === 'stall' ? stalling(signed) : signed
        });
      }
      case 'FinalizeArtifact': {
        const artifact = artifacts.find(
          (a) => sameJob(a) && a.name === request.name && !a.finalized
        );
        if (!artifact) return twirpError(res, 404, 'no such artifact');
        const properties = await container.getBlobClient(artifact.blobName).getProperties();
        if (String(properties.contentLength) !== String(request.size)) {
          return twirpError(
            res,
            400,
            `size ${request.size} does not match the blob's ${properties.contentLength}`
          );
        }
        Object.assign(artifact, {
          finalized: true,
          size: request.size,
          hash: request.hash,
          database_id: String(nextId++)
        });
        return json(res, { ok: true, artifact_id: artifact.database_id });
      }
      case 'ListArtifacts': {
        const found = artifacts.filter(
          (a) =>
            a.finalized &&
            a.workflow_run_backend_id === request.workflow_run_backend_id &&
            (request.name_filter === undefined ||
              faults.ListArtifacts === 'ignore-filter' ||
              a.name === request.name_filter) &&
            (request.id_filter === undefined || a.database_id === String(request.id_filter))
        );
        return json(res, {
          artifacts: found.map((a) => ({
            workflow_run_backend_id: a.workflow_run_backend_id,
            workflow_job_run_backend_id: a.workflow_job_run_backend_id,
            database_id: a.database_id,
            name: a.name,
            size: String(a.size ?? 0),
            created_at: new Date().toISOString(),
            // As the real service: the sha256 of the zip, from FinalizeArtifact's hash.
            ...(a.hash ? { digest: a.hash } : {})
          }))
        });
      }
      case 'GetSignedArtifactURL': {
        const artifact = artifacts.find(
          (a) => sameJob(a) && a.name === request.name && a.finalized
        );
        if (!artifact) return twirpError(res, 404, 'artifact not found');
        const signed = signedUrl(artifact.blobName, 'r', faults.blob === 'refuse-read');
        return json(res, { signed_url: faults.blob === 'stall-read' ? stalling(signed) : signed });
      }
      case 'DeleteArtifact': {
        const index = artifacts.findIndex((a) => sameJob(a) && a.name === request.name);
        if (index === -1) return twirpError(res, 404, 'artifact not found');
        const [removed] = artifacts.splice(index, 1);
        await container.getBlobClient(removed.blobName).deleteIfExists();
        return json(res, { ok: true, artifact_id: removed.database_id });
      }
      default:
        return twirpError(res, 404, `unknown method ${method}`);
    }
  }

  /** A write-only SAS URL for one blob, as the real service hands out; a bad one when refusing. */
  function uploadUrl(blobName, refuse) {
    return signedUrl(blobName, 'cw', refuse);
  }

  function signedUrl(blobName, permissions, refuse = false) {
    const credential = refuse
      ? new StorageSharedKeyCredential(
          ACCOUNT,
          Buffer.from('not-the-account-key').toString('base64')
        )
      : azurite.credential;
    const sas = generateBlobSASQueryParameters(
      {
        containerName,
        blobName,
        permissions: BlobSASPermissions.parse(permissions),
        expiresOn: new Date(Date.now() + 3600_000)
      },
      credential
    );
    const url = new URL(`${container.getBlockBlobClient(blobName).url}?${sas.toString()}`);
    if (hostnames?.blob) {
      // The account in the name, as Azure Storage's own URLs have it; Azurite reads it there.
      url.hostname = `${ACCOUNT}.${hostnames.blob}`;
      url.pathname = url.pathname.replace(`/${ACCOUNT}/`, '/');
    }
    issued.push(url.href);
    return url.href;
  }

  // A blob store that reads what it is sent and never answers: the upload stalls. A download
  // gets the head of a zip's answer and half its bytes, then nothing more.
  const sockets = new Set();
  const stall = http.createServer((req, res) => {
    req.resume();
    if (req.method !== 'GET') return;
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': 2048 });
    res.write(Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(1020)]));
  });
  stall.on('connection', (socket) => sockets.add(socket));
  await new Promise((resolve) => stall.listen(0, '127.0.0.1', resolve));
  /** The signed URL with the stalling server's origin. */
  function stalling(signed) {
    const url = new URL(signed);
    url.host = `127.0.0.1:${stall.address().port}`;
    return url.href;
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const shownOrigin = `http://${hostnames?.results ?? '127.0.0.1'}:${server.address().port}`;

  return {
    url: origin,
    calls,
    artifacts,
    issued,
    /**
     * Puts a finalized artifact holding this zip into the run, as another client (an older
     * version of this action, another step) would have left it. Returns its ID. Its digest is
     * the zip's sha256 unless options.digest gives another (or null: none listed).
     * options.contentType: not a zip but a file uploaded as it is, served with that type.
     */
    async plant(name, zipBytes, run = RUN_BACKEND_ID, job = JOB_BACKEND_ID, options = {}) {
      const zipped = options.contentType === undefined;
      const blobName = `${run}/${job}/${name}${zipped ? '.zip' : ''}`;
      await container.getBlockBlobClient(blobName).uploadData(zipBytes, {
        blobHTTPHeaders: { blobContentType: options.contentType ?? 'application/zip' }
      });
      const database_id = String(nextId++);
      artifacts.push({
        workflow_run_backend_id: run,
        workflow_job_run_backend_id: job,
        name,
        finalized: true,
        blobName,
        size: String(zipBytes.length),
        database_id,
        ...(options.digest === null
          ? {}
          : {
              hash:
                options.digest ?? `sha256:${createHash('sha256').update(zipBytes).digest('hex')}`
            })
      });
      return database_id;
    },
    /** The artifact's zip as the blob store holds it, by artifact name; undefined when absent. */
    async zipOf(name) {
      const artifact = artifacts.find((a) => a.name === name);
      if (!artifact) return undefined;
      const blob = container.getBlobClient(artifact.blobName);
      return (await blob.exists()) ? blob.downloadToBuffer() : undefined;
    },
    /** Names of the blobs in the store. */
    async blobNames() {
      const names = [];
      for await (const item of container.listBlobsFlat()) names.push(item.name);
      return names;
    },
    env(run = RUN_BACKEND_ID, job = JOB_BACKEND_ID) {
      return {
        ACTIONS_RUNTIME_TOKEN: runtimeToken(run, job),
        ACTIONS_RESULTS_URL: `${shownOrigin}/`
      };
    },
    close: async () => {
      for (const res of held) res.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => stall.close(resolve));
      await new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    }
  };
}

function json(res, value) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

function twirpError(res, status, msg) {
  const code =
    { 400: 'invalid_argument', 404: 'not_found', 409: 'already_exists' }[status] ?? 'internal';
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ code, msg }));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
