// Runs the bundled action the way a GitHub runner does: a node process on dist/index.js, inputs as
// INPUT_* variables, outputs and the job summary written to the files the runner names.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = path.join(ROOT, 'dist', 'index.js');
const PEAK_RSS = path.join(ROOT, '__tests__', 'support', 'peak-rss.mjs');

/** Variables a runner sets that the action reads; nothing from the test's own environment leaks in. */
const PASSED_THROUGH = ['PATH', 'HOME', 'SYSTEMROOT', 'TMPDIR', 'LANG'];

/** The variable global-setup.mjs names the shared GitHub API stand-in's URL in. */
export const SHARED_GITHUB_API = 'IMMUTA_TEST_GITHUB_API';

/**
 * The job's GITHUB_TOKEN in a test run: what the runner evaluates `${{ github.token }}` to. Its
 * value is a stand-in's (the GitHub API stand-in accepts it), shaped as an installation token.
 */
export const JOB_TOKEN = 'ghs_TestJobToken0a1b2c3d4e5f6A7B8C9D0E1F2';

/**
 * What the runner passes for an input the step leaves out: action.yml's default, or '' for an
 * input without one (the runner gives every input of action.yml a value). ACTION_YML names the
 * action.yml that goes with ACTION_ENTRY's bundle, as the runner reads the action's own. A
 * default that is an expression is kept as written here; `runAction` evaluates it as the runner
 * does, before the step starts.
 */
export const ACTION_DEFAULTS = Object.freeze(
  Object.fromEntries(
    Object.entries(
      parse(readFileSync(process.env.ACTION_YML || path.join(ROOT, 'action.yml'), 'utf8')).inputs
    ).map(([name, spec]) => [name, spec.default === undefined ? '' : String(spec.default)])
  )
);

/**
 * A default as the runner passes it: `${{ github.token }}` becomes the job's token (which the
 * runner masks, as a secret of the job); any other expression is one this harness does not know,
 * and fails the test rather than reach the action as text.
 */
function evaluated(value, jobToken) {
  return value.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (whole, expression) => {
    if (expression === 'github.token') return jobToken;
    throw new Error(`run-action cannot evaluate ${whole} in a default of action.yml`);
  });
}

/** The variable the runner passes an input in: spaces become '_', the name upper-cased. */
export function inputVariable(name) {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/**
 * inputs: { 'immuta-url': ..., ... } as the workflow's `with:` block. As on a runner, every
 * input of action.yml the step leaves out is passed with its default (ACTION_DEFAULTS); an input
 * given as undefined is not passed at all (to test the action's own fallback, as outside a
 * runner), and a name that action.yml does not declare is passed as given (a misspelt input).
 * env: extra variables (RUNNER_DEBUG, HTTPS_PROXY, ACTIONS_RUNTIME_TOKEN, ...). A runner always
 * sets GITHUB_API_URL: this harness sets it to the shared GitHub API stand-in of the test run
 * (global-setup.mjs; an empty review history), unless a test passes its own stand-in's
 * (github-stand-ins.mjs) or GITHUB_API_URL: undefined, as outside a workflow run.
 * runnerTemp: use this folder as RUNNER_TEMP (a test that prepares files there first).
 * measureMemory: preload a hook that records the process's peak resident memory.
 * onStart: told the child process as soon as it is spawned (to send it a signal, as the runner
 * does when a job is cancelled).
 * jobToken: the job's GITHUB_TOKEN, which `${{ github.token }}` evaluates to (JOB_TOKEN).
 * Returns { code, stdout, stderr, outputs, summary, runnerTemp, errors, warnings, peakRssMiB },
 * peakRssMiB being NaN unless measureMemory was set, and wallMs the time from spawn to exit.
 */
export async function runAction({
  inputs = {},
  env = {},
  timeoutMs = 120_000,
  // ACTION_ENTRY runs the tests against another bundle: an older dist/, to show a test fails there.
  entry = process.env.ACTION_ENTRY || DIST,
  runnerTemp: givenRunnerTemp,
  measureMemory = false,
  onStart,
  jobToken = JOB_TOKEN
} = {}) {
  const dir = await fs.mkdtemp(path.join(scratchDir(), 'run-'));
  const runnerTemp = givenRunnerTemp ?? path.join(dir, 'runner-temp');
  const workspace = path.join(dir, 'workspace');
  await fs.mkdir(runnerTemp, { recursive: true });
  await fs.mkdir(workspace);
  const outputFile = path.join(dir, 'github-output');
  const summaryFile = path.join(dir, 'step-summary');
  const rssFile = path.join(dir, 'peak-rss');
  await fs.writeFile(outputFile, '');
  await fs.writeFile(summaryFile, '');

  const childEnv = {};
  for (const name of PASSED_THROUGH) if (process.env[name]) childEnv[name] = process.env[name];
  Object.assign(childEnv, {
    GITHUB_ACTIONS: 'true',
    RUNNER_TEMP: runnerTemp,
    GITHUB_WORKSPACE: workspace,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/data-platform',
    GITHUB_RUN_ID: '4242',
    // The runner sets these for every step: a test of a re-run passes GITHUB_RUN_ATTEMPT: '2'.
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_JOB: 'deregister',
    ...(process.env[SHARED_GITHUB_API] ? { GITHUB_API_URL: process.env[SHARED_GITHUB_API] } : {}),
    ...(measureMemory
      ? { NODE_OPTIONS: `--import=${pathToFileURL(PEAK_RSS)}`, PEAK_RSS_FILE: rssFile }
      : {}),
    ...env
  });
  const defaults = Object.fromEntries(
    Object.entries(ACTION_DEFAULTS).map(([name, value]) => [name, evaluated(value, jobToken)])
  );
  for (const [name, value] of Object.entries({ ...defaults, ...inputs })) {
    if (value !== undefined) childEnv[inputVariable(name)] = String(value);
  }

  for (const [name, value] of Object.entries(childEnv))
    if (value === undefined) delete childEnv[name];

  const started = performance.now();
  const child = spawn(process.execPath, [entry], { env: childEnv, cwd: workspace });
  onStart?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await new Promise((resolve) =>
    child.on('close', (c, s) => resolve({ code: c, signal: s }))
  );
  const wallMs = performance.now() - started;
  clearTimeout(timer);

  const outputs = parseOutputs(await fs.readFile(outputFile, 'utf8'));
  const peakRssKiB = Number(await fs.readFile(rssFile, 'utf8').catch(() => NaN));
  const summary = await fs.readFile(summaryFile, 'utf8');
  return {
    code,
    signal,
    stdout,
    stderr,
    log: stdout + stderr,
    outputs,
    summary,
    runnerTemp,
    errors: commands(stdout, 'error'),
    warnings: commands(stdout, 'warning'),
    peakRssMiB: peakRssKiB / 1024,
    wallMs
  };
}

let root;
/**
 * Where runs keep their files: the test run's scratch folder when jest set one up, else a folder
 * of this process's, removed when it exits (the demo and the local-action script).
 */
export function scratchDir() {
  if (process.env.IMMUTA_TEST_TMP) return process.env.IMMUTA_TEST_TMP;
  if (!root) {
    root = mkdtempSync(path.join(os.tmpdir(), 'immuta-action-'));
    process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  }
  return root;
}

/** The runner's GITHUB_OUTPUT file: `name<<DELIMITER\nvalue\nDELIMITER` blocks. */
export function parseOutputs(text) {
  const outputs = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]);
    if (m) {
      const [, name, delimiter] = m;
      const value = [];
      while (++i < lines.length && lines[i] !== delimiter) value.push(lines[i]);
      outputs[name] = value.join('\n');
    } else if (lines[i].includes('=')) {
      const at = lines[i].indexOf('=');
      outputs[lines[i].slice(0, at)] = lines[i].slice(at + 1);
    }
  }
  return outputs;
}

/** Workflow-command annotations (::error::, ::warning::) with their escapes undone. */
function commands(stdout, kind) {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(`::${kind}`))
    .map((l) =>
      l
        .slice(l.indexOf('::', 2) + 2)
        .replace(/%0D/g, '\r')
        .replace(/%0A/g, '\n')
        .replace(/%25/g, '%')
    );
}
