// The runner protocol as the action speaks it (src/runner.ts), held to @actions/core: the same
// calls, made in two child processes with the same environment and files, must leave the same
// bytes on stdout, in the outputs file and in the job summary. Delimiters are random per output
// and are compared as their shape. The known differences are asserted as such, so a new
// @actions/core that removes or adds one turns this red.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { scratchDir } from '../support/run-action.mjs';

const STEPS = path.join(import.meta.dirname, '..', 'support', 'runner-steps.mjs');
const DELIMITER =
  /ghadelimiter_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/g;

interface Run {
  code: number;
  stdout: string;
  outputs: string | undefined;
  summary: string | undefined;
}

const INPUTS = {
  INPUT_API_KEY: '  key with spaces\t ',
  'INPUT_CONNECTION-KEY': 'snowflake prod',
  INPUT_IGNORED: 'not asked for'
};

/** Runs the steps through `which`, with GITHUB_OUTPUT/GITHUB_STEP_SUMMARY as `files` says. */
async function steps(
  which: 'own' | 'core',
  files: { output: 'file' | 'unset' | 'missing'; summary: 'file' | 'unset' }
): Promise<Run> {
  const dir = await fs.mkdtemp(path.join(scratchDir(), `runner-${which}-`));
  const output = path.join(dir, 'github-output');
  const summary = path.join(dir, 'step-summary');
  if (files.output === 'file') await fs.writeFile(output, '');
  if (files.summary === 'file') await fs.writeFile(summary, '');
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...INPUTS };
  if (files.output !== 'unset') env.GITHUB_OUTPUT = output;
  if (files.summary === 'file') env.GITHUB_STEP_SUMMARY = summary;
  const { stdout, code } = await promisify(execFile)(process.execPath, [STEPS, which], {
    env,
    cwd: dir
  }).then(
    (r) => ({ stdout: r.stdout, code: 0 }),
    (e: { stdout: string; code: number }) => ({ stdout: e.stdout, code: e.code })
  );
  const read = (file: string) => fs.readFile(file, 'utf8').catch(() => undefined);
  return { code, stdout, outputs: await read(output), summary: await read(summary) };
}

const normal = (text: string | undefined) => text?.replace(DELIMITER, 'ghadelimiter_<uuid>');

describe('the runner protocol, as @actions/core speaks it', () => {
  it('inside a runner: the same stdout, outputs file, summary file and exit code, byte for byte', async () => {
    const files = { output: 'file', summary: 'file' } as const;
    const [own, core] = await Promise.all([steps('own', files), steps('core', files)]);
    expect(own.code).toBe(1);
    expect(own.code).toBe(core.code);
    expect(own.stdout).toBe(core.stdout);
    expect(normal(own.outputs)).toBe(normal(core.outputs));
    expect(own.summary).toBe(core.summary);

    // What was compared is the protocol in full, not an empty run.
    expect(own.stdout).toContain('api key: [key with spaces]\n');
    expect(own.stdout).toContain('connection-key: [snowflake prod]\n');
    expect(own.stdout).toContain('::add-mask::line one%0Aline two%0D%0A100%25 %250A::\n');
    expect(own.stdout).toContain('::warning::careful: 50%25 %0D%0A::error::not a command\n');
    expect(own.stdout).toContain('::error::failed: 100%25%0Asecond line, :: and ,\n');
    expect(normal(own.outputs)).toContain(
      'script<<ghadelimiter_<uuid>\nUSE ROLE "X";\r\nDROP ROLE IF EXISTS x;\n-- 100% done :: a,b\n\nghadelimiter_<uuid>\n'
    );
    expect(own.summary).toBe(
      '# Deregistered\n\n| host | % |\n|---|---|\n| a,b | ::x:: |\nsecond block\r\nwith CRLF\n'
    );
    // Each output has a delimiter of its own, as unguessable as @actions/core's.
    const delimiters = own.outputs!.match(DELIMITER)!;
    expect(delimiters).toHaveLength(6);
    expect(new Set(delimiters).size).toBe(3);
  });

  it('outside a runner: the same set-output commands and summary error, less the blank line @actions/core writes before each', async () => {
    const files = { output: 'unset', summary: 'unset' } as const;
    const [own, core] = await Promise.all([steps('own', files), steps('core', files)]);
    expect(own.code).toBe(core.code);
    // Known difference: @actions/core writes a line break before each ::set-output, for output
    // that did not end its line; the action always ends its lines, so it writes none.
    expect(core.stdout).toBe(own.stdout.replace(/^::set-output /gm, '\n::set-output '));
    expect(own.stdout).toContain('::set-output name=odd%3Aname%2Cwith%25::one line\n');
    expect(own.stdout).toContain(
      'threw: Unable to find environment variable for $GITHUB_STEP_SUMMARY. Check if your runtime environment supports job summaries.\n'
    );
  });

  it('a GITHUB_OUTPUT naming a file that does not exist: @actions/core throws, the action creates it', async () => {
    const files = { output: 'missing', summary: 'file' } as const;
    const [own, core] = await Promise.all([steps('own', files), steps('core', files)]);
    // Known difference: the runner creates the file before the step; the action does not insist.
    expect(core.stdout).toMatch(/^threw: Missing file at path: .*github-output$/m);
    expect(own.stdout).not.toMatch(/threw: Missing file/);
    expect(normal(own.outputs)).toContain('empty<<ghadelimiter_<uuid>\n\nghadelimiter_<uuid>\n');
    expect(core.outputs).toBeUndefined();
    expect(own.stdout.replace(/^threw: .*\n/gm, '')).toBe(
      core.stdout.replace(/^threw: .*\n/gm, '')
    );
  });
});
