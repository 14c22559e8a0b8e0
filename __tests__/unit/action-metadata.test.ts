import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { parse } from 'yaml';
import { Inputs, parseInputs } from '../../src/action/inputs.js';
import { ROOT } from '../support/run-action.mjs';
import { readerOf } from '../support/input-source.js';
import { renderReadme } from '../../scripts/readme.mjs';

interface ActionYml {
  name: string;
  description: string;
  branding: { icon: string; color: string };
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string };
}

const action = parse(fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as ActionYml;
const sources = fs
  .readdirSync(path.join(ROOT, 'src'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => fs.readFileSync(path.join(ROOT, 'src', f), 'utf8'))
  .join('\n');
const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const GITHUB_COLORS = [
  'white',
  'black',
  'yellow',
  'blue',
  'green',
  'orange',
  'red',
  'purple',
  'gray-dark'
];

describe('action.yml', () => {
  it('declares exactly the inputs the code reads', () => {
    expect(Object.keys(action.inputs).sort()).toEqual(Object.values(Inputs).sort());
    // Inputs are read only through the Inputs names, never by a stray literal.
    expect(sources).not.toMatch(/getInput\(\s*['"`]/);
  });

  it('declares exactly the outputs the code sets', () => {
    const set = new Set([...sources.matchAll(/setOutput\(\s*'([^']+)'/g)].map((m) => m[1]));
    expect([...set].sort()).toEqual(Object.keys(action.outputs).sort());
  });

  it('has a description the Marketplace accepts: 125 characters at most', () => {
    expect(action.description.length).toBeLessThanOrEqual(125);
    expect(action.description).toMatch(/^Deregister a host .*Immuta/);
  });

  it('describes every input and output, with kebab-case names', () => {
    for (const [name, spec] of [
      ...Object.entries(action.inputs),
      ...Object.entries(action.outputs)
    ]) {
      expect(name).toMatch(KEBAB);
      expect(spec.description?.trim().length).toBeGreaterThan(10);
    }
  });

  it('gives every boolean input a default of true or false', () => {
    const booleans = [...sources.matchAll(/boolean\(read, Inputs\.(\w+)/g)].map(
      (m) => Inputs[m[1] as keyof typeof Inputs]
    );
    expect(booleans.sort()).toEqual([
      'allow-insecure-http',
      'dry-run',
      'fail-fast',
      'summary-script',
      'upload-artifact'
    ]);
    for (const name of booleans) expect(['true', 'false']).toContain(action.inputs[name].default);
  });

  it('states the same defaults as the code applies', () => {
    // connection-key is needed unless a plan names the hosts, so action.yml cannot require it.
    const required = { 'immuta-url': 'https://x.example', 'api-key': 'k' };
    const given = { ...required, 'connection-key': 'c' };
    const defaults = Object.entries(action.inputs).map(([name, spec]) => [name, spec.default]);
    const fromYml = readerOf({ ...Object.fromEntries(defaults), ...given });
    const fromNothing = readerOf(given);
    const env = { RUNNER_TEMP: '/runner/temp' };
    expect(parseInputs(fromYml, env)).toEqual(parseInputs(fromNothing, env));
    for (const name of Object.keys(required)) expect(action.inputs[name].required).toBe(true);
  });

  it('runs the bundle on node24 with valid branding', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
    expect(fs.existsSync(path.join(ROOT, action.runs.main))).toBe(true);
    const feather = createRequire(import.meta.url)('feather-icons') as {
      icons: Record<string, unknown>;
    };
    expect(Object.keys(feather.icons)).toContain(action.branding.icon);
    expect(GITHUB_COLORS).toContain(action.branding.color);
    expect(action.name.length).toBeGreaterThan(0);
    expect(action.description.length).toBeLessThanOrEqual(200);
  });

  it('is tested on the Node major it names', () => {
    expect(`node${process.versions.node.split('.')[0]}`).toBe(action.runs.using);
  });
});

describe("package.json's engines", () => {
  const read = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));
  const pkg = read('package.json') as { engines: { node: string } };
  const lock = read('package-lock.json') as {
    packages: Record<string, { dev?: boolean; engines?: { node?: string } | string[] }>;
  };

  /** Whether a version satisfies an engines range of the forms npm packages use. */
  function admits(range: string, version: readonly number[]): boolean {
    const compare = (v: string) => {
      const parts = v.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : 0));
      for (let i = 0; i < 3; i++) {
        const d = (version[i] ?? 0) - (parts[i] ?? 0);
        if (d !== 0) return Math.sign(d);
      }
      return 0;
    };
    return range.split('||').some((alternative) =>
      alternative
        .replace(/(>=|<=|>|<|\^|~)\s+/g, '$1')
        .trim()
        .split(/\s+/)
        .every((bound) => {
          const [, op, v] = /^(>=|<=|>|<|\^|~)?v?(.+)$/.exec(bound)!;
          const c = compare(v!);
          if (op === '>=') return c >= 0;
          if (op === '>') return c > 0;
          if (op === '<=') return c <= 0;
          if (op === '<') return c < 0;
          return version[0] === Number(v!.split('.')[0]) && c >= 0;
        })
    );
  }

  it('names the Node action.yml runs the bundle on, and the lock file says the same', () => {
    expect(pkg.engines.node).toBe(`>=${action.runs.using.replace(/^node/, '')}`);
    expect(lock.packages['']!.engines).toEqual(pkg.engines);
  });

  it('admits no Node that a package the bundle holds refuses (undici 8 wants 22.19)', () => {
    const floor = pkg.engines.node.replace(/^>=/, '').split('.').map(Number);
    // An old package may give engines as a list, which npm ignores.
    const refusing = Object.entries(lock.packages)
      .filter(([where, p]) => where !== '' && !p.dev)
      .map(([where, p]) => [where, Array.isArray(p.engines) ? undefined : p.engines?.node])
      .filter(([, range]) => range !== undefined && !admits(range, floor))
      .map(([where, range]) => `${where} (${range})`);
    expect(refusing).toEqual([]);
    expect(admits('>=22.19.0', [20, 20, 2])).toBe(false);
    expect(admits('>=22.19.0', floor)).toBe(true);
  });
});

describe('README', () => {
  it("holds action.yml's inputs and outputs tables and the example workflows as they are", () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(renderReadme(readme)).toBe(readme);
    // Every example is linked from the Examples table; a few are also shown whole.
    const examples = readme.slice(readme.indexOf('## Examples'), readme.indexOf('## Inputs'));
    for (const file of fs.readdirSync(path.join(ROOT, 'examples'))) {
      expect(examples).toContain(`](examples/${file})`);
    }
    expect(examples.match(/<!-- example: /g)?.length).toBeGreaterThanOrEqual(1);
  });

  it('keeps the commands to try it near the top, before Setup', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const tryIt = readme.indexOf('## Try it locally');
    expect(tryIt).toBeGreaterThan(0);
    expect(tryIt).toBeLessThan(readme.indexOf('## Setup'));
    const section = readme.slice(tryIt, readme.indexOf('## Setup'));
    for (const command of ['npm ci', 'npm run demo', 'npm test'])
      expect(section).toContain(command);
  });

  it('links only example files that exist, and shows each inline at most once', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const [, file] of readme.matchAll(/\]\((examples\/[^)#]+)\)/g)) {
      expect(fs.existsSync(path.join(ROOT, file!))).toBe(true);
    }
    const shown = [...readme.matchAll(/<!-- example: ([^ ]+) -->/g)].map((m) => m[1]);
    expect(new Set(shown).size).toBe(shown.length);
  });

  it('gives the commands CI runs', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
    for (const command of ['npm ci', 'npm run demo', 'npm test']) expect(readme).toContain(command);
    expect(ci).toMatch(/^npm ci/m);
    expect(ci).toMatch(/^npm test$/m);
  });
});
