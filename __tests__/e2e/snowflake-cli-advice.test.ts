// The summary's advice for running a Snowflake script by hand and the example workflow that runs
// it (examples/snowflake-cleanup.yml) give the same `snow sql` flags. That the example pins a
// Snowflake CLI that has them is held in unit/workflows.test.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { startImmutaStandIn, type ImmutaStandIn as StandIn } from '../support/immuta-stand-in.mjs';
import { ROOT, runAction } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';

let immuta: StandIn;
beforeAll(async () => (immuta = await startImmutaStandIn()));
afterAll(async () => immuta.close());

/** The flags of a `snow` command line, each with the value that follows it when it takes one. */
function flags(command: string): string[] {
  const words = command.split(/\s+/);
  return words
    .map((w, i) => (w === '--enable-templating' ? `${w} ${words[i + 1]}` : w))
    .filter((w) => w.startsWith('-'));
}

const example = parse(
  fs.readFileSync(path.join(ROOT, 'examples', 'snowflake-cleanup.yml'), 'utf8')
) as {
  jobs: Record<string, { steps: { uses?: string; run?: string; with?: Record<string, string> }[] }>;
};
const cleanup = example.jobs.cleanup!.steps;

describe("the summary's snow sql advice and the example that follows it", () => {
  it('name the same flags', async () => {
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    const advice = /`(snow sql [^`]+)`/.exec(run.summary)?.[1];
    expect(advice).toBeDefined();
    const ran = cleanup.map((s) => s.run ?? '').find((r) => r.startsWith('snow sql'));
    expect(ran).toBeDefined();
    expect(flags(advice!)).toEqual(flags(ran!));
    expect(flags(advice!)).toContain('--enable-templating NONE');
  });
});
