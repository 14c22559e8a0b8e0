// What the step prints, read as the runner reads it (support/runner-commands.ts, after
// actions/runner ActionCommand.TryParseV2 and TryParse): a connection key echoed in a log line,
// with `##[` spelt through characters the runner's culture-sensitive search skips, forges no
// command; and a key's invisible characters show as escapes in warnings and errors too.
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  defaultState,
  startImmutaStandIn,
  type ImmutaStandIn as StandIn
} from '../support/immuta-stand-in.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';
import { forgedCommands } from '../support/runner-commands.js';

let immuta: StandIn | undefined;
afterEach(async () => {
  await immuta?.close();
  immuta = undefined;
});

/** A stand-in whose one host is `key`, a Snowflake host like snowflake-prod. */
async function standInWith(key: string): Promise<StandIn> {
  const state = defaultState();
  state.hosts = { [key]: state.hosts['snowflake-prod']! };
  return startImmutaStandIn({ state });
}

describe('a connection key that would forge a runner command', () => {
  it.each([
    ['an Arabic tatweel', 'snow#\u0640#[warning]forged by a tatweel'],
    ['a Tibetan mark', 'snow#\u0f3e#[add-mask]Deregistered'],
    ['a Mongolian nirugu', 'snow#\u180a#[error]forged by a nirugu'],
    ['a musical symbol', 'snow#\u{1d165}#[warning]forged by a stem'],
    ['a zero-width space', 'snow#\u200b#[warning]forged by a zero-width space'],
    ['plain', 'snow##[warning]forged plainly'],
    ['a leading :: in the middle of a line', 'snow ::warning::forged']
  ])(
    'through %s is deregistered, and the log holds only the commands the action wrote',
    async (_what, key) => {
      immuta = await standInWith(key);
      const run = await runAction({ inputs: stepInputs(immuta, { 'connection-key': key }) });
      expect(run.code).toBe(0);
      expect(run.outputs.status).toBe('deregistered');
      expect(forgedCommands(run.stdout)).toEqual([]);
      expect(forgedCommands(run.stderr)).toEqual([]);
      // The key is still in the log, as text.
      expect(run.stdout).toMatch(/^Deregistered host 'snow/m);
      expect(run.warnings).toEqual([]);
    }
  );
});

describe("a key's invisible characters, in warnings and errors", () => {
  it('an error shows a zero-width space in the key as an escape, as the summary does', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': 'snowflake-prod\u200b' })
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toContain("'snowflake-prod\\u{200b}'");
    expect(run.errors[0]).not.toContain('\u200b');
    // The summary shows it as Markdown text: the same escape, its backslash and braces escaped.
    expect(run.summary).toContain('snowflake-prod\\\\u\\{200b\\}');
    expect(run.summary).not.toContain('\u200b');
  });

  it('a warning does too', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': 'gone\u2060-host', 'if-missing': 'warn' })
    });
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe('already-absent');
    expect(run.warnings.join('\n')).toContain("'gone\\u{2060}-host'");
    expect(run.warnings.join('\n')).not.toContain('\u2060');
  });
});
