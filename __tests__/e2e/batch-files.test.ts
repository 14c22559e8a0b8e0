// The files a batch keeps its scripts in, as a macOS or Windows runner's file system sees them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  defaultState,
  startImmutaStandIn,
  type ImmutaStandIn as StandIn,
  type State
} from '../support/immuta-stand-in.mjs';
import {
  startArtifactService,
  startAzurite,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';
import { unzip } from '../support/unzip.js';

let immuta: StandIn | undefined;
afterEach(async () => {
  await immuta?.close();
  immuta = undefined;
});

/** Keys that differ only by case or by Unicode normalisation, each with a script of its own. */
const KEYS = ['Snow', 'snow', 'SNOW', 'caf\u00e9', 'cafe\u0301'];
const scriptOf = (i: number) => `-- cleanup of host ${i}\nDROP ROLE R${i};\n`;

function foldingState(): State {
  const state: State = { hosts: {}, integrations: {} };
  const base = defaultState().hosts['snowflake-prod']!;
  KEYS.forEach((key, i) => {
    state.hosts[key] = { ...base, nativeIntegrationId: 100 + i, childCount: 1 };
    state.integrations[100 + i] = { status: 'enabled', type: 'Snowflake', script: scriptOf(i) };
  });
  return state;
}

/** A name as a case-insensitive, normalisation-insensitive file system (APFS, NTFS) compares it. */
const folded = (name: string) => name.normalize('NFC').toLowerCase();

describe('batch script files', () => {
  let azurite: Azurite;
  beforeAll(async () => (azurite = await startAzurite()), 60_000);
  afterAll(async () => azurite?.stop());

  it('keys that differ only by case or normalisation get files apart on every runner OS, each its own script', async () => {
    immuta = await startImmutaStandIn({ state: foldingState() });
    const service = await startArtifactService({ azurite });
    try {
      const run = await runAction({
        inputs: stepInputs(immuta, {
          'connection-key': KEYS.join('\n'),
          'upload-artifact': 'true',
          'dry-run': 'true'
        }),
        env: service.env()
      });
      expect(run.code).toBe(0);
      const report = JSON.parse(await fs.readFile(run.outputs['report-path']!, 'utf8'));
      const names: string[] = report.hosts.map((h: { scriptFile: string }) => h.scriptFile);
      expect(new Set(names.map(folded)).size).toBe(KEYS.length);
      // Readable: the key is in its file's name.
      expect(names[0]).toMatch(/^immuta-cleanup-Snow~[0-9a-f]{12}\.sql$/);
      expect(names[1]).toBe('immuta-cleanup-snow.sql');

      const folder = run.outputs['script-path']!;
      const files = unzip((await service.zipOf(run.outputs['artifact-name']!))!);
      for (const [i, name] of names.entries()) {
        expect(await fs.readFile(path.join(folder, name), 'utf8')).toBe(scriptOf(i));
        expect(files.get(name)!.toString()).toBe(scriptOf(i));
      }
      const zipped = [...files.keys()].filter((n) => n.endsWith('.sql'));
      expect(new Set(zipped.map(folded)).size).toBe(KEYS.length);

      // A re-run finds the same files under the same names.
      const again = await runAction({
        inputs: stepInputs(immuta, { 'connection-key': KEYS.join('\n'), 'dry-run': 'true' })
      });
      const reportAgain = JSON.parse(await fs.readFile(again.outputs['report-path']!, 'utf8'));
      expect(reportAgain.hosts.map((h: { scriptFile: string }) => h.scriptFile)).toEqual(names);
    } finally {
      await service.close();
    }
  });
});
