/**
 * The entry point `npm run local-action` gives GitHub's @github/local-action, which stands in for
 * `@actions/core` to show inputs, outputs and the summary. The bundle's entry (index.ts) uses
 * the runner protocol directly instead; this file is not part of it.
 */
import * as core from '@actions/core';
import { run as runAction } from './main.js';
import { useRunner } from './action/runner.js';

export async function run(): Promise<void> {
  useRunner({
    getInput: (name) => core.getInput(name),
    setSecret: (secret) => core.setSecret(secret),
    setOutput: (name, value) => core.setOutput(name, value),
    info: (message) => core.info(message),
    warning: (message) => core.warning(message),
    debug: (message) => core.debug(message),
    setFailed: (message) => core.setFailed(message),
    appendSummary: async (markdown) => void (await core.summary.addRaw(markdown, true).write())
  });
  await runAction();
}
