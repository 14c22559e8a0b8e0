import { describe, expect, it } from '@jest/globals';
import { blobStallMs, uploadDeadlineMs } from '../../src/artifacts/client.js';

describe("an upload's deadline adds what @actions/artifact gives its blob", () => {
  it.each([
    [undefined, 300_000],
    ['', 300_000],
    ['1000', 1000],
    // As the package reads it (parseInt): digits first, the rest ignored.
    ['90000ms', 90_000],
    [' 2500', 2500],
    // One the package refuses at the upload, or one after which it gives up at once, adds nothing.
    ['soon', 0],
    ['-5', 0]
  ])('ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS=%j: %d ms', (value, ms) => {
    expect(blobStallMs({ ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS: value })).toBe(ms);
  });
});

describe("an upload's deadline", () => {
  it("is the operation's, plus the blob's", () => {
    expect(uploadDeadlineMs(90_000, {})).toBe(390_000);
    expect(uploadDeadlineMs(3000, { ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS: '1000' })).toBe(4000);
  });

  it("is never longer than Node's longest timer, which would otherwise fire at once", () => {
    expect(uploadDeadlineMs(6_000_000, { ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS: '9999999999' })).toBe(
      2 ** 31 - 1
    );
  });
});
