// `npm test` runs on a GitHub runner in CI, which reads the suite's output as workflow commands.
// Jest is run here on test files that write commands every way code under test can (stdout,
// stderr, @actions/core, console.log, a failing expectation), in workers and in band: no line of
// what it prints may read as a command to the runner (support/runner-commands.ts).
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../support/run-action.mjs';
import { commandsIn } from '../support/runner-commands.js';

async function jest(...args: string[]): Promise<string> {
  const run = promisify(execFile)(
    process.execPath,
    [
      '--experimental-vm-modules',
      path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--roots',
      '<rootDir>/__tests__/fixtures/test-output',
      '--testMatch',
      '**/*.fixture.ts',
      ...args
    ],
    { cwd: ROOT, env: { ...process.env, CI: 'true' }, maxBuffer: 16 * 1024 * 1024 }
  );
  // The failing fixture makes jest exit 1: what matters is what it printed.
  const { stdout, stderr } = await run.catch((e: { stdout: string; stderr: string }) => e);
  return `${stdout}\n${stderr}`;
}

describe("the suite's output", () => {
  it.each([
    ['in workers', ['--maxWorkers=2']],
    ['in band', ['--runInBand']]
  ])('holds no workflow command, run %s', async (_how, args) => {
    const output = await jest(...args);
    // The fixtures ran, and what they wrote is still there to read.
    expect(output).toContain('written to stdout by the first file');
    expect(output).toContain('written to stdout by the second file');
    expect(output).toContain('from @actions/core');
    expect(output).toContain('in a failure');
    expect(commandsIn(output)).toEqual([]);
  });
});
