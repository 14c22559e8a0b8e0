// A loopback stand-in for the GitHub Actions results service that @actions/artifact talks to (its
// twirp JSON RPCs) and for the blob store it uploads to (block upload and commit), so the real
// artifact client runs unchanged inside the tests and the demo.
import * as http from 'node:http';

const SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/';
export const RUN_BACKEND_ID = 'run-backend-7d1c';
export const JOB_BACKEND_ID = 'job-backend-3e9a';

/** An unsigned JWT like the runner's: the client only decodes the `scp` claim. */
export function runtimeToken(run = RUN_BACKEND_ID, job = JOB_BACKEND_ID) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ scp: `Actions.GenericRead Actions.Results:${run}:${job}` })}.`;
}

/**
 * Starts the stand-in. faults: { CreateArtifact: status, FinalizeArtifact: status, blob: status }
 * answer that status (with a twirp error body) instead of doing the work.
 */
export async function startArtifactService({ faults = {} } = {}) {
  const artifacts = [];
  const blobs = new Map();
  const calls = [];
  let nextId = 1000;

  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname.startsWith(SERVICE)) {
      const method = url.pathname.slice(SERVICE.length);
      const request = JSON.parse(body.toString('utf8') || '{}');
      calls.push({ method, request });
      if (faults[method]) return twirpError(res, faults[method], `injected ${method} failure`);
      return rpc(method, request, res);
    }
    if (url.pathname.startsWith('/blob/')) return blob(req, url, body, res);
    res.writeHead(404).end();
  });

  function rpc(method, request, res) {
    const inRun = (a) =>
      a.workflow_run_backend_id === request.workflow_run_backend_id &&
      a.workflow_job_run_backend_id === request.workflow_job_run_backend_id;
    switch (method) {
      case 'CreateArtifact': {
        if (artifacts.some((a) => inRun(a) && a.name === request.name)) {
          return twirpError(
            res,
            409,
            'an artifact with this name already exists on the workflow run'
          );
        }
        const blobPath = `/blob/actions-results/${request.workflow_run_backend_id}/${encodeURIComponent(request.name)}.zip`;
        artifacts.push({ ...request, finalized: false, blobPath });
        return json(res, {
          ok: true,
          signed_upload_url: `${origin()}${blobPath}?sv=2023-11-03&sig=stand-in-signature`
        });
      }
      case 'FinalizeArtifact': {
        const artifact = artifacts.find((a) => inRun(a) && a.name === request.name && !a.finalized);
        if (!artifact) return twirpError(res, 404, 'no such artifact');
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
            (request.name_filter === undefined || a.name === request.name_filter)
        );
        return json(res, {
          artifacts: found.map((a) => ({
            workflow_run_backend_id: a.workflow_run_backend_id,
            workflow_job_run_backend_id: a.workflow_job_run_backend_id,
            database_id: a.database_id,
            name: a.name,
            size: String(a.size ?? 0),
            created_at: new Date().toISOString()
          }))
        });
      }
      case 'DeleteArtifact': {
        const index = artifacts.findIndex((a) => inRun(a) && a.name === request.name);
        if (index === -1) return twirpError(res, 404, 'artifact not found');
        const [removed] = artifacts.splice(index, 1);
        blobs.delete(removed.blobPath);
        return json(res, { ok: true, artifact_id: removed.database_id });
      }
      default:
        return twirpError(res, 404, `unknown method ${method}`);
    }
  }

  function blob(req, url, body, res) {
    if (faults.blob) {
      res.writeHead(faults.blob, {
        'x-ms-error-code': 'AuthorizationFailure',
        'content-type': 'application/xml'
      });
      return res.end(
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationFailure</Code><Message>refused</Message></Error>'
      );
    }
    const entry = blobs.get(url.pathname) ?? { blocks: new Map(), content: undefined };
    blobs.set(url.pathname, entry);
    const comp = url.searchParams.get('comp');
    if (req.method === 'PUT' && comp === 'block') {
      entry.blocks.set(url.searchParams.get('blockid'), body);
    } else if (req.method === 'PUT' && comp === 'blocklist') {
      const ids = [
        ...body.toString('utf8').matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)</g)
      ].map((m) => m[1]);
      entry.content = Buffer.concat(ids.map((id) => entry.blocks.get(id) ?? Buffer.alloc(0)));
    } else if (req.method === 'PUT') {
      entry.content = body;
    } else {
      res.writeHead(405).end();
      return;
    }
    res.writeHead(201, {
      'x-ms-request-id': `req-${Date.now()}`,
      'x-ms-version': '2023-11-03',
      'x-ms-request-server-encrypted': 'true',
      etag: '"0x8D0000000000000"',
      'last-modified': new Date().toUTCString()
    });
    res.end();
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = () => `http://127.0.0.1:${server.address().port}`;

  return {
    url: origin(),
    calls,
    artifacts,
    /** The committed bytes of an artifact's zip, by artifact name. */
    zipOf(name) {
      const artifact = artifacts.find((a) => a.name === name);
      return artifact ? blobs.get(artifact.blobPath)?.content : undefined;
    },
    env(run = RUN_BACKEND_ID, job = JOB_BACKEND_ID) {
      return { ACTIONS_RUNTIME_TOKEN: runtimeToken(run, job), ACTIONS_RESULTS_URL: `${origin()}/` };
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })
  };
}

function json(res, value) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

function twirpError(res, status, msg) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ code: status === 404 ? 'not_found' : 'internal', msg }));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
