import { describe, expect, it, jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import * as path from 'node:path';

jest.unstable_mockModule('../../src/action/runner.js', () => ({
  setOutput: () => undefined,
  info: () => undefined,
  warning: () => undefined
}));
const { checkKept, KeptScriptChanged } = await import('../../src/flow/keep-script.js');
const { scriptFileNameFor } = await import('../../src/action/naming.js');

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** A folder as macOS's APFS or Windows' NTFS keeps it: names compared ignoring case and form. */
function foldingFolder() {
  const files = new Map<string, Buffer>();
  const fold = (file: string) => file.normalize('NFC').toLowerCase();
  return {
    write: (file: string, text: string) => files.set(fold(file), Buffer.from(text)),
    read: async (file: string) => {
      const bytes = files.get(fold(file));
      if (bytes === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return bytes;
    }
  };
}

describe('kept scripts on a case-insensitive file system', () => {
  const scripts: [string, string][] = [
    ['Snow', 'DROP ROLE A;\n'],
    ['snow', 'DROP ROLE B;\n'],
    ['caf\u00e9', 'DROP ROLE C;\n'],
    ['cafe\u0301', 'DROP ROLE D;\n']
  ];

  it("each key's file, written one after the other, still holds that key's script", async () => {
    const folder = foldingFolder();
    const expected = new Map<string, string>();
    for (const [key, script] of scripts) {
      const file = path.join('/runner/temp', scriptFileNameFor(key));
      folder.write(file, script);
      expected.set(file, sha(script));
    }
    const read = await checkKept(expected, folder.read);
    expect([...read.values()].map((b) => b.toString())).toEqual(scripts.map(([, s]) => s));
  });

  it('a file overwritten by another key is caught before anything is uploaded or deleted', async () => {
    const folder = foldingFolder();
    // Two names that fold together, as keys named by their text alone would.
    folder.write('/runner/temp/immuta-cleanup-Snow.sql', 'DROP ROLE A;\n');
    folder.write('/runner/temp/immuta-cleanup-snow.sql', 'DROP ROLE B;\n');
    const check = checkKept(
      new Map([
        ['/runner/temp/immuta-cleanup-Snow.sql', sha('DROP ROLE A;\n')],
        ['/runner/temp/immuta-cleanup-snow.sql', sha('DROP ROLE B;\n')]
      ]),
      folder.read
    );
    await expect(check).rejects.toThrow(KeptScriptChanged);
    await expect(check).rejects.toThrow(
      /^The kept script \/runner\/temp\/immuta-cleanup-Snow\.sql is not what Immuta sent .*Nothing was deleted\./
    );
  });

  it('a file that cannot be read back stops the run too', async () => {
    await expect(
      checkKept(new Map([['/gone.sql', sha('x')]]), foldingFolder().read)
    ).rejects.toThrow(/cannot be read back \(ENOENT\)/);
  });
});
