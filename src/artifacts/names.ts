/**
 * The names in an artifact, as the action's rules need them: what a file kept in an artifact may
 * be called, and which names read back from one can be trusted to stand for one file each. Pure.
 */
import * as path from 'node:path';
import { INVALID_ARTIFACT_NAME_CHARACTERS } from '../action/naming.js';

/**
 * Characters @actions/artifact refuses in the path of a file it uploads: NTFS cannot hold them,
 * so actions/download-artifact could not write the file on a Windows runner.
 */
export const INVALID_FILE_PATH_CHARACTERS: readonly string[] =
  INVALID_ARTIFACT_NAME_CHARACTERS.filter((c) => c !== '/' && c !== '\\');

const SHOWN: Readonly<Record<string, string>> = {
  '"': 'a double quote',
  ':': 'a colon',
  '<': 'a less-than sign',
  '>': 'a greater-than sign',
  '|': 'a vertical bar',
  '*': 'an asterisk',
  '?': 'a question mark',
  '\r': 'a carriage return',
  '\n': 'a line feed'
};

/**
 * Why a one-host step's script file cannot go into its artifact (its name holds a character
 * artifacts refuse), found before any request; undefined when it can. A batch names its files
 * after the keys, encoded, so only a one-host step's own file name can hold one.
 */
export function scriptFileProblem(config: {
  readonly uploadArtifact: boolean;
  readonly scriptPath: string;
  readonly batch: boolean;
}): string | undefined {
  if (!config.uploadArtifact || config.batch) return undefined;
  const name = path.basename(config.scriptPath);
  const bad = INVALID_FILE_PATH_CHARACTERS.find((c) => name.includes(c));
  if (bad === undefined) return undefined;
  return `Input 'script-path' names the file ${JSON.stringify(name)}, which holds ${SHOWN[bad] ?? JSON.stringify(bad)}: artifacts refuse such names, because actions/download-artifact could not write the file on a Windows runner. Nothing was sent. Give script-path a file name without ${INVALID_FILE_PATH_CHARACTERS.filter((c) => c !== '\r' && c !== '\n').join(' ')} or line breaks, or set upload-artifact: false.`;
}

/**
 * Refuses the names of an artifact's files unless each stands for a file of its own wherever it
 * is unpacked: no name that leaves the folder or that the unzipper rewrote (its `..` read as `.`),
 * and no two that unpack to one file, on any file system or on a case-insensitive one (macOS,
 * Windows). Readers disagree on which of two such copies wins, so an artifact holding this
 * host's script as one and another host's as the other must never pass for this host's.
 */
export function checkFileNames(names: readonly string[]): void {
  const seen = new Map<string, string>();
  for (const name of names) {
    const parts = name.split(/[\\/]/);
    if (
      name.includes('\0') ||
      name.includes('\\') ||
      path.posix.isAbsolute(name) ||
      parts.some((p) => p === '' || p === '.' || p === '..')
    ) {
      throw new Error(
        `the artifact holds a file named ${JSON.stringify(name)}, which cannot be unpacked safely`
      );
    }
    const folded = name.normalize('NFC').toLowerCase();
    const earlier = seen.get(folded);
    if (earlier !== undefined) {
      throw new Error(
        earlier === name
          ? `the artifact holds ${JSON.stringify(name)} more than once, and readers disagree on which copy wins`
          : `the artifact holds ${JSON.stringify(earlier)} and ${JSON.stringify(name)}, which a case-insensitive file system (macOS, Windows) unpacks to one file`
      );
    }
    seen.set(folded, name);
  }
}
