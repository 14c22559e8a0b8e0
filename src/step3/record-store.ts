/**
 * The records of step 3 in the run's artifacts: each written as an artifact of its own (an
 * artifact cannot change), and read back by a later attempt, which lists the run's artifacts
 * and reads only the newest record of this host's script run. A record is believed only when
 * what it says inside (tenant, job, key, script, attempt, place) is what its name says.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ArtifactClient } from '../artifacts/client.js';
import { DamagedArtifact } from '../artifacts/damaged.js';
import { errorText } from '../action/error-text.js';
import type { Recorder } from './executor.js';
import {
  parseRecord,
  recordName,
  recordPlace,
  recordPrefix,
  RECORD_KIND,
  serializeRecord,
  type RecordIdentity,
  type Step3Record
} from './record.js';

/** A record is a few kilobytes; anything far larger is not one. */
const MAX_RECORD_ARTIFACT_BYTES = 1024 * 1024;

/**
 * A record of this script run that cannot be read or believed: nothing runs on a guess.
 * `damaged` when it was read and is not what was kept, which a re-run does not repair.
 */
export class UnreadableRecords extends Error {
  constructor(
    message: string,
    readonly damaged: boolean
  ) {
    super(message);
  }
}

/**
 * The newest record an earlier attempt (before `attempt`) wrote for this identity, or undefined
 * when there is none. Throws UnreadableRecords when the artifacts cannot be listed, or the
 * newest cannot be downloaded or believed.
 */
export async function newestRecord(
  client: ArtifactClient,
  identity: RecordIdentity,
  attempt: number
): Promise<Step3Record | undefined> {
  const prefix = recordPrefix(identity);
  let listed;
  try {
    listed = await client.list();
  } catch (error) {
    throw new UnreadableRecords(`listing the run's artifacts failed: ${errorText(error)}`, false);
  }
  const ours = listed
    .map((artifact) => ({ artifact, place: recordPlace(artifact.name, prefix) }))
    .filter((r) => r.place !== undefined && r.place.attempt < attempt)
    .sort((a, b) => b.place!.attempt - a.place!.attempt || b.place!.sequence - a.place!.sequence);
  const newest = ours[0];
  if (newest === undefined) return undefined;
  const { artifact, place } = newest;
  const from = `artifact '${artifact.name}' (ID ${artifact.id})`;
  if (artifact.size > MAX_RECORD_ARTIFACT_BYTES) {
    throw new UnreadableRecords(`${from} is far larger than a record of step 3`, true);
  }
  let files: Map<string, Buffer>;
  try {
    files = await client.files(artifact);
  } catch (error) {
    throw new UnreadableRecords(
      `downloading ${from} failed: ${errorText(error)}`,
      error instanceof DamagedArtifact
    );
  }
  const texts = [...files.values()];
  const record = texts.length === 1 ? parseRecord(texts[0]!.toString('utf8')) : undefined;
  if (record === undefined) {
    throw new UnreadableRecords(
      `${from} does not hold one record of step 3 (${RECORD_KIND})`,
      true
    );
  }
  const differs = (
    [
      'tenant',
      'job',
      'connectionKey',
      'platform',
      'runId',
      'scriptArtifact',
      'scriptSha256'
    ] as const
  ).find((field) => record[field] !== identity[field]);
  if (
    differs !== undefined ||
    record.attempt !== place!.attempt ||
    record.sequence !== place!.sequence
  ) {
    throw new UnreadableRecords(
      `${from} says it is the record of ${differs ? `another ${differs}` : `attempt ${record.attempt}, record ${record.sequence}`}, not what its name says`,
      true
    );
  }
  return record;
}

/**
 * Writes this attempt's records, each as its own artifact, numbered from 0. An upload that fails
 * is looked for once: one whose answer was lost may have been kept all the same.
 */
export function recordWriter(options: {
  readonly client: ArtifactClient;
  readonly identity: RecordIdentity;
  readonly origin: number;
  readonly attempt: number;
  /** The record's file name inside each artifact (its folder is taken as the file's). */
  readonly file: string;
  /** Where each record is written before its upload, in a folder of its own (RUNNER_TEMP). */
  readonly scratch: string;
  readonly retentionDays: number | undefined;
  readonly log: { info(message: string): void };
}): Recorder {
  const { client, identity, origin, attempt, file, retentionDays, log } = options;
  let sequence = 0;
  let root: Promise<string> | undefined;
  return {
    async write(event, stop, statements) {
      const record: Step3Record = {
        kind: RECORD_KIND,
        version: 1,
        ...identity,
        origin,
        attempt,
        // Taken before the upload: one given up on (or whose answer was lost) may still create
        // its artifact, and a later record never reuses its name.
        sequence: sequence++,
        event,
        stop,
        statements,
        writtenAt: new Date().toISOString()
      };
      const name = recordName(identity, attempt, record.sequence);
      const text = serializeRecord(record);
      // A file of its own: an upload given up on may still be reading the one before.
      root ??= fs.mkdtemp(path.join(options.scratch, 'immuta-step3-records-'));
      const folder = path.join(await root, String(record.sequence));
      const own = path.join(folder, path.basename(file));
      await fs.mkdir(folder, { mode: 0o700 });
      await fs.writeFile(own, text, { encoding: 'utf8', mode: 0o600 });
      try {
        const { id } = await client.upload(name, [own], folder, retentionDays);
        log.info(`Recorded step 3 as artifact '${name}' (ID ${id}).`);
      } catch (error) {
        if (!(await holds(client, name, text))) {
          throw new Error(`uploading artifact '${name}' failed: ${errorText(error)}`, {
            cause: error
          });
        }
      }
    }
  };
}

/** Whether the run holds an artifact of this name with exactly this record in it. */
async function holds(client: ArtifactClient, name: string, text: string): Promise<boolean> {
  try {
    const found = await client.find(name);
    if (found === undefined || found.size > MAX_RECORD_ARTIFACT_BYTES) return false;
    const files = [...(await client.files(found)).values()];
    return files.length === 1 && files[0]!.toString('utf8') === text;
  } catch {
    return false;
  }
}
