import { describe, expect, it } from '@jest/globals';
import { checkFileNames, scriptFileProblem } from '../../src/artifacts/names.js';

const FILE = 'immuta-cleanup-snowflake-prod.sql';

describe('the names of the files read back from an artifact', () => {
  it.each([
    [
      'the same name twice',
      [FILE, FILE],
      /holds "immuta-cleanup-snowflake-prod.sql" more than once/
    ],
    [
      'names that differ in case',
      ['A.sql', 'a.sql'],
      /"A.sql" and "a.sql", which a case-insensitive/
    ],
    // é as one code point and as e + combining accent: macOS stores both as one name.
    ['names that differ in Unicode form', ['caf\u00e9.sql', 'cafe\u0301.sql'], /case-insensitive/],
    ['a name that leaves the folder', ['../x.sql'], /"..\/x.sql", which cannot be unpacked safely/],
    ['a name the unzipper rewrote from ..', ['./x.sql'], /"\.\/x.sql", which cannot be unpacked/],
    ['an absolute name', ['/etc/x.sql'], /cannot be unpacked safely/],
    ['a backslash', [`scripts\\${FILE}`], /cannot be unpacked safely/],
    ['a doubled slash', [`scripts//${FILE}`], /cannot be unpacked safely/]
  ])('refuses %s', (_, names, why) => {
    expect(() => checkFileNames(names)).toThrow(why);
  });

  it('takes one name in different folders, and names apart in every form', () => {
    expect(() => checkFileNames([`a/${FILE}`, `b/${FILE}`, 'a.sql', 'b.sql'])).not.toThrow();
  });
});

describe('a one-host step’s script file name', () => {
  const step = (scriptPath: string, more = {}) => ({
    uploadArtifact: true,
    batch: false,
    scriptPath,
    ...more
  });

  it.each([
    ['out/cleanup:prod.sql', 'a colon'],
    ['out/what?.sql', 'a question mark'],
    ['out/a|b.sql', 'a vertical bar'],
    ['out/line\nbreak.sql', 'a line feed']
  ])('%s is refused before any request, saying what and how to fix it', (scriptPath, what) => {
    const problem = scriptFileProblem(step(scriptPath));
    expect(problem).toContain(`holds ${what}: artifacts refuse such names`);
    expect(problem).toMatch(
      /Nothing was sent\. Give script-path a file name without .* or set upload-artifact: false\.$/
    );
  });

  it('is not checked when nothing is uploaded, nor for a batch, whose files are named after the keys', () => {
    expect(
      scriptFileProblem(step('out/cleanup:prod.sql', { uploadArtifact: false }))
    ).toBeUndefined();
    expect(scriptFileProblem(step('out:scripts', { batch: true }))).toBeUndefined();
    expect(scriptFileProblem(step('c:/out/cleanup.sql'))).toBeUndefined();
  });
});
