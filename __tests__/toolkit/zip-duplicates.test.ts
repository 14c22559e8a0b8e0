// A zip may name one file twice. Readers disagree on which copy wins (the last for a map, the
// first for many unzip tools), so an artifact holding this host's script as one copy and another
// host's as the other must never pass for "the same scripts" and be replaced.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import { unzip, zip } from '../../src/artifacts/zip.js';
import {
  snowflakeScript,
  startImmutaStandIn,
  type ImmutaStandIn
} from '../support/immuta-stand-in.mjs';
import {
  startArtifactService,
  startAzurite,
  type ArtifactService,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';

const NAME = 'immuta-cleanup-script-snowflake-prod';
const FILE = 'immuta-cleanup-snowflake-prod.sql';
const ours = Buffer.from(snowflakeScript(1));
const theirs = Buffer.from('-- another host\nDROP DATABASE IMMUTA_OTHER;\n');

describe('unzip', () => {
  it.each([
    ['the same name', FILE, FILE],
    ['a name with ./ in it', FILE, `./${FILE}`],
    ['a backslash for the slash', `scripts/${FILE}`, `scripts\\${FILE}`],
    ['a doubled slash', `scripts/${FILE}`, `scripts//${FILE}`]
  ])('refuses two entries that unpack to one file (%s)', (_, first, second) => {
    const archive = zip([
      { name: first, data: theirs },
      { name: second, data: ours }
    ]);
    expect(() => unzip(archive, 1024 * 1024)).toThrow(`the zip holds '${second}' more than once`);
  });

  it('still reads files of one name in different folders', () => {
    const archive = zip([
      { name: `a/${FILE}`, data: theirs },
      { name: `b/${FILE}`, data: ours }
    ]);
    const files = unzip(archive, 1024 * 1024);
    expect(files.get(`a/${FILE}`)).toEqual(theirs);
    expect(files.get(`b/${FILE}`)).toEqual(ours);
  });
});

describe('an earlier artifact of this name holding the script twice', () => {
  let azurite: Azurite;
  let immuta: ImmutaStandIn | undefined;
  let service: ArtifactService | undefined;
  beforeAll(async () => (azurite = await startAzurite()), 60_000);
  afterAll(async () => azurite?.stop());
  afterEach(async () => {
    await immuta?.close();
    await service?.close();
    immuta = service = undefined;
  });

  it.each([
    ['another host’s copy first, this one’s last', [theirs, ours]],
    ['this one’s first, another host’s last', [ours, theirs]]
  ])(
    'is not taken for this step’s (%s): left in place, nothing deleted',
    async (_, [first, second]) => {
      immuta = await startImmutaStandIn();
      service = await startArtifactService({ azurite });
      const planted = zip([
        { name: FILE, data: first! },
        { name: FILE, data: second! }
      ]);
      const id = await service.plant(NAME, planted);
      const run = await runAction({
        inputs: stepInputs(immuta, { 'upload-artifact': 'true' }),
        env: service.env()
      });
      expect(run.code).toBe(1);
      expect(run.errors.at(-1)).toMatch(
        new RegExp(`artifact ${id} could not be unpacked: the zip holds '${FILE}' more than once`)
      );
      expect(run.errors.at(-1)).toMatch(/Nothing was deleted; the script is saved at/);
      expect(immuta.sent('DELETE')).toHaveLength(0);
      expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
      expect((await service.zipOf(NAME))?.equals(planted)).toBe(true);
      expect(await fs.readFile(run.outputs['script-path']!)).toEqual(ours);
    }
  );
});
