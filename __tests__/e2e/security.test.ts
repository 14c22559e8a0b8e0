import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { startImmutaStandIn, type ImmutaStandIn as StandIn } from '../support/immuta-stand-in.mjs';
import { startArtifactService, startAzurite } from '../support/artifact-service-stand-in.mjs';
import { runAction, ROOT } from '../support/run-action.mjs';
import { stepInputs, visibleLog } from '../support/inputs.js';
import { unzip } from '../support/unzip.js';
import { startConnectProxy } from '../support/proxy.js';

let immuta: StandIn | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await immuta?.close();
  immuta = undefined;
  while (closers.length) await closers.pop()!();
});

const tls = path.join(ROOT, '__tests__', 'fixtures', 'tls');
const read = (name: string) => fs.readFile(path.join(tls, name), 'utf8');

describe('secrets', () => {
  it('the key and token appear nowhere but in mask commands, also with RUNNER_DEBUG=1', async () => {
    immuta = await startImmutaStandIn();
    const azurite = await startAzurite();
    closers.push(() => azurite.stop());
    const artifacts = await startArtifactService({ azurite });
    closers.push(() => artifacts.close());
    const run = await runAction({
      inputs: stepInputs(immuta, { 'auth-method': 'token', 'upload-artifact': 'true' }),
      env: { RUNNER_DEBUG: '1', ...artifacts.env() }
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`::add-mask::${immuta.apiKey}`);
    expect(run.stdout).toContain(`::add-mask::${immuta.token}`);
    // The key is masked before the first line that could log anything.
    expect(run.stdout.split('\n')[0]).toBe(`::add-mask::${immuta.apiKey}`);
    const zip = (await artifacts.zipOf('immuta-cleanup-script-snowflake-prod'))!;
    const everything = [
      visibleLog(run.log),
      JSON.stringify(run.outputs),
      run.summary,
      await fs.readFile(run.outputs['script-path'], 'utf8'),
      ...[...unzip(zip).values()].map((b) => b.toString('utf8')),
      JSON.stringify(artifacts.calls)
    ].join('\n');
    for (const secret of [immuta.apiKey, immuta.token]) expect(everything).not.toContain(secret);
  });

  it('scrubs the key from a failure whose body echoes it', async () => {
    immuta = await startImmutaStandIn();
    immuta.fault({
      method: 'GET',
      path: '/data/connection/snowflake-prod',
      status: 400,
      body: JSON.stringify({ message: `Bad header Authorization: ${immuta.apiKey}` })
    });
    const run = await runAction({ inputs: stepInputs(immuta), env: { RUNNER_DEBUG: '1' } });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toContain('Immuta said: Bad header Authorization: ***');
    expect(visibleLog(run.log)).not.toContain(immuta.apiKey);
  });
});

describe('TLS with a private CA', () => {
  it('trusts the tenant when ca-certificate holds its CA', async () => {
    immuta = await startImmutaStandIn({
      tls: { key: await read('server.key'), cert: await read('server.pem') }
    });
    expect(immuta.url).toMatch(/^https:/);
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'allow-insecure-http': 'false',
        'ca-certificate': await read('ca.pem')
      })
    });
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe('deregistered');
  });

  it('refuses it without ca-certificate, saying how to trust it, without retrying', async () => {
    immuta = await startImmutaStandIn({
      tls: { key: await read('server.key'), cert: await read('server.pem') }
    });
    const run = await runAction({ inputs: stepInputs(immuta, { 'allow-insecure-http': 'false' }) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Looking up the host failed: GET \/data\/connection\/snowflake-prod got no response \(.*certificate.*\)\./i
    );
    expect(run.errors[0]).toMatch(/pass that CA's PEM in ca-certificate/);
    expect(immuta.requests).toHaveLength(0);
    expect(run.log).not.toMatch(/trying again/);
  });
});

describe('proxies', () => {
  async function startProxy(credentials?: string) {
    const proxy = await startConnectProxy(credentials);
    closers.push(() => proxy.close());
    return proxy;
  }

  it('goes through HTTP_PROXY as a self-hosted runner sets it', async () => {
    immuta = await startImmutaStandIn();
    const proxy = await startProxy();
    const run = await runAction({ inputs: stepInputs(immuta), env: { HTTP_PROXY: proxy.url } });
    expect(run.code).toBe(0);
    const target = new URL(immuta.url).host;
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(1);
    expect(new Set(proxy.tunnels)).toEqual(new Set([target]));
  });

  it('goes through HTTPS_PROXY to an https tenant, trusting the private CA inside the tunnel', async () => {
    immuta = await startImmutaStandIn({
      tls: { key: await read('server.key'), cert: await read('server.pem') }
    });
    const proxy = await startProxy();
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'allow-insecure-http': 'false',
        'ca-certificate': await read('ca.pem')
      }),
      env: { HTTPS_PROXY: proxy.url }
    });
    expect(run.code).toBe(0);
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(1);
  });

  it('sends the credentials in the proxy URL, and never logs them', async () => {
    immuta = await startImmutaStandIn();
    const proxy = await startProxy('ops:s3cr%t');
    const authenticated = proxy.url.replace('http://', 'http://ops:s3cr%25t@');
    const run = await runAction({ inputs: stepInputs(immuta), env: { HTTP_PROXY: authenticated } });
    expect(run.code).toBe(0);
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(1);
    // The password as sent (s3cr%t) registered with the runner as a mask (its % escaped as
    // the command protocol escapes it; the runner shows no ::add-mask:: line), and in no line a
    // reader sees.
    expect(run.log).toMatch(/^::add-mask::s3cr%25t$/m);
    expect(visibleLog(run.log)).not.toContain('s3cr');
  });

  it('a proxy that refuses the tunnel (407) fails at once, saying so', async () => {
    immuta = await startImmutaStandIn();
    const proxy = await startProxy('ops:right');
    const run = await runAction({ inputs: stepInputs(immuta), env: { HTTP_PROXY: proxy.url } });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Looking up the host failed: GET \/data\/connection\/snowflake-prod could not be completed: the proxy at 127\.0\.0\.1:\d+ refused to open a tunnel \(407\): check the proxy settings and the credentials in the proxy URL\./
    );
    expect(run.log).not.toMatch(/trying again/);
    expect(immuta.requests).toHaveLength(0);
  });

  it('skips the proxy for hosts in NO_PROXY', async () => {
    immuta = await startImmutaStandIn();
    const proxy = await startProxy();
    const run = await runAction({
      inputs: stepInputs(immuta),
      env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }
    });
    expect(run.code).toBe(0);
    expect(proxy.tunnels).toEqual([]);
  });
});
