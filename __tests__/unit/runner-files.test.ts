import { afterAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  checkRunnerFiles,
  failedOutput,
  setOutput,
  useRunner,
  workflowRunner
} from '../../src/action/runner.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-files-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('checkRunnerFiles', () => {
  it('passes files that can be appended to, and leaves what they hold', () => {
    const output = path.join(dir, 'output');
    const summary = path.join(dir, 'summary');
    fs.writeFileSync(output, 'earlier=1\n');
    fs.writeFileSync(summary, '# earlier step\n');
    expect(() =>
      checkRunnerFiles({ GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary })
    ).not.toThrow();
    expect(fs.readFileSync(output, 'utf8')).toBe('earlier=1\n');
    expect(fs.readFileSync(summary, 'utf8')).toBe('# earlier step\n');
  });

  it('passes when the runner names no file (outside a runner)', () => {
    expect(() => checkRunnerFiles({})).not.toThrow();
  });

  it.each(['GITHUB_OUTPUT', 'GITHUB_STEP_SUMMARY'])(
    'refuses %s in a folder that does not exist, naming it and the code',
    (variable) => {
      const missing = path.join(dir, 'no-such-folder', 'file');
      expect(() => checkRunnerFiles({ [variable]: missing })).toThrow(
        `cannot be written (ENOENT): ${variable} is ${missing}.`
      );
    }
  );

  it('refuses a folder given as the outputs file', () => {
    expect(() => checkRunnerFiles({ GITHUB_OUTPUT: dir })).toThrow(/\(EISDIR\): GITHUB_OUTPUT/);
  });
});

describe('setOutput', () => {
  it('remembers an output that could not be written instead of throwing, and keeps going', () => {
    const written: string[] = [];
    let full = false;
    useRunner({
      ...workflowRunner,
      setOutput: (name) => {
        if (full) throw new Error('ENOSPC: no space left on device, write');
        written.push(name);
      }
    });
    try {
      setOutput('script', 'DROP USER x;');
      expect(failedOutput()).toBeUndefined();
      full = true;
      expect(() => setOutput('deleted', 'true')).not.toThrow();
      full = false;
      setOutput('status', 'deregistered');
      expect(written).toEqual(['script', 'status']);
      expect(String(failedOutput())).toContain('ENOSPC');
    } finally {
      useRunner(workflowRunner);
    }
  });
});

describe('appendSummary', () => {
  // core.summary is one buffer per process, and resolves its file once; one link, repointed,
  // stands for a summary file that fails and then works again.
  const file = path.join(dir, 'step-summary');
  const link = path.join(dir, 'summary-link');
  const repoint = (target: string) => {
    fs.rmSync(link, { force: true });
    fs.symlinkSync(target, link);
  };
  const saved = process.env.GITHUB_STEP_SUMMARY;
  afterAll(() => {
    if (saved === undefined) delete process.env.GITHUB_STEP_SUMMARY;
    else process.env.GITHUB_STEP_SUMMARY = saved;
  });

  it('writes blocks appended at once each once, in order; a block whose write failed is not written with the next', async () => {
    fs.writeFileSync(file, '# earlier step\n');
    repoint(dir); // a folder: the write fails
    process.env.GITHUB_STEP_SUMMARY = link;
    await expect(workflowRunner.appendSummary('lost block')).rejects.toThrow(/EISDIR/);
    repoint(file);
    await Promise.all([
      workflowRunner.appendSummary('## one'),
      workflowRunner.appendSummary('| a | b |'),
      workflowRunner.appendSummary('two\r\nlines')
    ]);
    expect(fs.readFileSync(file, 'utf8')).toBe(
      `# earlier step\n## one${os.EOL}| a | b |${os.EOL}two\r\nlines${os.EOL}`
    );
  });
});
