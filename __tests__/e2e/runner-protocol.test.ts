// What the runner reads from the step, for values that could break its protocol: secrets holding
// `%`, an escape's own text (`%0A`) or line breaks are each registered whole, in one mask
// command the runner decodes back to the secret; outputs holding CR, LF, `%`, `::` and `,` reach
// the next step byte for byte, each between delimiters of its own; annotations stay one line.
// The runner's decoding is its documented one: %25, %0D and %0A in a command's data.
import { afterEach, describe, expect, it } from '@jest/globals';
import { startImmutaStandIn, type ImmutaStandIn } from '../support/immuta-stand-in.mjs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseOutputs, runAction, scratchDir } from '../support/run-action.mjs';
import { stepInputs, visibleLog } from '../support/inputs.js';

let immuta: ImmutaStandIn | undefined;
afterEach(async () => {
  await immuta?.close();
  immuta = undefined;
});

/** A command's data as the runner decodes it. */
const decode = (data: string) =>
  data.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');

/** The values the step asked the runner to mask, decoded. */
function masks(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('::add-mask::'))
    .map((line) => decode(line.slice('::add-mask::'.length)));
}

const DELIMITER =
  /^ghadelimiter_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('secrets that look like the protocol', () => {
  it('an API key holding %, an escape (%0A) and :: is masked whole, in one command, and shown nowhere', async () => {
    const apiKey = 'key-100%-%0A-%25-::x,y-7f3a';
    immuta = await startImmutaStandIn({ apiKey });
    const run = await runAction({ inputs: stepInputs(immuta), env: { RUNNER_DEBUG: '1' } });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('::add-mask::key-100%25-%250A-%2525-::x,y-7f3a\n');
    expect(masks(run.stdout)).toContain(apiKey);
    expect(visibleLog(run.log)).not.toContain(apiKey);
  });

  it('a secret with line breaks is masked whole (one command, one line) and line by line', async () => {
    immuta = await startImmutaStandIn();
    const passphrase = 'line one is long\nline two, 100% %0A::\r\nthird line here';
    const run = await runAction({
      inputs: stepInputs(immuta, { 'snowflake-private-key-passphrase': passphrase })
    });
    const maskLines = run.stdout.split('\n').filter((l) => l.startsWith('::add-mask::'));
    expect(maskLines).toContain(
      '::add-mask::line one is long%0Aline two, 100%25 %250A::%0D%0Athird line here'
    );
    expect(masks(run.stdout)).toEqual(
      expect.arrayContaining([
        passphrase,
        'line one is long',
        'line two, 100% %0A::',
        'third line here'
      ])
    );
    // No line of the log is left over from the secret: every mask is one line.
    expect(visibleLog(run.log)).not.toMatch(/line two|third line/);
  });
});

describe('outputs that look like the protocol', () => {
  const script = 'USE ROLE "X";\r\nDROP ROLE IF EXISTS x;\n-- 100% done :: a,b %0A\n\n';

  it('reach the outputs file byte for byte, each between delimiters of its own', async () => {
    immuta = await startImmutaStandIn();
    immuta.state.integrations[1].script = script;
    const outputs = path.join(await fs.mkdtemp(path.join(scratchDir(), 'protocol-')), 'output');
    await fs.writeFile(outputs, '');
    const run = await runAction({ inputs: stepInputs(immuta), env: { GITHUB_OUTPUT: outputs } });
    expect(run.code).toBe(0);
    const file = await fs.readFile(outputs, 'utf8');
    expect(parseOutputs(file).script).toBe(script);
    const delimiters = [...file.matchAll(/^([\w-]+)<<(.+)$/gm)].map((m) => m[2]!);
    expect(delimiters.length).toBeGreaterThanOrEqual(8);
    for (const delimiter of delimiters) expect(delimiter).toMatch(DELIMITER);
    expect(new Set(delimiters).size).toBe(delimiters.length);
  });

  it('outside a runner (no GITHUB_OUTPUT): set-output commands whose data decodes to the value', async () => {
    immuta = await startImmutaStandIn();
    immuta.state.integrations[1].script = script;
    const run = await runAction({ inputs: stepInputs(immuta), env: { GITHUB_OUTPUT: '' } });
    expect(run.code).toBe(0);
    const line = run.stdout.split('\n').find((l) => l.startsWith('::set-output name=script::'));
    expect(line).toBeDefined();
    expect(decode(line!.slice('::set-output name=script::'.length))).toBe(script);
  });
});

describe('annotations', () => {
  it('an error holding % and a line break from the server stays one ::error:: line, its % intact', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'GET',
      path: '/data/connection/snowflake-prod',
      status: 400,
      body: JSON.stringify({ message: 'quota 100% used\r\n::error::forged' })
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toContain('quota 100% used');
    expect(run.stdout).not.toMatch(/^::error::forged/m);
  });
});
