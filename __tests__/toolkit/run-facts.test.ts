// The facts the action reads about the run (src/run-facts.ts), held to @actions/github's
// `context` built from the same environment. Where they part on purpose (empty and malformed
// values, which the action does not put into links), both answers are asserted.
import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { context } from '@actions/github';
import { runFacts } from '../../src/action/run-facts.js';

type Env = Record<string, string>;
const Context = context.constructor as new () => typeof context;
const VARIABLES = [
  'GITHUB_SERVER_URL',
  'GITHUB_API_URL',
  'GITHUB_REPOSITORY',
  'GITHUB_RUN_ID',
  'GITHUB_RUN_ATTEMPT',
  'GITHUB_JOB',
  'GITHUB_EVENT_PATH'
];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
afterEach(() => {
  for (const name of VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

/** `context` as @actions/github builds it in a process with this environment. */
function contextFor(env: Env) {
  for (const name of VARIABLES) delete process.env[name];
  Object.assign(process.env, env);
  const built = new Context();
  let repository: string | undefined;
  try {
    repository = `${built.repo.owner}/${built.repo.repo}`;
  } catch {
    repository = undefined;
  }
  return {
    serverUrl: built.serverUrl,
    apiUrl: built.apiUrl,
    repository,
    runId: built.runId,
    runAttempt: built.runAttempt,
    job: built.job
  };
}

/** The facts in context's terms: numbers for the IDs, NaN where it has none. */
function factsFor(env: Env) {
  const facts = runFacts(env);
  return {
    serverUrl: facts.serverUrl,
    apiUrl: facts.apiUrl,
    repository: facts.repository,
    runId: facts.runId === undefined ? NaN : Number(facts.runId),
    runAttempt: facts.runAttempt ?? NaN,
    job: facts.job
  };
}

const RUNNER: Env = {
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_API_URL: 'https://api.github.com',
  GITHUB_REPOSITORY: 'acme/data-platform',
  GITHUB_RUN_ID: '12345678901',
  GITHUB_RUN_ATTEMPT: '2',
  GITHUB_JOB: 'deregister'
};

describe('the run as @actions/github sees it', () => {
  it.each<[string, Env]>([
    ['a run on github.com', RUNNER],
    [
      'GitHub Enterprise Server',
      {
        ...RUNNER,
        GITHUB_SERVER_URL: 'https://ghes.acme.internal',
        GITHUB_API_URL: 'https://ghes.acme.internal/api/v3'
      }
    ],
    ['GHE.com data residency', { ...RUNNER, GITHUB_SERVER_URL: 'https://acme.ghe.com' }],
    ['a first attempt', { ...RUNNER, GITHUB_RUN_ATTEMPT: '1' }],
    ['a repository with dots and dashes', { ...RUNNER, GITHUB_REPOSITORY: 'acme-co/data.platform' }]
  ])('%s: the same server, API, repository, run, attempt and job', (_, env) => {
    expect(factsFor(env)).toEqual(contextFor(env));
  });

  it('outside a runner (nothing set): the same, but for the API, which there is no run to ask', () => {
    expect(factsFor({})).toEqual({ ...contextFor({}), apiUrl: undefined });
    expect(contextFor({}).apiUrl).toBe('https://api.github.com');
  });

  it('the comparison sees each value: a runner run gives them all', () => {
    expect(runFacts(RUNNER)).toEqual({
      serverUrl: 'https://github.com',
      apiUrl: 'https://api.github.com',
      repository: 'acme/data-platform',
      runId: '12345678901',
      runAttempt: 2,
      job: 'deregister',
      hasRuntimeToken: false
    });
  });
});

describe('where the action reads less than context, on purpose', () => {
  it('empty variables are unset ones: github.com and no IDs, where context keeps the empty strings', () => {
    const env = {
      GITHUB_SERVER_URL: '',
      GITHUB_API_URL: '',
      GITHUB_REPOSITORY: '',
      GITHUB_RUN_ID: '',
      GITHUB_RUN_ATTEMPT: '',
      GITHUB_JOB: ''
    };
    expect(factsFor(env)).toEqual({
      serverUrl: 'https://github.com',
      apiUrl: undefined,
      repository: undefined,
      runId: NaN,
      runAttempt: NaN,
      job: undefined
    });
    expect(contextFor(env)).toEqual({
      serverUrl: '',
      apiUrl: '',
      repository: undefined,
      runId: NaN,
      runAttempt: NaN,
      job: ''
    });
  });

  it('a run ID or repository of the wrong shape is not used; context takes what it can parse', () => {
    const env = { ...RUNNER, GITHUB_RUN_ID: '4242/../../evil', GITHUB_REPOSITORY: 'a/b/c' };
    expect(factsFor(env)).toMatchObject({ runId: NaN, repository: undefined });
    expect(contextFor(env)).toMatchObject({ runId: 4242, repository: 'a/b' });
  });
});

describe('every run fact the action reads is one of these', () => {
  it('src/ reads no GITHUB_ variable but those compared here and the runner files', () => {
    const read = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (file.endsWith('.ts')) {
          for (const m of fs.readFileSync(file, 'utf8').matchAll(/\b(GITHUB_[A-Z_]+)/g)) {
            read.add(m[1]!);
          }
        }
      }
    };
    walk(path.join(import.meta.dirname, '..', '..', 'src'));
    // Files the runner names (runner.ts) and the repository's retention limit (artifacts).
    const notInContext = ['GITHUB_OUTPUT', 'GITHUB_STEP_SUMMARY', 'GITHUB_RETENTION_DAYS'];
    const compared = VARIABLES.filter((v) => v !== 'GITHUB_EVENT_PATH');
    const unknown = [...read].filter((v) => !compared.includes(v) && !notInContext.includes(v));
    expect(unknown).toEqual([]);
    expect(read).toContain('GITHUB_RUN_ID');
  });
});
