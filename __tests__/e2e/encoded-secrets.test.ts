// A server (or a proxy in front of it) that echoes what it was sent, encoded: the API key as
// unpadded base64 or base64url, or the token exchange's body base64-encoded whole, the key inside
// it at any byte alignment. None of it may reach the log, the summary or report.json.
import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import { startImmutaStandIn, type ImmutaStandIn as StandIn } from '../support/immuta-stand-in.mjs';
import { runAction, type ActionRun } from '../support/run-action.mjs';
import { stepInputs, visibleLog } from '../support/inputs.js';
import { forgedCommands } from '../support/runner-commands.js';

let immuta: StandIn | undefined;
afterEach(async () => {
  await immuta?.close();
  immuta = undefined;
});

/** Printable ASCII whose base64 holds + and / (so base64url differs) and one =. */
const KEY = 'immuta-key~~~>>>???-012';
const base64 = (bytes: string) => Buffer.from(bytes).toString('base64');
const url = (text: string) => text.replace(/\+/g, '-').replace(/\//g, '_');
const unpadded = (text: string) => text.replace(/=+$/, '');

/** The characters of base64(text) that the bytes of `inner`, found in text, alone decide. */
function keyOnly(text: string, inner: string): string {
  const at = Buffer.from(text.slice(0, text.indexOf(inner))).length;
  const end = at + Buffer.from(inner).length;
  return base64(text).slice(Math.ceil((at * 8) / 6), Math.floor((end * 8) / 6));
}

/** Everything the step left for a reader: the log (masks aside), the summary, report.json. */
async function shown(run: ActionRun): Promise<string> {
  expect(run.outputs['report-path']).toBeTruthy();
  const report = await fs.readFile(run.outputs['report-path']!, 'utf8');
  expect(report).toContain('"error"');
  return [visibleLog(run.log), run.summary, report].join('\n');
}

describe('the API key echoed back in an encoding', () => {
  it('holds + and / in base64 and pads with =, so each form differs', () => {
    expect(base64(KEY)).toMatch(/[+/]/);
    expect(base64(KEY)).toMatch(/=$/);
  });

  it.each([
    ['unpadded base64', unpadded(base64(KEY))],
    ['base64url', unpadded(url(base64(KEY)))],
    ['padded base64url', url(base64(KEY))]
  ])('as %s, in an error message', async (_what, echoed) => {
    immuta = await startImmutaStandIn({ apiKey: KEY });
    immuta.fault({
      method: 'GET',
      path: '/data/connection/snowflake-prod',
      status: 400,
      body: JSON.stringify({ message: `Bad Authorization header: ${echoed}` })
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toContain('Bad Authorization header: ***');
    const everything = await shown(run);
    expect(everything).not.toContain(echoed);
    expect(everything).not.toContain(KEY);
    expect(everything).not.toContain(keyOnly(KEY, KEY));
  });

  it.each([0, 1, 2])(
    'inside the base64 of the token exchange body, after %i more bytes',
    async (extra) => {
      immuta = await startImmutaStandIn({ apiKey: KEY });
      const body = `${'b'.repeat(extra)}${JSON.stringify({ apikey: KEY })}`;
      const echoed = base64(body);
      const inner = keyOnly(body, KEY);
      expect(inner.length).toBeGreaterThan(25);
      immuta.fault({
        method: 'POST',
        path: '/bim/apikey/authenticate',
        status: 400,
        body: JSON.stringify({ message: `Could not read body ${echoed}` })
      });
      const run = await runAction({ inputs: stepInputs(immuta, { 'auth-method': 'token' }) });
      expect(run.code).toBe(1);
      expect(run.errors[0]).toMatch(/Could not read body [A-Za-z0-9+/]*\*\*\*/);
      const everything = await shown(run);
      expect(everything).not.toContain(inner);
      expect(everything).not.toContain(url(inner));
      expect(immuta.requests).toHaveLength(1);
    }
  );

  it('a key holding :: and the legacy form forges no command in its mask or in an echo of it', async () => {
    const key = 'k::warning::forged-##[error]x-0123';
    immuta = await startImmutaStandIn({ apiKey: key });
    immuta.fault({
      method: 'GET',
      path: '/data/connection/snowflake-prod',
      status: 400,
      body: JSON.stringify({ message: `Bad key ${key} (${unpadded(base64(key))})` })
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toContain('Bad key *** (***)');
    expect(forgedCommands(run.stdout)).toEqual([]);
    expect(await shown(run)).not.toContain('forged');
  });
});
