// `npm run demo`: the bundled action, end to end, all three of Immuta's steps, against the
// loopback stand-ins the tests use (Immuta, GitHub's artifact service, Snowflake's SQL API),
// printed the way a workflow run shows it.
import { generateKeyPairSync } from 'node:crypto';
import { startImmutaStandIn } from '../__tests__/support/immuta-stand-in.mjs';
import { startSnowflakeStandIn } from '../__tests__/support/warehouse-stand-ins.mjs';
import {
  startArtifactService,
  startAzurite
} from '../__tests__/support/artifact-service-stand-in.mjs';
import { runAction } from '../__tests__/support/run-action.mjs';

const immuta = await startImmutaStandIn({ prefix: '/immuta' });
const azurite = await startAzurite();
const artifacts = await startArtifactService({ azurite });
// The cleanup user's key pair: Snowflake's stand-in checks the JWT against the public half.
const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
});
const snowflake = await startSnowflakeStandIn({
  account: 'XY12345',
  user: 'IMMUTA_CLEANUP',
  publicKey: keys.publicKey
});
try {
  const base = {
    'immuta-url': immuta.url,
    'api-key': immuta.apiKey,
    'allow-insecure-http': 'true' // the stand-ins listen on plain http://127.0.0.1
  };
  const inputs = {
    ...base,
    'connection-key': 'snowflake-prod',
    'retention-days': '7',
    'run-script': 'snowflake',
    'snowflake-account': 'xy12345',
    'snowflake-host': snowflake.url,
    'snowflake-user': 'immuta_cleanup',
    'snowflake-private-key': keys.privateKey
  };
  heading('Workflow step');
  console.log(
    [
      '- uses: your-org/immuta-deregister-host@v1 # or ./ in a checkout of this repository',
      '  with:',
      `    immuta-url: ${immuta.url}`,
      '    api-key: ${{ secrets.IMMUTA_API_KEY }}',
      '    connection-key: snowflake-prod',
      '    allow-insecure-http: true',
      '    retention-days: 7',
      '    run-script: snowflake',
      '    snowflake-account: xy12345',
      `    snowflake-host: ${snowflake.url}`,
      '    snowflake-user: immuta_cleanup',
      '    snowflake-private-key: ${{ secrets.SNOWFLAKE_PRIVATE_KEY }}'
    ].join('\n')
  );

  const run = await runAction({ inputs, env: artifacts.env() });

  heading('Step log (as the runner shows it)');
  console.log(asRunnerShows(run.log, [immuta.apiKey, immuta.token]));
  heading('Requests Immuta received');
  for (const r of immuta.requests) console.log(`${r.method} ${r.rawPath}`);
  heading('Requests Snowflake received');
  for (const r of snowflake.requests) console.log(`${r.method} ${r.path}`);
  heading('Step outputs');
  for (const [name, value] of Object.entries(run.outputs)) {
    const lines = value.trimEnd().split('\n');
    const shown = lines.length > 1 ? `${lines[0]} … (${lines.length} lines)` : value;
    console.log(`${name}: ${shown}`);
  }
  heading('Job summary (Markdown)');
  console.log(run.summary);
  heading(run.code === 0 ? 'Step succeeded' : `Step failed (exit code ${run.code})`);
  let failed = run.code !== 0;

  // Two more runs a newcomer should see: a dry run, and what a failure looks like.
  heading('Another step: dry-run: true on databricks-uc');
  const dry = await runAction({
    inputs: {
      ...base,
      'connection-key': 'databricks-uc',
      'dry-run': 'true',
      'upload-artifact': 'false'
    }
  });
  console.log(asRunnerShows(dry.log, [immuta.apiKey]));
  console.log(
    `\nstatus: ${dry.outputs.status}, deleted: ${dry.outputs.deleted}, plan-path: ${dry.outputs['plan-path']}`
  );
  failed ||= dry.code !== 0;

  heading('And a failure: the key may not delete databricks-uc (403)');
  immuta.fault({
    method: 'DELETE',
    path: '/data/object/databricks-uc',
    status: 403,
    body: '{"statusCode":403,"error":"Forbidden","message":"User does not have permission to delete this object."}'
  });
  const refused = await runAction({
    inputs: { ...base, 'connection-key': 'databricks-uc', 'upload-artifact': 'false' }
  });
  console.log(asRunnerShows(refused.log, [immuta.apiKey]));
  console.log(
    `\nstatus: ${refused.outputs.status}, deleted: ${refused.outputs.deleted} (exit code ${refused.code}, as expected)`
  );
  failed ||= refused.code !== 1;
  process.exitCode = failed ? 1 : 0;
} finally {
  await snowflake.close();
  await immuta.close();
  await artifacts.close();
  await azurite.stop();
}

function heading(text) {
  console.log(`\n── ${text} ${'─'.repeat(Math.max(0, 70 - text.length))}`);
}

/** Hides mask and debug commands, renders annotations, and masks secrets, as the runner does. */
function asRunnerShows(log, secrets) {
  return log
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::') && !line.startsWith('::debug::'))
    .map((line) =>
      line.replace(
        /^::(error|warning|notice)[^:]*::/,
        (_, kind) => `${kind[0].toUpperCase()}${kind.slice(1)}: `
      )
    )
    .map((line) => secrets.reduce((l, s) => l.split(s).join('***'), line))
    .join('\n')
    .trim();
}
