/**
 * What the action reads about the workflow run from the runner's environment, in one place and
 * pure: the values @actions/github's `context` holds for the same variables (held to it by
 * __tests__/toolkit/run-facts.test.ts), read without loading that package and its Octokit.
 * An empty variable counts as unset, and a value of the wrong shape is not used: these values
 * go into links in the job summary.
 */

type Env = Readonly<Record<string, string | undefined>>;

export interface RunFacts {
  /** GITHUB_SERVER_URL: https://github.com, or a GitHub Enterprise Server's own. */
  readonly serverUrl: string;
  /**
   * GITHUB_API_URL, which every runner sets (https://api.github.com, or a GitHub Enterprise
   * Server's /api/v3); undefined outside a runner, where there is no run to ask about.
   */
  readonly apiUrl: string | undefined;
  /** GITHUB_REPOSITORY, owner/name; undefined outside a workflow. */
  readonly repository: string | undefined;
  /** GITHUB_RUN_ID, digits. */
  readonly runId: string | undefined;
  /** GITHUB_RUN_ATTEMPT: 1 for the first attempt, 2 for the first re-run. */
  readonly runAttempt: number | undefined;
  /** GITHUB_JOB: the job's ID in the workflow file. */
  readonly job: string | undefined;
  /** Whether ACTIONS_RUNTIME_TOKEN is set: only a runner provides it. */
  readonly hasRuntimeToken: boolean;
}

export function runFacts(env: Env): RunFacts {
  const digits = (value: string | undefined) => (value && /^\d+$/.test(value) ? value : undefined);
  const attempt = digits(env.GITHUB_RUN_ATTEMPT);
  return {
    serverUrl: env.GITHUB_SERVER_URL || 'https://github.com',
    apiUrl: /^https?:\/\/[^\s]+$/.test(env.GITHUB_API_URL ?? '') ? env.GITHUB_API_URL : undefined,
    repository: /^[^/\s]+\/[^/\s]+$/.test(env.GITHUB_REPOSITORY ?? '')
      ? env.GITHUB_REPOSITORY
      : undefined,
    runId: digits(env.GITHUB_RUN_ID),
    runAttempt: attempt === undefined ? undefined : Number(attempt),
    job: env.GITHUB_JOB || undefined,
    hasRuntimeToken: Boolean(env.ACTIONS_RUNTIME_TOKEN)
  };
}
