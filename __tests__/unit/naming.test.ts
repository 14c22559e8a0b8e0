import { describe, expect, it } from '@jest/globals';
import { artifactNameFor, pathSegment, scriptFileNameFor } from '../../src/action/naming.js';

describe('pathSegment', () => {
  it('encodes the key as one segment', () => {
    expect(pathSegment('a/b c?d#e%f')).toBe('a%2Fb%20c%3Fd%23e%25f');
    expect(pathSegment('plain-key_1.x')).toBe('plain-key_1.x');
  });
  it('encodes dot-only keys so URL normalisation cannot collapse them', () => {
    expect(pathSegment('..')).toBe('%2E%2E');
    expect(pathSegment('.')).toBe('%2E');
  });
});

describe('script file names on a case-insensitive file system', () => {
  const folded = (name: string) => name.normalize('NFC').toLowerCase();
  it('are apart for keys that differ by case or by Unicode normalisation alone', () => {
    const keys = ['Snow', 'snow', 'SNOW', 'sNoW', 'caf\u00e9', 'cafe\u0301', 'CAF\u00c9', 'snow~x'];
    const names = keys.map(scriptFileNameFor);
    expect(new Set(names.map(folded)).size).toBe(keys.length);
  });
  it('are stable and keep the key readable', () => {
    expect(scriptFileNameFor('Snow')).toBe(scriptFileNameFor('Snow'));
    expect(scriptFileNameFor('Snow')).toMatch(/^immuta-cleanup-Snow~[0-9a-f]{12}\.sql$/);
    expect(scriptFileNameFor('snow~x')).toBe('immuta-cleanup-snow%7Ex.sql');
  });
  it('stay apart for long keys that differ by case alone', () => {
    const long = 'K'.repeat(300);
    expect(folded(scriptFileNameFor(long))).not.toBe(folded(scriptFileNameFor(long.toLowerCase())));
  });
});

describe('default names', () => {
  it('percent-encodes what artifact names refuse, and the percent sign itself', () => {
    expect(artifactNameFor('a:b|c*d?e<f>g"h\\i/j%k')).toBe(
      'immuta-cleanup-script-a%3Ab%7Cc%2Ad%3Fe%3Cf%3Eg%22h%5Ci%2Fj%25k'
    );
    expect(artifactNameFor('snowflake-prod')).toBe('immuta-cleanup-script-snowflake-prod');
  });
  it('gives different keys different names, where replacing characters would not', () => {
    const keys = ['snow/prod', 'snow:prod', 'snow-prod', 'snow%2Fprod', 'snow prod', 'snow_prod'];
    expect(new Set(keys.map(artifactNameFor)).size).toBe(keys.length);
    expect(new Set(keys.map(scriptFileNameFor)).size).toBe(keys.length);
  });
  it('keeps file names of long keys under the file-system limit, and still apart', () => {
    const long = (last: string) => `${'ü'.repeat(200)}${last}`;
    const [a, b] = [scriptFileNameFor(long('a')), scriptFileNameFor(long('b'))];
    expect(a).not.toBe(b);
    expect(Buffer.byteLength(a)).toBeLessThan(200);
    expect(a).toMatch(/^immuta-cleanup-(%C3%BC)+~[0-9a-f]{32}\.sql$/);
  });
  it('gives a portable script file name', () => {
    expect(scriptFileNameFor('Prod DB/é')).toMatch(
      /^immuta-cleanup-Prod%20DB%2F%C3%A9~[0-9a-f]{12}\.sql$/
    );
    expect(scriptFileNameFor('prod db/é')).toBe('immuta-cleanup-prod%20db%2F%C3%A9.sql');
    expect(scriptFileNameFor('snowflake-prod')).toBe('immuta-cleanup-snowflake-prod.sql');
  });
});
