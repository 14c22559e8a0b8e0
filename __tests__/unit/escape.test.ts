import { describe, expect, it } from '@jest/globals';
import {
  excerpt,
  forLog,
  quoted,
  holdsLegacyCommand,
  markdownCode,
  markdownText
} from '../../src/action/escape.js';
import { MIN_MASK_LENGTH, Secrets, unsendable } from '../../src/action/secrets.js';
import { decodeText, mediaType, readCapped } from '../../src/http/body.js';
import { Readable } from 'node:stream';

describe('forLog', () => {
  it.each([
    ['a plain legacy command', 'key ##[add-mask]x', 'key ##\\u{5b}add-mask]x'],
    // Shown as text, the zero-width space no longer vanishes, so `#\u{200b}#[` is not `##[`.
    ['one with a zero-width space', 'k #\u200b#[error]x', 'k #\\u{200b}#[error]x'],
    ['one with a combining mark', 'k #\u0301#[error]x', 'k #\u0301#\\u{5b}error]x'],
    ['a line break that would start a new line', 'a\n::error::x', 'a\\u{a}::error::x'],
    ['a right-to-left override', 'a\u202eb', 'a\\u{202e}b']
  ])('defuses %s', (_what, line, expected) => {
    expect(forLog(line)).toBe(expected);
    expect(holdsLegacyCommand(forLog(line))).toBe(false);
  });
  it('leaves ordinary text alone, and never lets a line start with ::', () => {
    expect(forLog("Deregistered host 'snowflake-prod'.")).toBe(
      "Deregistered host 'snowflake-prod'."
    );
    // A leading space would not do: the runner trims it before it looks for ::.
    expect(forLog('::error::x')).toBe('\\u{3a}:error::x');
    expect(forLog(' \u0640::error::x')).toBe(' \u0640\\u{3a}:error::x');
  });
});

describe('holdsLegacyCommand', () => {
  it('sees the legacy command through invisible characters', () => {
    expect(holdsLegacyCommand('a#\u200b\u2060#\ufe0f[b')).toBe(true);
    expect(holdsLegacyCommand('a#b#[c')).toBe(false);
    // Letters the runner's culture-sensitive search skips too, such as the Arabic tatweel.
    expect(holdsLegacyCommand('a#\u0640#[c')).toBe(true);
  });
});

describe('markdownText', () => {
  it('escapes HTML and Markdown, and keeps one line', () => {
    expect(markdownText('<b>x</b> [l](u) *e* |p| a\nb')).toBe(
      '&lt;b&gt;x&lt;/b&gt; \\[l\\]\\(u\\) \\*e\\* \\|p\\| a b'
    );
    expect(markdownText('https://evil.example')).toBe('https\\://evil.example');
    expect(markdownText(`it's "q" & co`)).toBe('it&#39;s &quot;q&quot; &amp; co');
  });
});

describe('markdownCode', () => {
  it('fences backticks, escapes pipes for tables and keeps one line', () => {
    expect(markdownCode('a`b')).toBe('``a`b``');
    expect(markdownCode('`a')).toBe('`` `a ``');
    expect(markdownCode('a|b\nc')).toBe('`a\\|b c`');
  });
});

describe('excerpt', () => {
  it('collapses whitespace and cuts by characters, never inside one', () => {
    expect(excerpt('a  b\n\tc')).toBe('a b c');
    expect(excerpt('😀'.repeat(5), 3)).toBe('😀😀😀…');
    expect(excerpt('abc', 3)).toBe('abc');
  });
});

describe('Secrets', () => {
  it('masks each secret once and cuts out the longest first', () => {
    const masked: string[] = [];
    const secrets = new Secrets((s) => masked.push(s));
    secrets.add('abcd1234');
    secrets.add('abcd1234-long');
    secrets.add('abcd1234');
    // Each with its base64 form, which a Basic header would carry; each mask sent once.
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    expect(masked[0]).toBe('abcd1234');
    expect(masked).toEqual(
      expect.arrayContaining([b64('abcd1234'), 'abcd1234-long', b64('abcd1234-long')])
    );
    expect(new Set(masked).size).toBe(masked.length);
    expect(secrets.redact('x abcd1234-long y abcd1234')).toBe('x *** y ***');
  });

  /** A secret whose base64 holds + and /, so that base64url differs, and no = to pad. */
  const KEY = 'immuta-key~~~>>>???-012';
  const b64 = (bytes: string | Buffer) => Buffer.from(bytes).toString('base64');
  const url = (text: string) => text.replace(/\+/g, '-').replace(/\//g, '_');

  it.each([
    ['padded base64', b64(KEY)],
    ['unpadded base64', b64(KEY).replace(/=+$/, '')],
    ['base64url', url(b64(KEY)).replace(/=+$/, '')],
    ['JSON-escaped', JSON.stringify('k"\\ey-0123').slice(1, -1)]
  ])('cuts out its %s form', (_what, form) => {
    const secrets = new Secrets(() => undefined);
    secrets.add(KEY);
    secrets.add('k"\\ey-0123');
    expect(form).not.toBe(KEY);
    expect(secrets.redact(`said: ${form}.`)).toBe('said: ***.');
  });

  it.each([0, 1, 2, 3, 4, 5])(
    'cuts the key out of the base64 of a text holding it after %i more bytes, as the token exchange body is encoded',
    (extra) => {
      const secrets = new Secrets(() => undefined);
      secrets.add(KEY);
      const body = `${'x'.repeat(extra)}{"apikey":"${KEY}"}`;
      const keyAt = extra + '{"apikey":"'.length;
      for (const encoded of [b64(body), url(b64(body))]) {
        const redacted = secrets.redact(encoded);
        // What only the key's bytes decide: the characters from the first whole one after the
        // key starts to the last whole one before it ends.
        const inner = encoded.slice(
          Math.ceil((keyAt * 8) / 6),
          Math.floor(((keyAt + KEY.length) * 8) / 6)
        );
        expect(inner.length).toBeGreaterThan(20);
        expect(redacted).not.toContain(inner);
        expect(redacted).toContain('***');
        // What is left around it is the body's own, at most one character the key shares.
        expect(redacted.replace('***', '').length).toBeLessThanOrEqual(
          encoded.length - inner.length
        );
      }
    }
  );

  describe('the key URL-encoded, in each spelling an echo may give it', () => {
    const key = 'immuta+key/ab=cd 1234';
    const lower = (text: string) => text.replace(/%[0-9A-F]{2}/g, (s) => s.toLowerCase());
    const form = new URLSearchParams({ s: key }).toString().slice(2);
    it.each([
      ['upper-case percent-encoding', encodeURIComponent(key)],
      ['lower-case percent-encoding', lower(encodeURIComponent(key))],
      ['form encoding with lower-case digits', lower(form)],
      ['percent-encoding twice', encodeURIComponent(encodeURIComponent(key))],
      [
        'lower-case percent-encoding, encoded again',
        encodeURIComponent(lower(encodeURIComponent(key)))
      ],
      ['form encoding, encoded again', encodeURIComponent(form)]
    ])('%s is masked and cut out', (_what, spelt) => {
      const masked: string[] = [];
      const secrets = new Secrets((s) => masked.push(s));
      secrets.add(key);
      expect(spelt).not.toBe(key);
      expect(masked).toContain(spelt);
      expect(secrets.redact(`said: ${spelt}.`)).toBe('said: ***.');
    });
  });

  it('masks the key inside a Basic value whatever comes before it, and ends it', () => {
    const secrets = new Secrets(() => undefined);
    secrets.add(KEY);
    for (const id of ['a', 'ab', 'abc']) {
      expect(secrets.redact(`Basic ${b64(`${id}:${KEY}`)}`)).toMatch(
        /^Basic [A-Za-z0-9+/]{0,8}\*\*\*$/
      );
    }
  });

  it('sends only the text of a secret it keeps (a private key that signs), not its encodings', () => {
    const masked: string[] = [];
    const secrets = new Secrets((s) => masked.push(s));
    secrets.add('passphrase-kept', 'kept');
    expect(masked).toEqual(['passphrase-kept']);
  });

  it('sends no encoded form too short to mask', () => {
    const masked: string[] = [];
    new Secrets((s) => masked.push(s)).add('abc');
    expect(masked.every((m) => m.length >= MIN_MASK_LENGTH)).toBe(true);
  });
  it('drops the end of a cut head, where a secret could have been split', () => {
    const secrets = new Secrets(() => undefined);
    secrets.add('0123456789');
    // The head may end in the first half of the secret or of its base64 form (16 characters,
    // the longest): its last 15 characters go.
    expect(secrets.redactHead('a longer text 01234', false)).toBe('a lo');
    expect(secrets.redactHead('text 0123456789', true)).toBe('text ***');
  });
  it('says why a credential cannot be sent', () => {
    expect(unsendable('ok-key')).toBeUndefined();
    expect(unsendable('a\tb')).toMatch(/control character/);
    expect(unsendable('clé')).toMatch(/printable ASCII/);
  });
});

describe('reading bodies', () => {
  it('stops at the cap and says there was more', async () => {
    const body = Readable.from([Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('ij')]);
    expect(await readCapped(body, 5)).toEqual({ bytes: Buffer.from('abcde'), truncated: true });
    expect(body.destroyed).toBe(true);
    const short = Readable.from([Buffer.from('ab')]);
    expect(await readCapped(short, 5)).toEqual({ bytes: Buffer.from('ab'), truncated: false });
  });
  it('reads media types and charsets', () => {
    expect(mediaType('Text/HTML; Charset="ISO-8859-1"')).toEqual({
      essence: 'text/html',
      charset: 'iso-8859-1'
    });
    expect(mediaType('')).toBeUndefined();
  });
  it('decodes strictly or leniently', () => {
    const bad = Buffer.from([0x61, 0xff, 0x62]);
    expect(() => decodeText(bad, undefined, 'strict')).toThrow(/not valid UTF-8/);
    expect(decodeText(bad, undefined, 'lenient')).toBe('a\ufffdb');
    expect(decodeText(Buffer.from([0xe9]), 'windows-1252', 'strict')).toBe('é');
  });
});

describe('quoted', () => {
  it('shows white space at either end, escapes what cannot be seen, and cuts long values', () => {
    expect(quoted('snowflake-prod ')).toBe('"snowflake-prod "');
    expect(quoted('a\tb\u200b"')).toBe('"a\\tb\\u{200b}\\""');
    expect(quoted('x'.repeat(10), 4)).toBe('"xxxx"…');
  });
});
