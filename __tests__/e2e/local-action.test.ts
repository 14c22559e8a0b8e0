import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from '../support/run-action.mjs';

function localAction(...args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'local-action.mjs'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME }
  });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stdout += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })));
}

/** The rows of local-action's "Action Outputs" table. */
function reportedOutputs(stdout: string): Record<string, string> {
  const table = stdout.slice(stdout.indexOf('Action Outputs'));
  const rows = [...table.matchAll(/│\s*\d+\s*│\s*'([^']+)'\s*│\s*'((?:[^'\\]|\\.)*)'\s*│/g)];
  return Object.fromEntries(rows.map((m) => [m[1], m[2]]));
}

describe('npm run local-action (GitHub local-action on the TypeScript source)', () => {
  it('deregisters the stand-in host and reports the outputs', async () => {
    const run = await localAction();
    expect(run.code).toBe(0);
    const outputs = reportedOutputs(run.stdout);
    expect(outputs).toMatchObject({
      'integration-id': '1',
      deleted: 'true',
      'child-count': '42',
      status: 'deregistered'
    });
    expect(outputs.script).toContain('DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT;');
    expect(run.stdout).toMatch(
      /Immuta received:\n {2}GET \/data\/connection\/snowflake-prod\n {2}POST \/integrations\/1\/scripts\/delete\n {2}DELETE \/data\/object\/snowflake-prod/
    );
  });

  it('fails when the action fails', async () => {
    const run = await localAction('INPUT_DRY-RUN=maybe');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `::error::Input 'dry-run' must be true or false, but was "maybe".`
    );
    expect(reportedOutputs(run.stdout)).toEqual({
      status: 'failed',
      deleted: 'false',
      'child-count': '',
      'script-status': 'skipped',
      'statements-run': '0'
    });
  });
});
