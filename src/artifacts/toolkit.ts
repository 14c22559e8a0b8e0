/**
 * The packages behind the artifact client, in a module of their own: client.ts imports it
 * dynamically, so ncc bundles @actions/artifact (with the Azure SDK and Octokit it brings) in a
 * chunk that only a step using artifacts loads.
 */
import { createReadStream } from 'node:fs';
import * as unzip from 'unzip-stream';

export { DefaultArtifactClient } from '@actions/artifact';

export interface ArtifactFile {
  /** The path inside the archive, as the unzipper reads it. */
  readonly name: string;
  readonly data: Buffer;
}

/**
 * The files of a downloaded artifact, read with unzip-stream, the reader actions/download-artifact
 * unpacks artifacts with, into memory and no further than `maxBytes` of content in all (a small
 * archive may inflate to gigabytes). Undefined when the download is not a zip at all: since
 * @actions/artifact 6.1.0 an artifact may be one file sent as it is.
 */
export function zipEntries(file: string, maxBytes: number): Promise<ArtifactFile[] | undefined> {
  return new Promise((resolve, reject) => {
    const source = createReadStream(file);
    const parser = unzip.Parse();
    const files: Promise<ArtifactFile>[] = [];
    let total = 0;
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      source.destroy();
      reject(error);
    };
    parser.on('entry', (entry: unzip.Entry) => {
      if (entry.type === 'Directory') {
        entry.autodrain();
        return;
      }
      const chunks: Buffer[] = [];
      files.push(
        new Promise((done) => {
          entry.on('data', (chunk: Buffer) => {
            total += chunk.length;
            if (total > maxBytes) fail(new Error(`its files hold more than ${maxBytes} bytes`));
            else chunks.push(chunk);
          });
          entry.on('end', () => done({ name: entry.path, data: Buffer.concat(chunks) }));
          entry.on('error', fail);
        })
      );
    });
    parser.on('error', (error: Error) => {
      // unzip-stream's word for a stream whose first bytes are no zip signature.
      if (error.message === 'Not a valid zip file' && files.length === 0 && !settled) {
        settled = true;
        source.destroy();
        resolve(undefined);
      } else fail(error);
    });
    parser.on('close', () => {
      Promise.all(files).then((read) => {
        if (settled) return;
        settled = true;
        resolve(read);
      }, fail);
    });
    source.on('error', fail);
    source.pipe(parser);
  });
}
