// `npm run bench`: what a run of the action costs, as whole processes on the Node that runs the
// npm scripts (24, from the `node` devDependency). The bundled action and bench/bare-fetch.mjs
// (the same three requests with built-in fetch, nothing else) run alternately against the
// loopback Immuta stand-in, several times each after a warm-up; the medians of wall time and peak
// resident memory are printed with their ratios.
// A row reads who approved (the review history, through @actions/github, from a loopback
// stand-in of GitHub's API), and one signs in to Snowflake with GitHub's OIDC token.
// A second table times batches: 1, 10, 100 and 500 hosts in one step, at a latency and a
// max-parallel of your choosing. A third says what loading the runtime packages costs: each of
// bench/load/*.mjs bundled alone with ncc, as the action is, and run as a process, beside the
// action refusing a bad input (which loads the whole bundle and sends nothing).
//   npm run bench [-- --runs 15] [-- --hosts 1,10,100,500 --latency 50 --max-parallel 8 --batch-runs 3]
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { startImmutaStandIn, defaultState } from '../__tests__/support/immuta-stand-in.mjs';
import {
  startArtifactService,
  startAzurite
} from '../__tests__/support/artifact-service-stand-in.mjs';
import { runAction, ROOT } from '../__tests__/support/run-action.mjs';
import {
  startDatabricksStandIn,
  startSnowflakeStandIn
} from '../__tests__/support/warehouse-stand-ins.mjs';
import {
  review,
  RUN_ID,
  startGitHubApi,
  startOidcIssuer
} from '../__tests__/support/github-stand-ins.mjs';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs/promises';
import ncc from '@vercel/ncc';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '11' },
    hosts: { type: 'string', default: '1,10,100,500' },
    latency: { type: 'string', default: '50' },
    'max-parallel': { type: 'string', default: '8' },
    'batch-runs': { type: 'string', default: '3' }
  }
});
const RUNS = Number(values.runs);
const BARE_FETCH = path.join(ROOT, 'bench', 'bare-fetch.mjs');

/**
 * One way of running, measured: the action or the baseline, with its inputs and environment
 * (and, for a Databricks run, the script Immuta gives for integration 2).
 */
async function measure(immuta, contender) {
  const { entry, inputs = {}, script } = contender;
  immuta.state.hosts = defaultState().hosts;
  immuta.state.integrations = defaultState().integrations;
  if (script) immuta.state.integrations[2].script = script;
  // Immuta's record of the host names the workspace step 3 signs in to (the loopback stand-in).
  if (contender.workspace) immuta.placeHost('databricks-uc', contender.workspace);
  const step = {
    'immuta-url': immuta.url,
    'api-key': immuta.apiKey,
    'connection-key': 'snowflake-prod',
    'allow-insecure-http': 'true',
    'upload-artifact': 'false',
    ...inputs
  };
  // What an earlier attempt left, made first and not measured (a re-run's first attempt).
  await contender.before?.(immuta, step);
  const run = await runAction({
    entry,
    measureMemory: true,
    env: contender.env ?? {},
    inputs: step
  });
  if (run.code !== 0) throw new Error(`${path.basename(entry)} failed:\n${run.log}`);
  // The action says in a debug line how long loading @actions/artifact took; only a run that
  // keeps an artifact may load it.
  const loaded = /^::debug::Loaded @actions\/artifact in (\d+) ms$/m.exec(run.stdout);
  const uploads = inputs['upload-artifact'] === 'true';
  if (entry === action.entry && uploads !== (loaded !== null)) {
    throw new Error(
      `a run with upload-artifact: ${uploads} ${loaded ? 'loaded' : 'did not load'} @actions/artifact`
    );
  }
  // Only a run that reads the review history (GITHUB_API_URL set) may load @actions/github.
  const github = /^::debug::Loaded @actions\/github in (\d+) ms$/m.exec(run.stdout);
  const reads = Boolean(contender.env?.GITHUB_API_URL);
  if (entry === action.entry && reads !== (github !== null)) {
    throw new Error(
      `a run ${reads ? 'with' : 'without'} GITHUB_API_URL ${github ? 'loaded' : 'did not load'} @actions/github`
    );
  }
  return {
    wallMs: run.wallMs,
    rssMiB: run.peakRssMiB,
    loadMs: loaded ? Number(loaded[1]) : NaN,
    githubMs: github ? Number(github[1]) : NaN
  };
}

/** Runs each contender alternately, one warm-up then RUNS measured runs each; medians. */
async function compare(immuta, contenders) {
  const samples = contenders.map(() => []);
  for (let i = 0; i <= RUNS; i++) {
    for (const [k, contender] of contenders.entries()) {
      const sample = await measure(immuta, contender);
      if (i > 0) samples[k].push(sample);
    }
  }
  return samples.map((s) => ({
    wallMs: median(s.map((x) => x.wallMs)),
    rssMiB: median(s.map((x) => x.rssMiB)),
    loadMs: median(s.map((x) => x.loadMs)),
    githubMs: median(s.map((x) => x.githubMs))
  }));
}

function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const rows = [];
function row(name, latencyMs, subject, baselineName, baseline) {
  rows.push({
    run: name,
    latency: `${latencyMs} ms`,
    'wall ms': subject.wallMs.toFixed(0),
    'peak MiB': subject.rssMiB.toFixed(1),
    against: baselineName,
    'its wall ms': baseline.wallMs.toFixed(0),
    'its peak MiB': baseline.rssMiB.toFixed(1),
    'wall ×': (subject.wallMs / baseline.wallMs).toFixed(2),
    'peak ×': (subject.rssMiB / baseline.rssMiB).toFixed(2)
  });
}

const action = { entry: path.join(ROOT, 'dist', 'index.js') };
/** Median ms the upload row took to load @actions/artifact. */
let loading;
const bareFetch = { entry: BARE_FETCH };

for (const latencyMs of [0, 100]) {
  const immuta = await startImmutaStandIn({ latencyMs });
  try {
    const [a, b] = await compare(immuta, [action, bareFetch]);
    row('action, no upload', latencyMs, a, 'bare fetch', b);
  } finally {
    await immuta.close();
  }
}

/** Median ms the approvals row took to load @actions/github. */
let loadingGithub;
{
  // Who approved: the review history read through @actions/github (loaded only for it), from
  // the start of the run, beside the requests to Immuta.
  const immuta = await startImmutaStandIn({ latencyMs: 100 });
  const api = await startGitHubApi({
    reviews: { [RUN_ID]: [review(), review({ login: 'alice' })] }
  });
  try {
    const [a, n] = await compare(immuta, [{ ...action, env: api.env }, action]);
    row('action, reading who approved (github-token)', 100, a, 'action, no upload', n);
    loadingGithub = a.githubMs;
  } finally {
    await api.close();
    await immuta.close();
  }
}

{
  const immuta = await startImmutaStandIn({ latencyMs: 100 });
  const azurite = await startAzurite();
  const service = await startArtifactService({ azurite });
  try {
    // Each run uploads an artifact of the same name: a new workflow run each time, so none collide.
    let runNumber = 0;
    const upload = {
      ...action,
      inputs: { 'upload-artifact': 'true' },
      get env() {
        return service.env(`bench-run-${++runNumber}`);
      }
    };
    // "Re-run failed jobs" after the delete failed: the re-run reads what attempt 1 kept (to
    // tell that the host is the one it kept) before it replaces that artifact with its own.
    const rerun = {
      ...action,
      inputs: { 'upload-artifact': 'true' },
      env: {},
      async before(tenant, step) {
        const run = `bench-rerun-${++runNumber}`;
        tenant.fault({ method: 'DELETE', status: 500 });
        const first = await runAction({
          inputs: step,
          env: { ...service.env(run, 'job-attempt-1'), GITHUB_RUN_ATTEMPT: '1' }
        });
        if (first.code !== 1)
          throw new Error(`attempt 1 did not fail at the delete:\n${first.log}`);
        this.env = { ...service.env(run, 'job-attempt-2'), GITHUB_RUN_ATTEMPT: '2' };
      }
    };
    const [u, n, r] = await compare(immuta, [upload, action, rerun]);
    row('action, upload', 100, u, 'action, no upload', n);
    row('action, re-run after a failed delete (upload)', 100, r, 'action, upload', u);
    loading = u.loadMs;
  } finally {
    await service.close();
    await azurite.stop();
    await immuta.close();
  }
}

{
  // Step 3, one statement a request (the stand-ins answer at once; Immuta's latency as above):
  // the Snowflake stand-in's script is 6 statements, each a request polled to its end, after the
  // pre-flight check and the script's session check; the Databricks script is 3 statements.
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  });
  const immuta = await startImmutaStandIn({ latencyMs: 100 });
  const snowflake = await startSnowflakeStandIn({
    account: 'XY12345',
    user: 'IMMUTA_CLEANUP',
    publicKey: keys.publicKey
  });
  const databricks = await startDatabricksStandIn({
    token: 'dapi0123456789abcdef',
    warehouseId: 'abc123def456'
  });
  try {
    const withScript = {
      ...action,
      inputs: {
        'run-script': 'snowflake',
        'snowflake-account': 'xy12345',
        'snowflake-host': snowflake.url,
        'snowflake-user': 'immuta_cleanup',
        'snowflake-private-key': keys.privateKey
      }
    };
    const [w, n] = await compare(immuta, [withScript, action]);
    row('action, run-script: snowflake (6 statements)', 100, w, 'action, no upload', n);

    // Keyless: GitHub's ID token from the runner's endpoint instead of a key-pair JWT.
    const issuer = await startOidcIssuer();
    const keyless = await startSnowflakeStandIn({
      oidc: {
        jwks: issuer.jwks,
        subject: issuer.options.subject,
        audiences: ['snowflakecomputing.com']
      }
    });
    try {
      const withOidc = {
        ...action,
        env: issuer.env,
        inputs: {
          'run-script': 'snowflake',
          'snowflake-account': 'xy12345',
          'snowflake-host': keyless.url,
          'snowflake-auth': 'oidc'
        }
      };
      const [o, k] = await compare(immuta, [withOidc, withScript]);
      row('action, run-script: snowflake, oidc', 100, o, 'run-script: snowflake, key pair', k);
    } finally {
      await keyless.close();
      await issuer.close();
    }

    const databricksScript = [
      'REVOKE USE CATALOG ON CATALOG immuta FROM `immuta-sp`;',
      'DROP SCHEMA IF EXISTS immuta.immuta_system CASCADE;',
      'DROP CATALOG IF EXISTS immuta CASCADE;',
      ''
    ].join('\n');
    const withDatabricks = {
      ...action,
      inputs: {
        'connection-key': 'databricks-uc',
        'run-script': 'databricks',
        'databricks-host': databricks.url,
        'databricks-token': 'dapi0123456789abcdef',
        'databricks-warehouse-id': 'abc123def456'
      },
      script: databricksScript,
      workspace: databricks.url
    };
    const plainDatabricks = { ...action, inputs: { 'connection-key': 'databricks-uc' } };
    const [d, dn] = await compare(immuta, [withDatabricks, plainDatabricks]);
    row('action, run-script: databricks (3 statements)', 100, d, 'action, no upload', dn);

    // With upload-artifact, step 3 also keeps its records for a later attempt: one before the
    // first statement and one after each (7 small uploads for the Snowflake script).
    const azurite = await startAzurite();
    const service = await startArtifactService({ azurite });
    try {
      let runNumber = 0;
      const withUploads = (inputs) => ({
        ...action,
        inputs: { ...inputs, 'upload-artifact': 'true' },
        get env() {
          return service.env(`bench-script-run-${++runNumber}`);
        }
      });
      const [r, u] = await compare(immuta, [withUploads(withScript.inputs), withUploads({})]);
      row('action, run-script + upload (script, 7 records)', 100, r, 'action, upload', u);
    } finally {
      await service.close();
      await azurite.stop();
    }
  } finally {
    await snowflake.close();
    await databricks.close();
    await immuta.close();
  }
}

console.log(
  `Node ${process.versions.node}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${os.platform()} ${os.release()}; medians of ${RUNS} runs each, after one warm-up`
);
console.table(rows);
console.log(
  `Loading @actions/artifact (its chunk), in the upload row: median ${loading?.toFixed(0)} ms; the runs without upload-artifact never loaded it`
);
console.log(
  `Loading @actions/github (its chunk), in the row reading who approved: median ${loadingGithub?.toFixed(0)} ms; the runs without GITHUB_API_URL never loaded it`
);

// Batches: every host its own integration and a script of a few hundred bytes.
const batchRows = [];
for (const count of values.hosts.split(',').map(Number)) {
  const immuta = await startImmutaStandIn({ latencyMs: Number(values.latency) });
  const base = defaultState();
  const fresh = () => {
    immuta.state.hosts = {};
    immuta.state.integrations = {};
    for (let i = 0; i < count; i++) {
      immuta.state.hosts[`host-${i}`] = {
        ...base.hosts['snowflake-prod'],
        nativeIntegrationId: 100 + i
      };
      immuta.state.integrations[100 + i] = {
        ...base.integrations[1],
        script: `-- host ${i}\n${'DROP ROLE IF EXISTS R;\n'.repeat(10)}`
      };
    }
  };
  const samples = [];
  try {
    for (let r = 0; r < Number(values['batch-runs']); r++) {
      fresh();
      const run = await runAction({
        measureMemory: true,
        inputs: {
          'immuta-url': immuta.url,
          'api-key': immuta.apiKey,
          'connection-key': Array.from({ length: count }, (_, i) => `host-${i}`).join('\n'),
          'allow-insecure-http': 'true',
          'upload-artifact': 'false',
          'max-parallel': values['max-parallel']
        }
      });
      if (run.code !== 0) throw new Error(`batch of ${count} failed:\n${run.log.slice(-2000)}`);
      samples.push({ wallMs: run.wallMs, rssMiB: run.peakRssMiB });
    }
  } finally {
    await immuta.close();
  }
  batchRows.push({
    hosts: count,
    latency: `${values.latency} ms`,
    'max-parallel': Number(values['max-parallel']),
    'wall ms': median(samples.map((x) => x.wallMs)).toFixed(0),
    'peak MiB': median(samples.map((x) => x.rssMiB)).toFixed(1)
  });
}
console.log(`Batches: medians of ${values['batch-runs']} runs each, no upload`);
console.table(batchRows);

// Loading: each package bundled alone, as ncc bundles the action, and run as a process.
{
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-load-'));
  try {
    const bundle = async (name) => {
      const { code } = await ncc(path.join(ROOT, 'bench', 'load', `${name}.mjs`), {
        quiet: true,
        sourceMap: false
      });
      const file = path.join(dir, `${name}.mjs`);
      await fs.writeFile(file, code);
      return { entry: file };
    };
    const contenders = [
      ['node, an empty module', await bundle('nothing')],
      ['undici (EnvHttpProxyAgent)', await bundle('undici')],
      ['@actions/core (with http-client, on the same undici)', await bundle('core')],
      ['@actions/github (Octokit, on the same undici)', await bundle('github')],
      ['the action, refusing a bad input', { ...action, inputs: { 'immuta-url': 'not a url' } }]
    ];
    const samples = contenders.map(() => []);
    for (let i = 0; i <= RUNS; i++) {
      for (const [k, [, contender]] of contenders.entries()) {
        const run = await runAction({ ...contender, measureMemory: true });
        if (i > 0) samples[k].push({ wallMs: run.wallMs, rssMiB: run.peakRssMiB });
      }
    }
    console.log(`Loading: medians of ${RUNS} runs each, after one warm-up`);
    console.table(
      contenders.map(([name], k) => ({
        process: name,
        'wall ms': median(samples[k].map((x) => x.wallMs)).toFixed(0),
        'peak MiB': median(samples[k].map((x) => x.rssMiB)).toFixed(1)
      }))
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
