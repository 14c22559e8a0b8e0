// The action's artifact client (src/artifacts/) held to @actions/artifact, the client
// actions/upload-artifact and actions/download-artifact use: for each call the action makes,
// the request each client sends for the same operation, as the results-service stand-in records
// it, compared field by field. A release of @actions/artifact that changes the protocol (a field,
// `version`, `mime_type`, the expiry) turns this red. Then what the action adds: the listed
// digest checked on reading back, and its versioned User-Agent on every request.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import {
  startArtifactService,
  startAzurite,
  type ArtifactService,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { runAction, scratchDir } from '../support/run-action.mjs';
import { snowflakeScript, startImmutaStandIn } from '../support/immuta-stand-in.mjs';
import { stepInputs } from '../support/inputs.js';
import { createArtifactClient, type ArtifactClient } from '../../src/artifacts/client.js';
import { zip } from '../../src/artifacts/zip.js';
import { createTransport, type Transport } from '../../src/http/transport.js';
import { Secrets } from '../../src/action/secrets.js';
import { USER_AGENT } from '../../src/action/version.js';

const NAME = 'immuta-cleanup-script-snowflake-prod';
const FILE = 'immuta-cleanup-snowflake-prod.sql';
const SCRIPT = '-- cleanup\nDROP ROLE IF EXISTS "IMMUTA_SYSTEM";\n';
const DAY = 24 * 3600_000;
const ROOT = path.join(import.meta.dirname, '..', '..');
const versionOf = (pkg: string): string =>
  JSON.parse(readFileSync(path.join(ROOT, pkg, 'package.json'), 'utf8')).version;
/** The installed release the action is held to; its User-Agent names it. */
const REFERENCE_VERSION = versionOf('node_modules/@actions/artifact');

let azurite: Azurite;
let service: ArtifactService | undefined;
let transport: Transport | undefined;
beforeAll(async () => (azurite = await startAzurite()), 60_000);
afterAll(async () => azurite?.stop());
afterEach(async () => {
  transport?.close();
  await service?.close();
  service = transport = undefined;
});

const quiet = { debug() {}, info() {}, warning() {} };

/** Every request the action's transport sends: where, and with which headers. */
const sent: { url: URL; headers: Record<string, string> }[] = [];

function ownClient(env: Record<string, string>): ArtifactClient {
  const real = createTransport({ caCertificate: undefined, env: {}, connectTimeoutMs: 10_000 });
  transport = {
    request(url, init) {
      sent.push({ url, headers: init.headers });
      return real.request(url, init);
    },
    close: () => real.close()
  };
  return createArtifactClient({ env, transport, secrets: new Secrets(() => {}), log: quiet });
}

/** Runs `work` with @actions/artifact pointed at the stand-in, as a later step's would be. */
async function asReference<T>(
  env: Record<string, string>,
  work: (c: DefaultArtifactClient) => Promise<T>
) {
  const saved = { ...process.env };
  Object.assign(process.env, env, { GITHUB_SERVER_URL: 'https://github.com' });
  try {
    return await work(new DefaultArtifactClient());
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

async function scriptFolder(): Promise<{ root: string; file: string }> {
  const root = await fs.mkdtemp(path.join(scratchDir(), 'artifact-protocol-'));
  const file = path.join(root, FILE);
  await fs.writeFile(file, SCRIPT);
  return { root, file };
}

type Call = ArtifactService['calls'][number];
const requestOf = (calls: Call[], method: string) => {
  const call = calls.find((c) => c.method === method);
  if (!call) throw new Error(`no ${method} among ${calls.map((c) => c.method).join(', ')}`);
  return call.request;
};
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Both clients do what the action does with an artifact: upload, find, read back, delete. */
async function bothClients(retentionDays: number | undefined, env: Record<string, string> = {}) {
  service = await startArtifactService({ azurite });
  const runEnv = { ...service.env(), ...env };
  const { root, file } = await scriptFolder();

  const own = ownClient(runEnv);
  const ownStarted = Date.now();
  await own.upload(NAME, [file], root, retentionDays);
  const ownBlob = (await service.zipOf(NAME))!;
  const found = (await own.find(NAME))!;
  const files = await own.files(found);
  await own.delete(found);
  const ownCalls = service.calls.splice(0);

  const out = await fs.mkdtemp(path.join(scratchDir(), 'artifact-download-'));
  const refStarted = Date.now();
  let refBlob: Buffer | undefined;
  await asReference(runEnv, async (client) => {
    await client.uploadArtifact(NAME, [file], root, { retentionDays });
    refBlob = await service!.zipOf(NAME);
    const { artifact } = await client.getArtifact(NAME);
    await client.downloadArtifact(artifact.id, { path: out, expectedHash: artifact.digest });
    await client.deleteArtifact(NAME);
  });
  const refCalls = service.calls.splice(0);
  expect(files.get(FILE)?.toString()).toBe(SCRIPT);
  expect(await fs.readFile(path.join(out, FILE), 'utf8')).toBe(SCRIPT);
  return { ownCalls, refCalls, ownBlob, refBlob: refBlob!, ownStarted, refStarted };
}

describe('the requests @actions/artifact sends for the same operations', () => {
  it('CreateArtifact: the same fields, version and mime_type; FinalizeArtifact: the same fields, each with its own zip’s size and sha256', async () => {
    const { ownCalls, refCalls, ownBlob, refBlob } = await bothClients(undefined);
    const own = requestOf(ownCalls, 'CreateArtifact');
    const ref = requestOf(refCalls, 'CreateArtifact');
    expect(own).toEqual(ref);
    expect(ref).toMatchObject({ version: 7, mime_type: 'application/zip', name: NAME });
    expect(Object.keys(ref).sort()).toEqual([
      'mime_type',
      'name',
      'version',
      'workflow_job_run_backend_id',
      'workflow_run_backend_id'
    ]);

    const ownFinal = requestOf(ownCalls, 'FinalizeArtifact');
    const refFinal = requestOf(refCalls, 'FinalizeArtifact');
    expect(Object.keys(ownFinal).sort()).toEqual(Object.keys(refFinal).sort());
    const apart = (request: Record<string, unknown>, ...names: string[]) =>
      Object.fromEntries(Object.entries(request).filter(([name]) => !names.includes(name)));
    expect(apart(ownFinal, 'size', 'hash')).toEqual(apart(refFinal, 'size', 'hash'));
    // The zips differ (other tools, other timestamps); each client states its own the same way.
    expect(ownFinal).toMatchObject({ size: String(ownBlob.length), hash: sha256(ownBlob) });
    expect(refFinal).toMatchObject({ size: String(refBlob.length), hash: sha256(refBlob) });
  });

  it.each<[string, number, string | undefined, number]>([
    ['retention-days within the repository’s limit', 5, '30', 5],
    ['retention-days past the repository’s limit: the limit', 90, '30', 30],
    ['no repository limit known', 14, undefined, 14]
  ])('expires_at: %s', async (_, days, limit, expectedDays) => {
    const env: Record<string, string> = limit ? { GITHUB_RETENTION_DAYS: limit } : {};
    const { ownCalls, refCalls, ownStarted, refStarted } = await bothClients(days, env);
    const own = requestOf(ownCalls, 'CreateArtifact');
    const ref = requestOf(refCalls, 'CreateArtifact');
    expect(Object.keys(own).sort()).toEqual(Object.keys(ref).sort());
    const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
    expect(own.expires_at).toMatch(RFC3339);
    expect(ref.expires_at).toMatch(RFC3339);
    // setDate on the local calendar: a DST change moves it by an hour at most.
    const near = (value: unknown, started: number) =>
      Math.abs(Date.parse(String(value)) - (started + expectedDays * DAY));
    expect(near(own.expires_at, ownStarted)).toBeLessThan(3600_000 + 60_000);
    expect(near(ref.expires_at, refStarted)).toBeLessThan(3600_000 + 60_000);
  });

  it('ListArtifacts by name, GetSignedArtifactURL and DeleteArtifact: the same requests', async () => {
    const { ownCalls, refCalls } = await bothClients(undefined);
    // @actions/artifact's getArtifact lists by name; its download by ID, which the action
    // never does: it reads the artifact it found by name.
    expect(requestOf(ownCalls, 'ListArtifacts')).toEqual(requestOf(refCalls, 'ListArtifacts'));
    expect(requestOf(ownCalls, 'ListArtifacts')).toHaveProperty('name_filter', NAME);
    for (const method of ['GetSignedArtifactURL', 'DeleteArtifact']) {
      expect(requestOf(ownCalls, method)).toEqual(requestOf(refCalls, method));
    }
    expect(ownCalls.map((c) => c.method)).toEqual([
      'CreateArtifact',
      'FinalizeArtifact',
      'ListArtifacts',
      'GetSignedArtifactURL',
      'DeleteArtifact'
    ]);
  });

  it('the same content type and authorization on every call; each its own versioned User-Agent', async () => {
    const { ownCalls, refCalls } = await bothClients(undefined);
    const header = (calls: Call[], name: string) => new Set(calls.map((c) => c.headers[name]));
    expect(header(ownCalls, 'content-type')).toEqual(header(refCalls, 'content-type'));
    expect(header(ownCalls, 'authorization')).toEqual(header(refCalls, 'authorization'));
    expect(header(refCalls, 'user-agent')).toEqual(
      new Set([`@actions/artifact-${REFERENCE_VERSION}`])
    );
    expect(header(ownCalls, 'user-agent')).toEqual(new Set([USER_AGENT]));
  });
});

describe('what the action adds', () => {
  it('a versioned User-Agent on every request it sends, blob transfers included', async () => {
    sent.length = 0;
    await bothClients(undefined);
    const blobs = sent.filter((r) => !r.url.pathname.startsWith('/twirp/'));
    expect(blobs.map((r) => r.headers['x-ms-version'] && r.url.pathname.endsWith('.zip'))).toEqual([
      true,
      true
    ]);
    expect(sent.length).toBeGreaterThanOrEqual(7);
    expect(new Set(sent.map((r) => r.headers['user-agent']))).toEqual(new Set([USER_AGENT]));
    expect(USER_AGENT).toBe(`immuta-deregister-host/${versionOf('.')}`);
  });

  it('reads the digest ListArtifacts gives, and refuses an artifact whose download does not match it', async () => {
    service = await startArtifactService({ azurite });
    const archive = zip([{ name: FILE, data: Buffer.from(SCRIPT) }]);
    const other = zip([{ name: FILE, data: Buffer.from('-- another\n') }]);
    const id = await service.plant(NAME, archive, undefined, undefined, { digest: sha256(other) });
    const client = ownClient(service.env());
    const found = (await client.find(NAME))!;
    expect(found.digest).toBe(sha256(other));
    await expect(client.files(found)).rejects.toThrow(
      `artifact ${id} does not match the digest the results service lists for it (${sha256(other)}); its download is ${sha256(archive)}`
    );
    // download-artifact's check, for the same artifact: the same verdict.
    const out = await fs.mkdtemp(path.join(scratchDir(), 'artifact-download-'));
    const verdict = await asReference(service.env(), (c) =>
      c.downloadArtifact(Number(id), { path: out, expectedHash: found.digest })
    );
    expect(verdict.digestMismatch).toBe(true);
  });

  it('a step whose earlier artifact holds this very script, but not what its digest says, leaves it and deletes nothing', async () => {
    service = await startArtifactService({ azurite });
    const immuta = await startImmutaStandIn();
    try {
      const archive = zip([{ name: FILE, data: Buffer.from(snowflakeScript(1)) }]);
      const listed = sha256(zip([{ name: FILE, data: Buffer.from('-- what was uploaded\n') }]));
      const id = await service.plant(NAME, archive, undefined, undefined, { digest: listed });
      const run = await runAction({
        inputs: stepInputs(immuta, { 'upload-artifact': 'true' }),
        env: service.env()
      });
      expect(run.code).toBe(1);
      expect(run.errors.at(-1)).toContain(
        `artifact ${id} does not match the digest the results service lists for it (${listed})`
      );
      expect(run.errors.at(-1)).toMatch(/Nothing was deleted; the script is saved at/);
      expect(immuta.sent('DELETE')).toHaveLength(0);
      expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
      expect((await service.zipOf(NAME))?.equals(archive)).toBe(true);
    } finally {
      await immuta.close();
    }
  });

  it('reads an artifact whose digest matches, or that lists none (as older uploads)', async () => {
    service = await startArtifactService({ azurite });
    const archive = zip([{ name: FILE, data: Buffer.from(SCRIPT) }]);
    await service.plant(NAME, archive);
    await service.plant('no-digest', archive, undefined, undefined, { digest: null });
    const client = ownClient(service.env());
    const found = (await client.find(NAME))!;
    expect(found.digest).toBe(sha256(archive));
    expect((await client.files(found)).get(FILE)?.toString()).toBe(SCRIPT);
    const bare = (await client.find('no-digest'))!;
    expect(bare.digest).toBeUndefined();
    expect((await client.files(bare)).get(FILE)?.toString()).toBe(SCRIPT);
  });

  it('refuses a listing whose digest is not a sha256', async () => {
    service = await startArtifactService({ azurite });
    await service.plant(
      NAME,
      zip([{ name: FILE, data: Buffer.from(SCRIPT) }]),
      undefined,
      undefined,
      {
        digest: 'md5:0123'
      }
    );
    await expect(ownClient(service.env()).find(NAME)).rejects.toThrow(
      'ListArtifacts answered with an artifact whose digest is not a sha256 (sha256:<64 hex digits>)'
    );
  });
});
