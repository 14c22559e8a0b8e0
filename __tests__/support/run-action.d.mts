export declare const ROOT: string;
export declare const DIST: string;

export interface ActionRun {
  code: number | null;
  /** The signal that ended the process, when one did (a test's SIGKILL, say). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together. */
  log: string;
  outputs: Record<string, string>;
  summary: string;
  runnerTemp: string;
  /** ::error:: annotations, unescaped. */
  errors: string[];
  warnings: string[];
  /** Peak resident memory of the action's process; NaN unless measureMemory was set. */
  peakRssMiB: number;
  /** Milliseconds from starting the process to its end. */
  wallMs: number;
}

/** The job's GITHUB_TOKEN in a test run: what `${{ github.token }}` evaluates to. */
export declare const JOB_TOKEN: string;

/** What the runner passes for each input of action.yml the step leaves out ('' when no default). */
export declare const ACTION_DEFAULTS: Readonly<Record<string, string>>;

/** The variable the runner passes an input in: INPUT_ and the name, spaces as '_', upper-cased. */
export declare function inputVariable(name: string): string;

export declare function runAction(options?: {
  /**
   * The step's `with:` block. Inputs of action.yml left out get their default, as on a runner;
   * undefined leaves an input out entirely; an undeclared name is passed as given.
   */
  inputs?: Record<string, string | undefined>;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** The bundle to run: dist/index.js, or ACTION_ENTRY when set (an older dist/, say). */
  entry?: string;
  /** Use this folder as RUNNER_TEMP, for a test that prepares files there first. */
  runnerTemp?: string;
  measureMemory?: boolean;
  /** Told the child process as soon as it is spawned. */
  onStart?: (child: import('node:child_process').ChildProcess) => void;
  /** The job's GITHUB_TOKEN, which `${{ github.token }}` evaluates to; JOB_TOKEN unless given. */
  jobToken?: string;
}): Promise<ActionRun>;

export declare function parseOutputs(text: string): Record<string, string>;

/** The folder runs keep their files in; removed at the end of the test run or process. */
export declare function scratchDir(): string;
