import { describe, expect, it } from '@jest/globals';
import { artifactNameFor, pathSegment, scriptFileNameFor } from '../../src/naming.js';

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

describe('default names', () => {
  it('replaces what artifact names refuse', () => {
    expect(artifactNameFor('a:b|c*d?e<f>g"h\\i/j')).toBe(
      'immuta-cleanup-script-a-b-c-d-e-f-g-h-i-j'
    );
  });
  it('gives a portable script file name', () => {
    expect(scriptFileNameFor('Prod DB/é')).toBe('immuta-cleanup-Prod_DB__.sql');
  });
});
