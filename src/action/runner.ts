/**
 * The step's side of the runner protocol: inputs from INPUT_* variables, workflow commands on
 * stdout, outputs and the job summary in the files the runner names. It is the part of
 * `@actions/core` this action uses, written out, because loading `@actions/core` (and the HTTP
 * client it brings for OIDC) costs more than a whole deregistration; `npm run bench` shows it.
 */
import { randomUUID } from 'node:crypto';
import { accessSync, appendFileSync, closeSync, openSync } from 'node:fs';
import { access, appendFile, constants } from 'node:fs/promises';
import { EOL } from 'node:os';

export interface Runner {
  /** The input's value, trimmed; '' when it is not set. */
  getInput(name: string): string;
  setSecret(secret: string): void;
  setOutput(name: string, value: string): void;
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  /** Reports the error and makes the step fail when the process ends. */
  setFailed(message: string): void;
  /** Appends Markdown to the job summary; rejects when there is no summary to write to. */
  appendSummary(markdown: string): Promise<void>;
}

/** The variable the runner passes an input in: spaces become '_', the name is upper-cased. */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/** What the runner expects: the protocol as GitHub documents it and `@actions/core` speaks it. */
export const workflowRunner: Runner = {
  getInput: (name) => (process.env[inputVariable(name)] ?? '').trim(),
  setSecret: (secret) => command('add-mask', secret),
  setOutput(name, value) {
    const file = process.env.GITHUB_OUTPUT;
    if (!file) {
      // Outside a runner (or an old one): the deprecated command, as @actions/core falls back to.
      command(`set-output name=${escapeProperty(name)}`, value);
      return;
    }
    const delimiter = `ghadelimiter_${randomUUID()}`;
    if (name.includes(delimiter) || value.includes(delimiter)) {
      throw new Error(`Unexpected input: the output ${name} holds its own delimiter`);
    }
    appendFileSync(file, `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`, 'utf8');
  },
  info: (message) => void process.stdout.write(message + EOL),
  warning: (message) => command('warning', message),
  debug: (message) => command('debug', message),
  setFailed(message) {
    process.exitCode = 1;
    command('error', message);
  },
  async appendSummary(markdown) {
    const file = process.env.GITHUB_STEP_SUMMARY;
    if (!file) {
      throw new Error(
        'Unable to find environment variable for $GITHUB_STEP_SUMMARY. Check if your runtime environment supports job summaries.'
      );
    }
    try {
      await access(file, constants.R_OK | constants.W_OK);
    } catch {
      throw new Error(
        `Unable to access summary file: '${file}'. Check if the file has correct read/write permissions.`
      );
    }
    await appendFile(file, markdown + EOL, 'utf8');
  }
};

/** A workflow command; its text escaped so that it stays one command on one line. */
function command(name: string, message: string): void {
  process.stdout.write(`::${name}::${escapeData(message)}${EOL}`);
}

function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

let active: Runner = workflowRunner;

/** Puts another runner in place, as `npm run local-action` does with GitHub's stand-in for it. */
export function useRunner(runner: Runner): void {
  active = runner;
}

let outputFailure: unknown;

export const getInput = (name: string): string => active.getInput(name);
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

/** The files the runner names for the step's outputs and summary, and what each is for. */
const RUNNER_FILES = [
  ['GITHUB_OUTPUT', 'outputs'],
  ['GITHUB_STEP_SUMMARY', 'job summary']
] as const;

/**
 * Checks, before any request, that the outputs and summary files can be written, so that a
 * step that cannot say what it did does nothing. Each is opened for append, which leaves what
 * earlier steps wrote; the summary must be readable too, as appending to it asks.
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
