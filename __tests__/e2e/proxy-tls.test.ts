// TLS through a CONNECT proxy, checked against the names the certificates really hold. Each leaf
// in fixtures/tls/names names one thing only (the IP 127.0.0.1, or localhost), so a connection that
// checks the wrong name fails, or passes when it must not: the proxy's certificate against the
// proxy's name, the tenant's against the tenant's, an IP literal as an IP.
import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { startImmutaStandIn, type ImmutaStandIn } from '../support/immuta-stand-in.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';
import { startConnectProxy } from '../support/proxy.js';

const NAMES = path.join(import.meta.dirname, '..', 'fixtures', 'tls', 'names');
const read = (file: string) => fs.readFile(path.join(NAMES, file), 'utf8');
const pair = async (leaf: 'ip-only' | 'localhost-only') => ({
  key: await read(`${leaf}.key`),
  cert: await read(`${leaf}.pem`)
});

let closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

async function tenant(leaf: 'ip-only' | 'localhost-only'): Promise<ImmutaStandIn> {
  const immuta = await startImmutaStandIn({ tls: await pair(leaf) });
  closers.push(() => immuta.close());
  return immuta;
}

async function proxy(leaf?: 'ip-only' | 'localhost-only') {
  const started = await startConnectProxy(undefined, leaf ? { tls: await pair(leaf) } : {});
  closers.push(() => started.close());
  return started;
}

/** The step's inputs for an https tenant reached at `host`, trusting the names CA. */
async function httpsInputs(immuta: ImmutaStandIn, host: string) {
  const url = new URL(immuta.url);
  url.hostname = host;
  return stepInputs(
    { url: url.href.replace(/\/$/, ''), apiKey: immuta.apiKey },
    { 'allow-insecure-http': 'false', 'ca-certificate': await read('ca.pem') }
  );
}

describe('an https:// proxy', () => {
  it('is reached by its own name: a proxy certified for its IP carries the run to a tenant named localhost', async () => {
    const immuta = await tenant('localhost-only');
    const through = await proxy('ip-only');
    const run = await runAction({
      inputs: await httpsInputs(immuta, 'localhost'),
      env: { HTTPS_PROXY: through.url }
    });
    expect(run.errors).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe('deregistered');
    expect(through.tunnels[0]).toMatch(/^localhost:\d+$/);
    // The proxy is an IP, which has no SNI; the tenant's name is the tunnel's business only.
    expect(through.servernames.length).toBeGreaterThanOrEqual(1);
    expect(new Set(through.servernames)).toEqual(new Set(['']));
  });

  it('asks for the proxy by name (SNI) when the proxy is named, and checks the tenant by its IP', async () => {
    const immuta = await tenant('ip-only');
    const through = await proxy('localhost-only');
    const run = await runAction({
      inputs: await httpsInputs(immuta, '127.0.0.1'),
      env: { HTTPS_PROXY: through.url.replace('127.0.0.1', 'localhost') }
    });
    expect(run.errors).toEqual([]);
    expect(run.code).toBe(0);
    expect(new Set(through.servernames)).toEqual(new Set(['localhost']));
  });

  it('whose certificate names something else is refused before any request is sent through it', async () => {
    const immuta = await tenant('localhost-only');
    const through = await proxy('localhost-only');
    const run = await runAction({
      inputs: await httpsInputs(immuta, 'localhost'),
      env: { HTTPS_PROXY: through.url }
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/certificate/i);
    expect(run.errors[0]).toMatch(/127\.0\.0\.1/);
    // The hint names the certificate that was refused: the proxy's, not the tenant's.
    expect(run.errors[0]).toMatch(/The proxy's TLS certificate is not trusted/);
    expect(through.tunnels).toEqual([]);
    expect(immuta.requests).toHaveLength(0);
  });
});

describe('an https tenant given as an IP address, through a proxy', () => {
  it('is accepted with a certificate that names only its IP', async () => {
    const immuta = await tenant('ip-only');
    const through = await proxy();
    const run = await runAction({
      inputs: await httpsInputs(immuta, '127.0.0.1'),
      env: { HTTPS_PROXY: through.url }
    });
    expect(run.errors).toEqual([]);
    expect(run.code).toBe(0);
    expect(through.tunnels[0]).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('is refused with a certificate that names only localhost, and nothing reaches it', async () => {
    const immuta = await tenant('localhost-only');
    const through = await proxy();
    const run = await runAction({
      inputs: await httpsInputs(immuta, '127.0.0.1'),
      env: { HTTPS_PROXY: through.url }
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/certificate/i);
    expect(run.errors[0]).toMatch(/127\.0\.0\.1/);
    expect(immuta.requests).toHaveLength(0);
  });
});
