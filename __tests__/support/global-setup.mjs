// One scratch folder for the whole test run, removed by global-teardown.mjs: jest ends its
// workers without running their exit hooks, so the tests must not clean up after themselves.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
// Filters the parent process's output too: what workers print, and jest's own reports.
import './quiet-commands.mjs';

export default function globalSetup() {
  process.env.IMMUTA_TEST_TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'immuta-tests-'));
}
