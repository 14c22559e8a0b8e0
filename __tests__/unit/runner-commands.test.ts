// forLog held to the runner's parsing rules (support/runner-commands.ts, after actions/runner
// ActionCommand.TryParseV2 and TryParse), for every character that could stand in a line.
import { describe, expect, it } from '@jest/globals';
import { forLog, holdsLegacyCommand } from '../../src/action/escape.js';
import {
  commandsIn,
  cultureIndexOf,
  forgedCommands,
  parseCommand,
  skipped
} from '../support/runner-commands.js';

/** Every code point but the surrogates, as a one-character string. */
const EVERY_CHARACTER = Array.from({ length: 0x110000 }, (_, cp) => cp)
  .filter((cp) => cp < 0xd800 || cp > 0xdfff)
  .map((cp) => String.fromCodePoint(cp));

/**
 * The characters the runner passes over where it looks for a keyword: white space at the start
 * of a line (TrimStart) and what its search skips. Any other character in those places ends the
 * search, so these are the ones to try.
 */
const PASSED_OVER = EVERY_CHARACTER.filter((c) => skipped(c) || /^\s$/u.test(c));

describe("the runner's parsing rules, re-implemented", () => {
  it.each([
    ['a command', '::warning::x', 'warning', 'x'],
    ['after leading white space, which TrimStart removes', ' \t\u3000::warning::x', 'warning', 'x'],
    ['with properties', '::error file=a.ts,line=1::x', 'error', 'x'],
    ['after a zero-width space, which ICU skips', '\u200b::warning::x', 'warning', 'x'],
    // The runner then reads the name from index 2 on (":warning"): a name that
    // ::stop-commands:: can register, so the search counts it.
    ['with an Arabic tatweel between the colons', ':\u0640:warning::x', ':warning', 'x'],
    ['the legacy form anywhere in a line', "Deleted host 'a##[warning]x", 'warning', 'x'],
    ['the legacy form through a tatweel', 'a #\u0640#[add-mask]s', 'add-mask', 's'],
    ['the legacy form through a Tibetan mark', 'a #\u0f3e#[error]e', 'error', 'e']
  ])('reads %s', (_what, line, name, data) => {
    expect(parseCommand(line)).toMatchObject({ name, data });
  });

  it.each([
    ['text before the colons', 'x ::warning::x'],
    ['a backslash before them', '\\::warning::x'],
    ['no closing ::', '::warning x'],
    ['a space between the hashes', '# #[warning]x'],
    ['no closing ]', 'a ##[warning x']
  ])('reads no command in %s', (_what, line) => {
    expect(parseCommand(line)).toBeUndefined();
  });

  it("skips what Node's ICU collation ignores, and nothing printable in ASCII", () => {
    expect(skipped('\u200b')).toBe(true);
    expect(skipped('\u0640')).toBe(true);
    expect(skipped('\\')).toBe(false);
    expect(cultureIndexOf('a\u200b:\u200b:b', '::')).toBe(2);
    const asciiSkipped = EVERY_CHARACTER.slice(0x20, 0x7f).filter(skipped);
    expect(asciiSkipped).toEqual([]);
    // Thousands: format characters, marks, and letters such as the tatweel.
    expect(PASSED_OVER.length).toBeGreaterThan(2000);
    expect(PASSED_OVER).toEqual(
      expect.arrayContaining(['\u0640', '\u180a', '\u{1d165}', '\u3000'])
    );
  });

  it('tells the commands the action wrote from the ones a value forged', () => {
    const output = [
      '::add-mask::secret',
      '::warning::careful ::error::x',
      "Deleted host 'k##[warning]forged'.",
      '  ::notice::forged'
    ].join('\n');
    expect(commandsIn(output)).toHaveLength(4);
    expect(forgedCommands(output).map((c) => c.command.name)).toEqual(['warning', 'notice']);
  });
});

describe('forLog, against those rules', () => {
  it('defuses a line that opens with :: after any white space or character the runner skips', () => {
    const forged = PASSED_OVER.flatMap((c) =>
      [`${c}::warning::x`, `${c}${c}:${c}:warning::x`, ` ${c} ::error::x`]
        .map(forLog)
        .filter((line) => parseCommand(line) !== undefined)
    );
    expect(forged).toEqual([]);
    // The line still reads as it was, one escape aside.
    expect(forLog('::error::x')).toBe('\\u{3a}:error::x');
    expect(forLog('  ::error::x')).toBe('  \\u{3a}:error::x');
    expect(forLog(':: a list of one')).toBe('\\u{3a}: a list of one');
    expect(forLog('a: b: c')).toBe('a: b: c');
  });

  it('defuses the legacy form (two hashes and a bracket) whatever the runner skips between them', () => {
    const forged = PASSED_OVER.flatMap((c) =>
      [`k #${c}#[warning]x`, `k #${c}#${c}[warning]x`, `k ${c}##[warning]x`]
        .map(forLog)
        .filter((line) => parseCommand(line) !== undefined)
    );
    expect(forged).toEqual([]);
    expect(holdsLegacyCommand('a#\u0640#[b')).toBe(true);
    expect(holdsLegacyCommand('a# #[b')).toBe(false);
  });

  it('keeps a value on one line, as the runner splits lines at CR and LF', () => {
    for (const breaker of ['\n', '\r', '\r\n', '\u2028', '\u0085']) {
      const line = forLog(`a${breaker}::warning::x${breaker}##[error]y`);
      expect(commandsIn(line)).toEqual([]);
      expect(line.split(/\r\n|\r|\n/)).toHaveLength(1);
    }
  });
});
