import { describe, expect, it } from '@jest/globals';
import * as zlib from 'node:zlib';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { unzip, zip } from '../../src/artifacts/zip.js';
import { backendIdsFrom } from '../../src/artifacts/results-service.js';
import { createArtifactClient, expiry } from '../../src/artifacts/client.js';
import { Secrets } from '../../src/action/secrets.js';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { scratchDir } from '../support/run-action.mjs';
import { runtimeToken } from '../support/artifact-service-stand-in.mjs';

const script = Buffer.from('-- cleanup\nDROP ROLE IF EXISTS "IMMUTA_SYSTEM";\n'.repeat(50));

describe('zip', () => {
  it('reads back what it wrote, byte for byte: names in UTF-8, empty and binary files, files in folders', () => {
    const entries = [
      { name: 'immuta-cleanup-snowflake-prod.sql', data: script },
      { name: 'rapport-été.report.json', data: Buffer.from('{"ok":true}') },
      { name: 'empty.sql', data: Buffer.alloc(0) },
      { name: 'nested/bytes.bin', data: Buffer.from([0, 255, 1, 254, 10, 13]) }
    ];
    const archive = zip(entries);
    expect(archive.length).toBeLessThan(script.length);
    const read = unzip(archive, 1024 * 1024);
    expect([...read.keys()]).toEqual(entries.map((e) => e.name));
    for (const e of entries) expect(read.get(e.name)!.equals(e.data)).toBe(true);
  });

  /** One stored entry, with its fields open to change. */
  function storedZip(
    data: Buffer,
    { method = 0, flags = 0x0800, size = data.length, crc = zlib.crc32(data) } = {}
  ) {
    // Laid out by hand: local header, name, data, central directory entry, name, end record.
    const name = Buffer.from('a.sql');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    local.copy(central, 6, 4, 26);
    central.writeUInt16LE(name.length, 28);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(1, 8);
    end.writeUInt16LE(1, 10);
    end.writeUInt32LE(46 + name.length, 12);
    end.writeUInt32LE(30 + name.length + data.length, 16);
    return Buffer.concat([local, name, data, central, name, end]);
  }

  it('reads a stored entry, and refuses one whose checksum does not match', () => {
    expect(
      unzip(storedZip(Buffer.from('ok')), 100)
        .get('a.sql')!
        .toString()
    ).toBe('ok');
    expect(() => unzip(storedZip(Buffer.from('ok'), { crc: 1 }), 100)).toThrow(
      /does not match its recorded size and checksum/
    );
  });

  it('refuses encryption and compression methods it cannot read', () => {
    expect(() => unzip(storedZip(Buffer.from('x'), { flags: 1 }), 100)).toThrow(/encrypted/);
    expect(() => unzip(storedZip(Buffer.from('x'), { method: 12 }), 100)).toThrow(/method 12/);
  });

  it('refuses a zip bomb, whether its sizes tell the truth or not', () => {
    const big = Buffer.alloc(4 * 1024 * 1024);
    const honest = zip([{ name: 'bomb.sql', data: big }]);
    expect(honest.length).toBeLessThan(10_000);
    expect(() => unzip(honest, 1024 * 1024)).toThrow(/more than 1048576 bytes/);
    // The same data recorded as 10 bytes: inflating stops there instead of at 4 MiB.
    const deflated = zlib.deflateRawSync(big);
    const liar = storedZip(deflated, { method: 8, size: 10, crc: zlib.crc32(big.subarray(0, 10)) });
    expect(() => unzip(liar, 1024 * 1024)).toThrow(/larger than 10 bytes/);
  });

  it('refuses what is not a whole zip', () => {
    const archive = zip([{ name: 'a.sql', data: script }]);
    expect(() => unzip(Buffer.from('<html>blocked</html>'), 100)).toThrow(/not a zip/);
    expect(() => unzip(archive.subarray(100), 1024 * 1024)).toThrow(/cut short|damaged|zip64/);
    expect(() => unzip(Buffer.alloc(0), 100)).toThrow(/not a zip/);
  });
});

describe('the runtime token', () => {
  it('names the run and job the artifact service files artifacts under', () => {
    expect(backendIdsFrom(runtimeToken('run-1', 'job-2'))).toEqual({
      workflow_run_backend_id: 'run-1',
      workflow_job_run_backend_id: 'job-2'
    });
  });

  it.each([
    ['not a JWT', 'opaque-token'],
    ['a payload that is not JSON', 'a.bm90IGpzb24.c'],
    ['no scp claim', `a.${Buffer.from('{"sub":"x"}').toString('base64url')}.c`],
    [
      'no Actions.Results scope',
      `a.${Buffer.from('{"scp":"Actions.GenericRead"}').toString('base64url')}.c`
    ],
    [
      'a scope without a job',
      `a.${Buffer.from('{"scp":"Actions.Results:run"}').toString('base64url')}.c`
    ]
  ])('is refused with %s, saying only a runner provides one', (_, token) => {
    expect(() => backendIdsFrom(token)).toThrow(/does not name the workflow run and job/);
  });
});

describe('retention', () => {
  const now = new Date('2026-11-26T12:00:00Z');

  it('leaves the repository default when no days are given', () => {
    expect(expiry(undefined, {}, now, () => undefined)).toBeUndefined();
  });

  it('counts the days from now, capped by the repository limit with a warning', () => {
    const warnings: string[] = [];
    expect(expiry(7, {}, now, (w) => warnings.push(w))).toBe('2026-12-03T12:00:00.000Z');
    expect(warnings).toEqual([]);
    expect(expiry(30, { GITHUB_RETENTION_DAYS: '5' }, now, (w) => warnings.push(w))).toBe(
      '2026-12-01T12:00:00.000Z'
    );
    expect(warnings).toEqual([expect.stringContaining('Using 5 instead')]);
  });
});

/**
 * The client over a transport that records each request and answers with `answer` (JSON, 200),
 * or with a body that never ends ('endless'), or fails as no network would when there is none.
 */
function clientOver(
  resultsUrl: string,
  answer?: object | 'endless',
  { maxUploadBytes, rpcTimeoutMs }: { maxUploadBytes?: number; rpcTimeoutMs?: number } = {}
) {
  const sent: string[] = [];
  const client = createArtifactClient({
    env: { ACTIONS_RUNTIME_TOKEN: runtimeToken(), ACTIONS_RESULTS_URL: resultsUrl },
    transport: {
      request: async (url, init) => {
        sent.push(`${init.method} ${url.href}`);
        if (!answer) throw new Error('no network in this test');
        const body =
          answer === 'endless'
            ? new Readable({ read: () => undefined })
            : Readable.from([Buffer.from(JSON.stringify(answer))]);
        init.signal.addEventListener('abort', () => body.destroy(new Error('aborted')));
        return Object.assign(body, {
          statusCode: 200,
          headers: { 'content-type': 'application/json' }
        }) as unknown as IncomingMessage;
      },
      close: () => undefined
    },
    secrets: new Secrets(() => undefined),
    log: { debug: () => undefined, info: () => undefined, warning: () => undefined },
    maxUploadBytes,
    rpcTimeoutMs
  });
  return { client, sent };
}

describe('an upload too large to zip in memory', () => {
  it('is refused before any request, saying how large it is and what to do', async () => {
    const dir = await fs.mkdtemp(path.join(scratchDir(), 'large-'));
    const files = [path.join(dir, 'a.sql'), path.join(dir, 'b.sql')];
    for (const file of files) await fs.writeFile(file, Buffer.alloc(1024, 'x'));
    const { client, sent } = clientOver('http://127.0.0.1:9/', undefined, { maxUploadBytes: 1500 });
    await expect(client.upload('big', files, dir)).rejects.toThrow(
      /the files to upload hold 2 KiB, more than the 1\.5 KiB one artifact of this action may hold; split the batch/
    );
    expect(sent).toEqual([]);
  });
});

describe('a blob URL that is not https when the service is', () => {
  it('gets no script: the upload stops before sending it', async () => {
    const dir = await fs.mkdtemp(path.join(scratchDir(), 'downgrade-'));
    const file = path.join(dir, 'a.sql');
    await fs.writeFile(file, 'DROP ROLE R;\n');
    const { client, sent } = clientOver('https://results-receiver.actions.githubusercontent.com/', {
      ok: true,
      signed_upload_url: 'http://blob.example/a.zip?sig=abc'
    });
    await expect(client.upload('a', [file], dir)).rejects.toThrow(
      /CreateArtifact answered with a blob URL over http, not https; the script is not sent there/
    );
    expect(sent).toEqual([
      'POST https://results-receiver.actions.githubusercontent.com/twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact'
    ]);
  });
});

describe('a results service that never finishes its answer', () => {
  it('is given up on after the call timeout, and CreateArtifact is not sent again', async () => {
    const dir = await fs.mkdtemp(path.join(scratchDir(), 'endless-'));
    const file = path.join(dir, 'a.sql');
    await fs.writeFile(file, 'DROP ROLE R;\n');
    const { client, sent } = clientOver('http://127.0.0.1:9/', 'endless', { rpcTimeoutMs: 200 });
    await expect(client.upload('a', [file], dir)).rejects.toThrow(
      'Failed to CreateArtifact: got no response from the results service at http://127.0.0.1:9 (timed out after 0.2 s)'
    );
    expect(sent).toHaveLength(1);
  });
});
