// One scratch folder for the whole test run, removed by global-teardown.mjs: jest ends its
// workers without running their exit hooks, so the tests must not clean up after themselves.
// And one Azurite (the blob store behind the artifact-service stand-in) for every test file:
// each stand-in keeps its blobs in a container of its own. And one stand-in of GitHub's API.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SHARED_AZURITE, startOwnAzurite } from './artifact-service-stand-in.mjs';
import { startGitHubApi } from './github-stand-ins.mjs';
import { SHARED_GITHUB_API } from './run-action.mjs';
// Filters the parent process's output too: what workers print, and jest's own reports.
import './quiet-commands.mjs';

export default async function globalSetup() {
  process.env.IMMUTA_TEST_TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'immuta-tests-'));
  const azurite = await startOwnAzurite();
  process.env[SHARED_AZURITE] = azurite.url;
  globalThis.immutaTestAzurite = azurite;
  // The runner sets GITHUB_API_URL for every step, so every run reads who approved (an empty
  // history: no environment with reviewers) unless a test gives its own stand-in.
  const github = await startGitHubApi({ everyRun: [] });
  process.env[SHARED_GITHUB_API] = github.url;
  globalThis.immutaTestGitHubApi = github;
}
