// `npm run local-action`: runs the action's TypeScript source with GitHub's @github/local-action
// (no bundle, no runner) against the loopback Immuta stand-in, for stepping through it in a
// debugger. Extra arguments are KEY=VALUE pairs added to the inputs, e.g. INPUT_DRY-RUN=true.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startImmutaStandIn } from '../__tests__/support/immuta-stand-in.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'node_modules', '@github', 'local-action', 'bin', 'local-action.js');

const immuta = await startImmutaStandIn();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-action-'));
try {
  const variables = {
    'INPUT_IMMUTA-URL': immuta.url,
    'INPUT_API-KEY': immuta.apiKey,
    'INPUT_CONNECTION-KEY': 'snowflake-prod',
    'INPUT_ALLOW-INSECURE-HTTP': 'true',
    // No runner here, so no artifact service to upload to.
    'INPUT_UPLOAD-ARTIFACT': 'false',
    RUNNER_TEMP: dir,
    GITHUB_STEP_SUMMARY: path.join(dir, 'step-summary.md'),
    ...Object.fromEntries(process.argv.slice(2).map((pair) => pair.split(/=(.*)/s, 2)))
  };
  fs.writeFileSync(path.join(dir, 'step-summary.md'), '');
  const dotenv = path.join(dir, '.env');
  fs.writeFileSync(
    dotenv,
    Object.entries(variables)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n'
  );

  const child = spawn(process.execPath, [cli, 'run', root, 'src/local-action.ts', dotenv], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FORCE_COLOR: '0' }
  });
  let failed = false;
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    if (/^::error::/m.test(String(chunk))) failed = true;
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  console.log('\nImmuta received:');
  for (const r of immuta.requests) console.log(`  ${r.method} ${r.rawPath}`);
  // local-action exits 0 even when the action fails; a runner would not.
  process.exitCode = code || (failed ? 1 : 0);
} finally {
  await immuta.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
