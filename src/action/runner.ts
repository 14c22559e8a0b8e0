/**
 * The step's side of the runner: `@actions/core` reads the inputs, writes the workflow commands,
 * the outputs and the job summary. What this module adds is the action's own policy on top: the
 * runner's files checked before any request, an output that cannot be written remembered rather
 * than thrown, summary blocks appended one at a time.
 */
import * as core from '@actions/core';
import { accessSync, closeSync, constants, openSync } from 'node:fs';

export interface Runner {
  /** The input's value, trimmed; '' when it is not set. */
  getInput(name: string): string;
  /**
   * The input as a YAML 1.2 boolean (`true`, `True`, `TRUE`, `false`, `False`, `FALSE`, trimmed);
   * throws a TypeError for anything else, '' included.
   */
  getBooleanInput(name: string): boolean;
  setSecret(secret: string): void;
  setOutput(name: string, value: string): void;
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  /** Reports the error and makes the step fail when the process ends. */
  setFailed(message: string): void;
  /** Appends Markdown to the job summary; rejects when there is no summary to write to. */
  appendSummary(markdown: string): Promise<void>;
  /** GitHub's OIDC token for the job, for this audience (masked by the toolkit). */
  getIDToken(audience: string): Promise<string>;
}

/**
 * The variable the runner passes an input in, as `core.getInput` reads it: spaces become '_',
 * the name is upper-cased. The action needs the name itself to refuse stray INPUT_* variables.
 */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/**
 * `core.summary` is one buffer for the whole process, written and then emptied: two blocks
 * appended at once would both write what the other added, and a block whose write failed would
 * stay in the buffer for the next. So blocks go one after another, each from an empty buffer.
 */
let summaryWrites: Promise<unknown> = Promise.resolve();

/** The runner as `@actions/core` speaks to it. */
export const workflowRunner: Runner = {
  getInput: (name) => core.getInput(name),
  getBooleanInput: (name) => core.getBooleanInput(name),
  setSecret: (secret) => core.setSecret(secret),
  setOutput: (name, value) => core.setOutput(name, value),
  info: (message) => core.info(message),
  warning: (message) => core.warning(message),
  debug: (message) => core.debug(message),
  setFailed: (message) => core.setFailed(message),
  appendSummary(markdown) {
    const write = summaryWrites.then(async () => {
      await core.summary.emptyBuffer().addRaw(markdown, true).write();
    });
    summaryWrites = write.catch(() => undefined);
    return write;
  },
  getIDToken: (audience) => core.getIDToken(audience)
};

let active: Runner = workflowRunner;

/** Puts another runner in place (a unit test's). */
export function useRunner(runner: Runner): void {
  active = runner;
}

let outputFailure: unknown;

export const getInput = (name: string): string => active.getInput(name);
export const getBooleanInput = (name: string): boolean => active.getBooleanInput(name);
export const setSecret = (secret: string): void => active.setSecret(secret);
/**
 * Sets an output. One that cannot be written (a full disk) is remembered, for
 * `failedOutput` to tell, rather than thrown: what the step did must still reach the log and
 * the summary, and the step decides what the loss means (before the delete, no delete).
 */
export const setOutput = (name: string, value: string): void => {
  try {
    active.setOutput(name, value);
  } catch (error) {
    outputFailure ??= error;
  }
};
/** The first output that could not be written in this run, if any. */
export const failedOutput = (): unknown => outputFailure;
export const info = (message: string): void => active.info(message);
export const warning = (message: string): void => active.warning(message);
export const debug = (message: string): void => active.debug(message);
export const setFailed = (message: string): void => active.setFailed(message);
export const appendSummary = (markdown: string): Promise<void> => active.appendSummary(markdown);
export const getIDToken = (audience: string): Promise<string> => active.getIDToken(audience);

/** The files the runner names for the step's outputs and summary, and what each is for. */
const RUNNER_FILES = [
  ['GITHUB_OUTPUT', 'outputs'],
  ['GITHUB_STEP_SUMMARY', 'job summary']
] as const;

/**
 * Checks, before any request, that the outputs and summary files can be written, so that a
 * step that cannot say what it did does nothing. Each is opened for append, which leaves what
 * earlier steps wrote (and creates a file the runner named but did not make, which
 * `core.setOutput` would refuse later, after the delete); the summary must be readable too, as
 * `core.summary` asks.
 */
export function checkRunnerFiles(env: Readonly<Record<string, string | undefined>>): void {
  for (const [variable, purpose] of RUNNER_FILES) {
    const file = env[variable];
    if (!file) continue;
    try {
      closeSync(openSync(file, 'a'));
      if (variable === 'GITHUB_STEP_SUMMARY') accessSync(file, constants.R_OK | constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new Error(
        `The step's ${purpose} file cannot be written (${code}): ${variable} is ${file}. The runner names a file that every step can write; a step's env: that sets ${variable}, a full disk or a removed folder causes this. Nothing was sent to Immuta and nothing was deleted.`,
        { cause: error }
      );
    }
  }
}
