// Artifacts through @actions/artifact, as the bundled action runs it against the results-service
// stand-in and Azurite: what a later job's actions/download-artifact gets, what a re-run finds,
// the answers a proxy, a lost connection, a stalled blob store or a planted archive give, and the
// rules the action keeps on top (a digest that must match, names that stand for one file each,
// an artifact not proven this job's never deleted). The package is loaded only by a step that
// keeps an artifact.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import {
  startImmutaStandIn,
  snowflakeScript,
  type ImmutaStandIn as StandIn
} from '../support/immuta-stand-in.mjs';
import {
  startArtifactService,
  startAzurite,
  type ArtifactService as Service,
  type Azurite,
  type Fault
} from '../support/artifact-service-stand-in.mjs';
import { DIST, runAction, scratchDir, type ActionRun } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';
import { unzip } from '../support/unzip.js';
import { zip } from '../support/zip.js';
import { startConnectProxy } from '../support/proxy.js';

let azurite: Azurite;
let immuta: StandIn | undefined;
let service: Service | undefined;
beforeAll(async () => (azurite = await startAzurite()), 60_000);
afterAll(async () => azurite?.stop());
afterEach(async () => {
  await immuta?.close();
  await service?.close();
  immuta = service = undefined;
});

const NAME = 'immuta-cleanup-script-snowflake-prod';
const FILE = 'immuta-cleanup-snowflake-prod.sql';
const REPORT = 'immuta-cleanup-snowflake-prod.report.json';
const withArtifact = (extra: Record<string, string> = {}) =>
  stepInputs(immuta!, { 'upload-artifact': 'true', ...extra });
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const methods = () => service!.calls.map((c) => c.method);

/** Runs `work` with the package pointed at the stand-in, as a later job's step would. */
async function asLaterJob<T>(work: (client: DefaultArtifactClient) => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, service!.env(), { GITHUB_SERVER_URL: 'https://github.com' });
  try {
    return await work(new DefaultArtifactClient());
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

/** The report an earlier attempt of this action leaves beside the script it kept. */
function reportOf(attempt: string, script = snowflakeScript(1)): string {
  return JSON.stringify({
    kind: 'immuta-deregister-host/report',
    version: 1,
    tenant: immuta!.url,
    job: 'deregister',
    attempt,
    hosts: [{ connectionKey: 'snowflake-prod', scriptFile: FILE, scriptSha256: sha256(script) }]
  });
}

async function expectNoDelete(run: ActionRun, why: RegExp) {
  expect(run.code).toBe(1);
  expect(run.errors.at(-1)).toMatch(why);
  expect(run.errors.at(-1)).toMatch(/Nothing was deleted; the script is saved at/);
  expect(run.stdout).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
  expect(immuta!.sent('DELETE')).toHaveLength(0);
  expect(await fs.readFile(run.outputs['script-path']!, 'utf8')).toBe(snowflakeScript(1));
}

describe('what a later job downloads, and what a re-run finds', () => {
  it('actions/download-artifact gets the script byte for byte from what the action uploads, digest checked', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(run.code).toBe(0);
    const stored = service.artifacts.find((a) => a.name === NAME)!;
    expect(stored.hash).toBe(`sha256:${sha256((await service.zipOf(NAME))!)}`);

    const folder = await fs.mkdtemp(path.join(scratchDir(), 'download-'));
    const { found, download } = await asLaterJob(async (client) => ({
      found: await client.getArtifact(NAME),
      download: await client.downloadArtifact(Number(run.outputs['artifact-id']), {
        path: folder,
        expectedHash: stored.hash
      })
    }));
    expect(found.artifact.id).toBe(Number(run.outputs['artifact-id']));
    expect(download.digestMismatch).toBe(false);
    expect(await fs.readFile(path.join(folder, FILE), 'utf8')).toBe(snowflakeScript(1));

    // The signed URL's signature and the runtime token are masked before any line shows them
    // (the runner hides a masked value from then on).
    const sig = new URL(service.issued[0]!).searchParams.get('sig')!;
    for (const secret of [sig, encodeURIComponent(sig), service.env().ACTIONS_RUNTIME_TOKEN]) {
      const lines = run.stdout.split('\n');
      expect(lines.findIndex((l) => l.includes(secret))).toBe(
        lines.indexOf(`::add-mask::${secret}`)
      );
    }
    expect(run.stdout).toContain(`::add-mask::${sig}`);
    expect(run.stdout).not.toMatch(/^(?!::(add-mask|debug)::).*sig=/m);
  });

  it('a re-run replaces the artifact an earlier attempt uploaded with @actions/artifact, its report proving whose it is', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const folder = await fs.mkdtemp(path.join(scratchDir(), 'earlier-'));
    await fs.writeFile(path.join(folder, FILE), snowflakeScript(1));
    await fs.writeFile(path.join(folder, REPORT), reportOf('1'));
    const earlier = await asLaterJob((client) =>
      client.uploadArtifact(NAME, [path.join(folder, FILE), path.join(folder, REPORT)], folder)
    );

    const run = await runAction({
      inputs: withArtifact(),
      env: { ...service.env(), GITHUB_RUN_ATTEMPT: '2' }
    });
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe('deregistered');
    expect(run.stdout).toContain(`Replaced artifact '${NAME}' (ID ${earlier.id})`);
    expect(run.outputs['artifact-name']).toBe(NAME);
    expect(methods()).toContain('DeleteArtifact');
    expect(
      unzip((await service.zipOf(NAME))!)
        .get(FILE)!
        .toString()
    ).toBe(snowflakeScript(1));
  });

  it.each([
    ['no report', []],
    ['a report that says nothing of whose it is', [{ name: REPORT, data: Buffer.from('{}') }]]
  ])(
    'an earlier artifact holding this very script with %s is never deleted: the step keeps its own beside it',
    async (_, extra) => {
      immuta = await startImmutaStandIn();
      service = await startArtifactService({ azurite });
      const planted = zip([{ name: FILE, data: Buffer.from(snowflakeScript(1)) }, ...extra]);
      const id = await service.plant(NAME, planted);
      const run = await runAction({
        inputs: withArtifact(),
        env: { ...service.env(), GITHUB_RUN_ATTEMPT: '2' }
      });
      expect(run.code).toBe(0);
      expect(run.outputs['artifact-name']).toBe(`${NAME}-deregister`);
      expect(run.stdout).toContain(
        `Artifact '${NAME}' (ID ${id}) holds no report of this action naming the job that uploaded it, so it is not proven this job's and is never deleted; it is left as it is.`
      );
      expect(methods()).not.toContain('DeleteArtifact');
      expect((await service.zipOf(NAME))?.equals(planted)).toBe(true);
    }
  );

  it('an earlier artifact from @actions/artifact holding another script is left alone: the step keeps its own beside it', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const folder = await fs.mkdtemp(path.join(scratchDir(), 'other-'));
    await fs.writeFile(path.join(folder, FILE), '-- another host\nDROP ROLE OTHER;\n');
    await asLaterJob((client) => client.uploadArtifact(NAME, [path.join(folder, FILE)], folder));
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`Artifact '${NAME}' \\(ID \\d+\\) holds no report of this action naming the job`)
    );
    expect(run.outputs['artifact-name']).toBe(`${NAME}-deregister`);
    expect(methods()).not.toContain('DeleteArtifact');
    expect(
      unzip((await service.zipOf(NAME))!)
        .get(FILE)!
        .toString()
    ).toMatch(/DROP ROLE OTHER/);
  });

  it('retention-days past the repository’s limit keeps the artifact for the limit, with upload-artifact’s warning', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const run = await runAction({
      inputs: withArtifact({ 'retention-days': '90' }),
      env: { ...service.env(), GITHUB_RETENTION_DAYS: '30' }
    });
    expect(run.code).toBe(0);
    expect(run.warnings).toContain(
      'Retention days cannot be greater than the maximum allowed retention set within the repository. Using 30 instead.'
    );
    const days = (Date.parse(service.artifacts[0]!.expires_at!) - Date.now()) / 86_400_000;
    // Counted on the local calendar: a change of daylight saving time moves it by an hour.
    expect(Math.abs(days - 30)).toBeLessThan(0.05);
  });

  it('another artifact of the run is never taken for this step’s', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const other = 'immuta-cleanup-script-snowflake-dev';
    const otherId = await service.plant(
      other,
      zip([{ name: 'immuta-cleanup-snowflake-dev.sql', data: Buffer.from('-- dev\n') }])
    );
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(run.code).toBe(0);
    expect(run.outputs['artifact-name']).toBe(NAME);
    expect(methods()).not.toContain('DeleteArtifact');
    expect(service.artifacts.find((a) => a.name === other)?.database_id).toBe(otherId);
  });
});

describe('what is read back must be what was kept', () => {
  it('an earlier artifact holding this very script, but not what its digest says, is left and nothing is deleted', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const archive = zip([
      { name: FILE, data: Buffer.from(snowflakeScript(1)) },
      { name: REPORT, data: Buffer.from(reportOf('1')) }
    ]);
    const listed = `sha256:${sha256(zip([{ name: FILE, data: Buffer.from('-- uploaded\n') }]))}`;
    const id = await service.plant(NAME, archive, undefined, undefined, { digest: listed });
    const run = await runAction({
      inputs: withArtifact(),
      env: { ...service.env(), GITHUB_RUN_ATTEMPT: '2' }
    });
    // A re-run reads what the earlier attempt kept first, to tell its host: it stops there,
    // before anything is generated or deleted.
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      new RegExp(
        `^What earlier attempts of this workflow run kept could not be read \\(artifact ${id} does not match the digest the results service lists for it \\(${listed}\\); its download is sha256:${sha256(archive)}\\).* Nothing was generated or deleted\\.$`
      )
    );
    // Tampering is not an outage: the advice is not to wait for the service and re-run.
    expect(run.errors.at(-1)).toContain('which no re-run repairs');
    expect(run.errors.at(-1)).not.toContain('re-run the job when');
    expect(immuta!.sent('POST')).toHaveLength(0);
    expect(immuta!.sent('DELETE')).toHaveLength(0);
    expect(methods()).not.toContain('DeleteArtifact');
    expect((await service.zipOf(NAME))?.equals(archive)).toBe(true);
  });

  it('an earlier artifact that lists no digest (an older upload) is read, and replaced when proven this job’s', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const archive = zip([
      { name: FILE, data: Buffer.from(snowflakeScript(1)) },
      { name: REPORT, data: Buffer.from(reportOf('1')) }
    ]);
    const id = await service.plant(NAME, archive, undefined, undefined, { digest: null });
    const run = await runAction({
      inputs: withArtifact(),
      env: { ...service.env(), GITHUB_RUN_ATTEMPT: '2' }
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Replaced artifact '${NAME}' (ID ${id})`);
  });

  const ours = Buffer.from(snowflakeScript(1));
  const theirs = Buffer.from('-- another host\nDROP DATABASE IMMUTA_OTHER;\n');
  it.each<[string, { name: string; data: Buffer }[], RegExp]>([
    [
      'the script twice, another host’s copy first',
      [
        { name: FILE, data: theirs },
        { name: FILE, data: ours }
      ],
      /holds "immuta-cleanup-snowflake-prod.sql" more than once, and readers disagree on which copy wins/
    ],
    [
      'the script twice, this one’s first',
      [
        { name: FILE, data: ours },
        { name: FILE, data: theirs }
      ],
      /more than once/
    ],
    [
      'the script and another host’s under a name that differs only in case',
      [
        { name: FILE.toUpperCase(), data: theirs },
        { name: FILE, data: ours }
      ],
      /which a case-insensitive file system \(macOS, Windows\) unpacks to one file/
    ],
    [
      'another host’s under ./ before the name',
      [
        { name: `./${FILE}`, data: theirs },
        { name: FILE, data: ours }
      ],
      /a file named ".\/immuta-cleanup-snowflake-prod.sql", which cannot be unpacked safely/
    ],
    [
      'another host’s under a backslash',
      [
        { name: `scripts\\${FILE}`, data: theirs },
        { name: FILE, data: ours }
      ],
      /cannot be unpacked safely/
    ]
  ])(
    'an earlier artifact holding %s never passes for this step’s: left in place, nothing deleted',
    async (_, entries, why) => {
      immuta = await startImmutaStandIn();
      service = await startArtifactService({ azurite });
      const planted = zip(entries);
      await service.plant(NAME, planted);
      const run = await runAction({ inputs: withArtifact(), env: service.env() });
      await expectNoDelete(run, why);
      expect(methods()).not.toContain('DeleteArtifact');
      expect((await service.zipOf(NAME))?.equals(planted)).toBe(true);
    }
  );

  it('an earlier artifact holding a file that would unpack outside its folder is refused, and nothing is written there', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const escapee = `escape-${randomBytes(6).toString('hex')}.sql`;
    await service.plant(
      NAME,
      zip([
        { name: FILE, data: Buffer.from(snowflakeScript(1)) },
        { name: `../${escapee}`, data: Buffer.from('-- planted\n') }
      ])
    );
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    // The unzipper reads `..` as `.`; such a name is refused all the same.
    await expectNoDelete(
      run,
      /the artifact holds a file named "\.\/escape-[0-9a-f]+\.sql", which cannot be unpacked safely/
    );
    for (const folder of [os.tmpdir(), run.runnerTemp, path.dirname(run.runnerTemp)]) {
      await expect(fs.access(path.join(folder, escapee))).rejects.toThrow();
    }
    expect(methods()).not.toContain('DeleteArtifact');
  });

  it('a zip bomb planted under the name is refused once its files pass 256 MiB, nothing deleted', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const big = Buffer.alloc(300 * 1024 * 1024);
    const bomb = zip([{ name: FILE, data: big }]);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    await service.plant(NAME, bomb);
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    await expectNoDelete(run, /could not be unpacked: its files hold more than 268435456 bytes/);
  }, 90_000);

  it('an artifact that is not a zip is read as the one file it is (as download-artifact saves it), and is not this step’s', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const planted = Buffer.from('<html>this is not an archive</html>');
    await service.plant(NAME, planted, undefined, undefined, { contentType: 'text/html' });
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `Artifact '${NAME}' (ID ${service.artifacts[0]!.database_id}) holds no report of this action naming the job that uploaded it, so it is not proven this job's and is never deleted; it is left as it is.`
    );
    expect(run.outputs['artifact-name']).toBe(`${NAME}-deregister`);
    expect(methods()).not.toContain('DeleteArtifact');
    expect((await service.zipOf(NAME))?.equals(planted)).toBe(true);
  });
});

describe('on a self-hosted runner behind a proxy', () => {
  it('the results service and the blob store are reached through HTTP_PROXY', async () => {
    immuta = await startImmutaStandIn();
    // Names only the proxy resolves: a request that reaches them went through it.
    const hostnames = { results: 'results.artifacts.test', blob: 'blob.artifacts.test' };
    service = await startArtifactService({ azurite, hostnames });
    const blobHost = `devstoreaccount1.${hostnames.blob}`;
    const proxy = await startConnectProxy(undefined, {
      hosts: { [hostnames.results]: '127.0.0.1', [blobHost]: '127.0.0.1' }
    });
    try {
      const run = await runAction({
        inputs: withArtifact(),
        env: { ...service.env(), HTTP_PROXY: proxy.url }
      });
      expect(run.errors).toEqual([]);
      expect(run.code).toBe(0);
      expect(run.outputs['artifact-id']).toBe(service.artifacts[0]!.database_id);
      const results = new URL(service.env().ACTIONS_RESULTS_URL).host;
      const blob = `${blobHost}:${new URL(azurite.url).port}`;
      // The results service's calls are tunnelled; the blob upload to an http:// URL is sent to
      // the proxy as it is, as the Azure SDK sends it.
      expect(proxy.tunnels).toContain(results);
      expect(proxy.forwarded).toContain(blob);
    } finally {
      await proxy.close();
    }
  });
});

describe('the artifact service, hostile or unlucky: nothing is deleted unless the artifact is kept', () => {
  async function withFaults(
    faults: Parameters<typeof startArtifactService>[0]['faults'],
    env: Record<string, string> = {}
  ) {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite, faults });
    return runAction({ inputs: withArtifact(), env: { ...service.env(), ...env } });
  }

  it('a proxy answers CreateArtifact once with 200 and an HTML page: asked again, the run goes on', async () => {
    let answered = 0;
    const faults = {};
    Object.defineProperty(faults, 'CreateArtifact', {
      enumerable: true,
      get: () =>
        ++answered === 1
          ? { status: 200, contentType: 'text/html', body: '<html>Access denied</html>' }
          : undefined
    });
    const run = await withFaults(faults);
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe('deregistered');
    expect(service!.calls.filter((c) => c.method === 'CreateArtifact')).toHaveLength(2);
    expect(run.stdout).toMatch(/Attempt 1 of 5 failed with error: .*is not valid JSON/);
  });

  it('CreateArtifact answers JSON without an upload URL', async () => {
    const run = await withFaults({
      CreateArtifact: { status: 200, contentType: 'application/json', body: '{"ok":true}' }
    });
    await expectNoDelete(run, /artifact 'immuta-cleanup-script-snowflake-prod' failed: .+/);
    expect(methods()).not.toContain('FinalizeArtifact');
  });

  it('the answer to CreateArtifact is lost after the service acted: it is not sent again', async () => {
    const run = await withFaults({ CreateArtifact: 'lost' });
    await expectNoDelete(run, /Failed to CreateArtifact: Unable to make request: ECONNRESET/);
    expect(service!.calls.filter((c) => c.method === 'CreateArtifact')).toHaveLength(1);
  });

  it('the answer to FinalizeArtifact is lost: the step fails, it does not guess', async () => {
    const run = await withFaults({ FinalizeArtifact: 'lost' });
    await expectNoDelete(run, /Failed to FinalizeArtifact: Unable to make request: ECONNRESET/);
    expect(service!.calls.filter((c) => c.method === 'FinalizeArtifact')).toHaveLength(1);
  });

  it('a re-run after an upload cut off before FinalizeArtifact says why the name is taken, and takes its next name', async () => {
    const faults: Record<string, Fault> = { FinalizeArtifact: 400 };
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite, faults });
    await expectNoDelete(
      await runAction({ inputs: withArtifact(), env: service.env() }),
      /Failed to FinalizeArtifact: Received non-retryable error: Failed request: \(400\)/
    );
    delete faults.FinalizeArtifact;
    const again = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(
      `Artifact '${NAME}' was created by another job of this run at the same moment (or by an earlier attempt cut off during its upload); it is left as it is. This step keeps its cleanup script as artifact '${NAME}-deregister'.`
    );
    expect(again.outputs).toMatchObject({
      status: 'deregistered',
      'artifact-name': `${NAME}-deregister`
    });
  });

  it('a lost answer to the lookup fails the step before the delete, as @actions/artifact does not send it again', async () => {
    const run = await withFaults({ ListArtifacts: 'lost-once' });
    await expectNoDelete(run, /Failed to ListArtifacts: Unable to make request: ECONNRESET/);
    expect(methods()).not.toContain('CreateArtifact');
  });

  it('a service that refuses with 403 is not asked five times', async () => {
    const run = await withFaults({ CreateArtifact: 403 });
    await expectNoDelete(
      run,
      /Failed to CreateArtifact: Received non-retryable error: Failed request: \(403\) Forbidden: injected CreateArtifact failure/
    );
    expect(service!.calls.filter((c) => c.method === 'CreateArtifact')).toHaveLength(1);
  });

  it('a blob store that stalls is given up on after ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS, before FinalizeArtifact', async () => {
    const run = await withFaults({ blob: 'stall' }, { ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS: '1000' });
    await expectNoDelete(run, /failed: Upload progress stalled\./);
    expect(methods()).not.toContain('FinalizeArtifact');
    expect(run.wallMs).toBeLessThan(20_000);
  });

  it('the blob store refuses the download of an earlier artifact: after download-artifact’s tries, nothing is deleted', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite, faults: { blob: 'refuse-read' } });
    await service.plant(NAME, zip([{ name: FILE, data: Buffer.from(snowflakeScript(1)) }]));
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    await expectNoDelete(
      run,
      /Unable to download and extract artifact: Artifact download failed after 5 retries/
    );
    expect(methods()).not.toContain('DeleteArtifact');
    expect(methods()).not.toContain('CreateArtifact');
  }, 90_000);

  it('a listing whose artifact has no ID is not used: nothing is deleted', async () => {
    const run = await withFaults({
      ListArtifacts: {
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ artifacts: [{ name: NAME, size: '10' }] })
      }
    });
    await expectNoDelete(run, /the artifact service listed an artifact without its name or ID/);
    expect(methods()).not.toContain('CreateArtifact');
  });

  // Known from the environment alone: refused before any request, as a missing token is.
  it('a runner that gives a runtime token but no results service URL', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const run = await runAction({
      inputs: withArtifact(),
      env: { ACTIONS_RUNTIME_TOKEN: service.env().ACTIONS_RUNTIME_TOKEN }
    });
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      /^Input 'upload-artifact' is true \(its default\), but no artifact can be kept on this runner: ACTIONS_RESULTS_URL is not set to a URL: .*Nothing was sent\./
    );
    expect(immuta.requests).toEqual([]);
    expect(methods()).toEqual([]);
  });
});

describe('a script-path artifacts cannot hold', () => {
  it('is bad input: a clear error before any request, nothing sent to Immuta or the artifact service', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const run = await runAction({
      inputs: withArtifact({ 'script-path': 'out/cleanup:prod.sql' }),
      env: service.env()
    });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      expect.stringMatching(
        /^Input 'script-path' names the file "cleanup:prod.sql", which holds a colon: artifacts refuse such names, because actions\/download-artifact could not write the file on a Windows runner\. Nothing was sent\./
      )
    ]);
    expect(run.stdout).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
    expect(immuta.requests).toEqual([]);
    expect(service.calls).toEqual([]);
  });

  it('is kept as it is without an artifact', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'script-path': 'out/cleanup:prod.sql' })
    });
    expect(run.code).toBe(0);
    expect(path.basename(run.outputs['script-path']!)).toBe('cleanup:prod.sql');
  });
});

describe('@actions/artifact is loaded only by a step that keeps an artifact', () => {
  /** The bundle without its chunks: a step that loads one fails. */
  async function bundleWithoutChunks(): Promise<string> {
    const folder = await fs.mkdtemp(path.join(scratchDir(), 'dist-'));
    for (const file of ['index.js', 'package.json']) {
      await fs.copyFile(path.join(path.dirname(DIST), file), path.join(folder, file));
    }
    return path.join(folder, 'index.js');
  }

  it('a step with upload-artifact: false runs without the chunk; one that uploads needs it, and deletes nothing without it', async () => {
    const entry = await bundleWithoutChunks();
    expect(
      (await fs.readdir(path.dirname(DIST))).filter((f) => /^\d+\.index\.js$/.test(f))
    ).not.toEqual([]);
    immuta = await startImmutaStandIn();
    const plain = await runAction({ entry, inputs: stepInputs(immuta) });
    expect(plain.code).toBe(0);
    expect(plain.outputs.status).toBe('deregistered');

    await immuta.close();
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const uploading = await runAction({ entry, inputs: withArtifact(), env: service.env() });
    await expectNoDelete(uploading, /Cannot find module .*\.index\.js/);
    expect(service.calls).toEqual([]);
  });
});
