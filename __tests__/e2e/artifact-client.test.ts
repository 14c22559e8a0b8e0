// The action's own artifact client against the results-service stand-in and Azurite, checked
// against @actions/artifact, the client actions/upload-artifact and actions/download-artifact use:
// what one writes the other must read. Then the answers a proxy, a lost connection or a planted
// archive give it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
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
import { runAction, scratchDir, type ActionRun } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';
import { unzip } from '../support/unzip.js';
import { zip } from '../../src/artifacts/zip.js';
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
const withArtifact = () => stepInputs(immuta!, { 'upload-artifact': 'true' });

/** Runs `work` with the reference client pointed at the stand-in, as a later step's would be. */
async function asReferenceClient<T>(
  work: (client: DefaultArtifactClient) => Promise<T>
): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, service!.env(), { GITHUB_SERVER_URL: 'https://github.com' });
  try {
    return await work(new DefaultArtifactClient());
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

/** Log lines other than the masks themselves, where no secret may show. */
const shown = (run: ActionRun) =>
  run.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');

describe('what @actions/artifact writes and reads', () => {
  it('actions/download-artifact gets the script byte for byte from what the action uploads, digest checked', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(run.code).toBe(0);
    const stored = service.artifacts.find((a) => a.name === NAME)!;
    expect(stored.hash).toMatch(/^sha256:[0-9a-f]{64}$/);

    const folder = await fs.mkdtemp(path.join(scratchDir(), 'download-'));
    const { found, download } = await asReferenceClient(async (client) => ({
      found: await client.getArtifact(NAME),
      download: await client.downloadArtifact(Number(run.outputs['artifact-id']), {
        path: folder,
        expectedHash: stored.hash
      })
    }));
    expect(found.artifact.id).toBe(Number(run.outputs['artifact-id']));
    expect(found.artifact.size).toBe((await service.zipOf(NAME))!.length);
    expect(download.digestMismatch).toBe(false);
    expect(await fs.readFile(path.join(folder, FILE), 'utf8')).toBe(snowflakeScript(1));
    expect(await fs.readFile(path.join(folder, FILE), 'utf8')).toBe(
      await fs.readFile(run.outputs['script-path'], 'utf8')
    );

    // The signed URL's signature and the runtime token are masked before anything could show them.
    const sig = new URL(service.issued[0]!).searchParams.get('sig')!;
    expect(run.stdout).toContain(`::add-mask::${sig}`);
    expect(shown(run)).not.toContain(sig);
    expect(shown(run)).not.toContain(encodeURIComponent(sig));
    expect(run.stdout).toContain(`::add-mask::${service.env().ACTIONS_RUNTIME_TOKEN}`);
    expect(shown(run)).not.toContain(service.env().ACTIONS_RUNTIME_TOKEN);
  });

  it('a re-run finds the artifact an earlier version of the action uploaded with @actions/artifact, compares it, replaces it', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const folder = await fs.mkdtemp(path.join(scratchDir(), 'earlier-'));
    await fs.writeFile(path.join(folder, FILE), snowflakeScript(1));
    await fs.writeFile(path.join(folder, 'immuta-cleanup-snowflake-prod.report.json'), '{}');
    const earlier = await asReferenceClient((client) =>
      client.uploadArtifact(
        NAME,
        [path.join(folder, FILE), path.join(folder, 'immuta-cleanup-snowflake-prod.report.json')],
        folder
      )
    );

    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe('deregistered');
    expect(run.stdout).toContain(`Replaced artifact '${NAME}' (ID ${earlier.id})`);
    expect(service.calls.map((c) => c.method)).toContain('DeleteArtifact');
    expect(
      unzip((await service.zipOf(NAME))!)
        .get(FILE)!
        .toString()
    ).toBe(snowflakeScript(1));
  });

  it('an earlier artifact from @actions/artifact holding another script is left alone, and nothing is deleted', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const folder = await fs.mkdtemp(path.join(scratchDir(), 'other-'));
    await fs.writeFile(path.join(folder, FILE), '-- another host\nDROP ROLE OTHER;\n');
    await asReferenceClient((client) =>
      client.uploadArtifact(NAME, [path.join(folder, FILE)], folder)
    );
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(/holds a different script/);
    expect(immuta.sent('DELETE')).toHaveLength(0);
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
  });
});

describe('on a self-hosted runner behind a proxy', () => {
  it('the results service and the blob store are reached through HTTP_PROXY, as Immuta is', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const proxy = await startConnectProxy();
    try {
      const run = await runAction({
        inputs: withArtifact(),
        env: { ...service.env(), HTTP_PROXY: proxy.url }
      });
      expect(run.code).toBe(0);
      expect(run.outputs['artifact-id']).toBe(service.artifacts[0]!.database_id);
      const at = (url: string) => new URL(url).host;
      expect(proxy.tunnels).toEqual(
        expect.arrayContaining([at(immuta.url), at(service.url), at(azurite.url)])
      );
    } finally {
      await proxy.close();
    }
  });
});

describe('the artifact service, hostile or unlucky: nothing is deleted unless the artifact is kept', () => {
  async function expectNoDelete(run: ActionRun, why: RegExp) {
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(why);
    expect(run.errors.at(-1)).toMatch(/Nothing was deleted; the script is saved at/);
    expect(run.stdout).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
    expect(immuta!.sent('DELETE')).toHaveLength(0);
    expect(await fs.readFile(run.outputs['script-path'], 'utf8')).toBe(snowflakeScript(1));
  }

  async function withFaults(faults: Record<string, Fault>) {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite, faults });
    return runAction({ inputs: withArtifact(), env: service.env() });
  }

  it('a proxy answers CreateArtifact with 200 and an HTML page', async () => {
    const run = await withFaults({
      CreateArtifact: { status: 200, contentType: 'text/html', body: '<html>Access denied</html>' }
    });
    await expectNoDelete(
      run,
      /Failed to CreateArtifact: the results service answered 200 with text\/html, not the JSON object it sends; a proxy may have answered instead/
    );
  });

  it('CreateArtifact answers JSON without an upload URL', async () => {
    const run = await withFaults({
      CreateArtifact: { status: 200, contentType: 'application/json', body: '{"ok":true}' }
    });
    await expectNoDelete(run, /CreateArtifact answered without a signed URL/);
  });

  it('the answer to CreateArtifact is lost after the service acted: it is not sent again', async () => {
    const run = await withFaults({ CreateArtifact: 'lost' });
    await expectNoDelete(run, /Failed to CreateArtifact: got no response from the results service/);
    expect(service!.calls.filter((c) => c.method === 'CreateArtifact')).toHaveLength(1);
  });

  it('the answer to FinalizeArtifact is lost: the step fails, it does not guess', async () => {
    const run = await withFaults({ FinalizeArtifact: 'lost' });
    await expectNoDelete(run, /Failed to FinalizeArtifact: got no response/);
    expect(service!.calls.filter((c) => c.method === 'FinalizeArtifact')).toHaveLength(1);
  });

  it('a re-run after an upload cut off before FinalizeArtifact says why the name is taken, and another name works', async () => {
    const faults: Record<string, Fault> = { FinalizeArtifact: 400 };
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite, faults });
    await expectNoDelete(
      await runAction({ inputs: withArtifact(), env: service.env() }),
      /Failed to FinalizeArtifact: the results service answered \(400\)/
    );
    delete faults.FinalizeArtifact;
    const again = await runAction({ inputs: withArtifact(), env: service.env() });
    await expectNoDelete(
      again,
      /an earlier attempt was cut off before finishing its upload.*Give this step an artifact-name of its own/
    );
    const renamed = await runAction({
      inputs: { ...withArtifact(), 'artifact-name': `${NAME}-2` },
      env: service.env()
    });
    expect(renamed.code).toBe(0);
    expect(renamed.outputs.status).toBe('deregistered');
  });

  it('a lost answer to the lookup is asked again, and the run goes on', async () => {
    const run = await withFaults({ ListArtifacts: 'lost-once' });
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe('deregistered');
    expect(service!.calls.filter((c) => c.method === 'ListArtifacts')).toHaveLength(2);
  });

  it("a list that ignores the name asked for never makes another artifact this step's", async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite, faults: { ListArtifacts: 'ignore-filter' } });
    const other = 'immuta-cleanup-script-snowflake-dev';
    const otherId = await service.plant(
      other,
      zip([{ name: 'immuta-cleanup-snowflake-dev.sql', data: Buffer.from('-- dev\n') }])
    );
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(run.code).toBe(0);
    expect(run.outputs['artifact-name']).toBe(NAME);
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
    expect(service.artifacts.find((a) => a.name === other)?.database_id).toBe(otherId);
  });

  it('a service that refuses with 403 is not asked five times', async () => {
    const run = await withFaults({ CreateArtifact: 403 });
    await expectNoDelete(
      run,
      /Failed to CreateArtifact: the results service answered \(403\): injected CreateArtifact failure/
    );
    expect(service!.calls.filter((c) => c.method === 'CreateArtifact')).toHaveLength(1);
  });

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
    await expectNoDelete(
      run,
      /the artifact holds a file named "\.\.\/escape-[0-9a-f]+\.sql", which cannot be unpacked safely/
    );
    await expect(fs.access(path.join(os.tmpdir(), escapee))).rejects.toThrow();
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
  });

  it('a runner that gives a runtime token but no results service URL', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const run = await runAction({
      inputs: withArtifact(),
      env: { ACTIONS_RUNTIME_TOKEN: service.env().ACTIONS_RUNTIME_TOKEN }
    });
    await expectNoDelete(run, /ACTIONS_RESULTS_URL is not set to a URL/);
  });

  it('an earlier artifact that is not a zip is refused, not replaced', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    await service.plant(NAME, Buffer.from('<html>this is not an archive</html>'));
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    await expectNoDelete(run, /artifact \d+ could not be unpacked: not a zip archive/);
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
  });
});
