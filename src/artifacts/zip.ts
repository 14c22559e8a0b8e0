/**
 * Zip archives in memory, as artifacts hold them: written with deflate, read from the central
 * directory. An artifact here holds a few scripts and a report, so no streaming and no zip64:
 * both directions refuse what does not fit in plain zip. Pure: bytes in, bytes out.
 */
import * as zlib from 'node:zlib';

export interface ZipEntry {
  /** The path inside the archive, with forward slashes. */
  readonly name: string;
  readonly data: Buffer;
}

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
/** Bit 11: the name is UTF-8. */
const UTF8_NAMES = 0x0800;
const DEFLATE = 8;
const STORE = 0;
/** What plain zip can count: sizes and offsets are 32-bit, entry counts 16-bit. */
const MAX_ZIP_BYTES = 0xffff_fffe;
const MAX_ENTRIES = 0xfffe;

/** The zip of the entries, each deflated at level 6 (what actions/upload-artifact uses). */
export function zip(entries: readonly ZipEntry[], now: Date = new Date()): Buffer {
  if (entries.length > MAX_ENTRIES) throw new Error(`too many files for a zip (${entries.length})`);
  const { time, date } = dosDateTime(now);
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const compressed = zlib.deflateRawSync(entry.data, { level: 6 });
    const crc = zlib.crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL_HEADER, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(UTF8_NAMES, 6);
    local.writeUInt16LE(DEFLATE, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(CENTRAL_HEADER, 0);
    header.writeUInt16LE((3 << 8) | 20, 4); // made on Unix, so the mode below is read
    local.copy(header, 6, 4, 26);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    header.writeUInt32LE(offset, 42);
    parts.push(local, name, compressed);
    central.push(header, name);
    offset += local.length + name.length + compressed.length;
    if (offset > MAX_ZIP_BYTES) throw new Error('the files are too large for a zip (over 4 GiB)');
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}

/**
 * The files of a zip, by name (directories left out), as far as `maxBytes` of content in all:
 * a small archive may inflate to gigabytes. Refuses what it cannot read faithfully: zip64,
 * encryption, methods other than store and deflate, a CRC that does not match, two entries
 * that unpack to the same file.
 */
export function unzip(archive: Buffer, maxBytes: number): Map<string, Buffer> {
  const end = findEndOfCentralDirectory(archive);
  const count = archive.readUInt16LE(end + 10);
  const centralSize = archive.readUInt32LE(end + 12);
  let at = archive.readUInt32LE(end + 16);
  if (count === 0xffff || at === 0xffff_ffff || at + centralSize > end) {
    throw new Error('the zip uses zip64 or its central directory is out of place');
  }
  const files = new Map<string, Buffer>();
  const seen = new Set<string>();
  let total = 0;
  for (let i = 0; i < count; i++) {
    need(archive, at, 46);
    if (archive.readUInt32LE(at) !== CENTRAL_HEADER) throw new Error('the zip is damaged');
    const flags = archive.readUInt16LE(at + 8);
    const method = archive.readUInt16LE(at + 10);
    const crc = archive.readUInt32LE(at + 16);
    const compressedSize = archive.readUInt32LE(at + 20);
    const size = archive.readUInt32LE(at + 24);
    const nameLength = archive.readUInt16LE(at + 28);
    const skip = nameLength + archive.readUInt16LE(at + 30) + archive.readUInt16LE(at + 32);
    const localAt = archive.readUInt32LE(at + 42);
    need(archive, at + 46, nameLength);
    const name = archive.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + skip;
    if (name.endsWith('/')) continue;
    // Two entries that unpack to one file: which of them a reader keeps is the reader's choice
    // (this Map would keep the last, many unzip tools the first), so what was compared could be
    // another than what is downloaded. Such a zip is not "the same" as any set of files.
    const unpacked = unpackedPath(name);
    if (seen.has(unpacked)) {
      throw new Error(`the zip holds '${name}' more than once`);
    }
    seen.add(unpacked);
    if (flags & 1) throw new Error(`'${name}' in the zip is encrypted`);
    if (method !== STORE && method !== DEFLATE) {
      throw new Error(`'${name}' in the zip uses compression method ${method}`);
    }
    total += size;
    if (total > maxBytes) throw new Error(`the zip holds more than ${maxBytes} bytes`);
    need(archive, localAt, 30);
    if (archive.readUInt32LE(localAt) !== LOCAL_HEADER) throw new Error('the zip is damaged');
    const dataAt =
      localAt + 30 + archive.readUInt16LE(localAt + 26) + archive.readUInt16LE(localAt + 28);
    need(archive, dataAt, compressedSize);
    const stored = archive.subarray(dataAt, dataAt + compressedSize);
    const data =
      method === STORE
        ? Buffer.from(stored)
        : zlib.inflateRawSync(stored, { maxOutputLength: Math.max(1, size) });
    if (data.length !== size || zlib.crc32(data) !== crc) {
      throw new Error(`'${name}' in the zip does not match its recorded size and checksum`);
    }
    files.set(name, data);
  }
  return files;
}

/** The file an entry unpacks to: either slash separates, and `.` and empty parts name nothing. */
function unpackedPath(name: string): string {
  return name
    .split(/[\\/]/)
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}

function findEndOfCentralDirectory(archive: Buffer): number {
  // The record is 22 bytes and may be followed by a comment of up to 64 KiB.
  const earliest = Math.max(0, archive.length - 22 - 0xffff);
  for (let at = archive.length - 22; at >= earliest; at--) {
    if (archive.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) return at;
  }
  throw new Error('not a zip archive');
}

function need(archive: Buffer, at: number, length: number): void {
  if (at + length > archive.length) throw new Error('the zip is cut short');
}

/** MS-DOS date and time, as zip records them (local time, two-second steps, from 1980). */
function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getFullYear());
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate()
  };
}
