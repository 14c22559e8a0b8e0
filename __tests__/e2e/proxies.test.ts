// The proxies a self-hosted runner sets, as the action uses them: which proxy (or none) carries
// each request for the settings users write (either case, empty values, NO_PROXY's forms, a
// proxy without a scheme), how plain http:// and https:// targets go through it (forwarded, or a
// CONNECT tunnel), and what the step says and does when the proxy is down, hangs, refuses or
// answers in place of the target.
import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { startImmutaStandIn, type ImmutaStandIn } from '../support/immuta-stand-in.mjs';
import { runAction, ROOT } from '../support/run-action.mjs';
import { stepInputs, visibleLog } from '../support/inputs.js';
import { startConnectProxy, type ProxyOptions } from '../support/proxy.js';

let closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

const TLS = path.join(ROOT, '__tests__', 'fixtures', 'tls');
const read = (name: string) => fs.readFile(path.join(TLS, name), 'utf8');

async function plainTenant(): Promise<ImmutaStandIn> {
  const immuta = await startImmutaStandIn();
  closers.push(() => immuta.close());
  return immuta;
}

async function httpsTenant(): Promise<ImmutaStandIn> {
  const immuta = await startImmutaStandIn({
    tls: { key: await read('server.key'), cert: await read('server.pem') }
  });
  closers.push(() => immuta.close());
  return immuta;
}

async function proxy(options: ProxyOptions = {}, credentials?: string) {
  const started = await startConnectProxy(credentials, options);
  closers.push(() => started.close());
  return started;
}

/** The inputs for the https tenant, trusting its private CA. */
async function httpsInputs(immuta: ImmutaStandIn, extra: Record<string, string> = {}) {
  return stepInputs(immuta, {
    'allow-insecure-http': 'false',
    'ca-certificate': await read('ca.pem'),
    ...extra
  });
}

/** A port on loopback that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('which proxy carries the run', () => {
  type Case = [string, (p: string, tenant: URL) => Record<string, string>, 'proxy' | 'direct'];
  const CASES: Case[] = [
    ['lower-case http_proxy', (p) => ({ http_proxy: p }), 'proxy'],
    [
      'an empty lower-case http_proxy hides HTTP_PROXY',
      (p) => ({ http_proxy: '', HTTP_PROXY: p }),
      'direct'
    ],
    [
      'a proxy given as host:port, as curl takes it',
      (p) => ({ HTTP_PROXY: new URL(p).host }),
      'proxy'
    ],
    ['NO_PROXY naming the host', (p) => ({ HTTP_PROXY: p, NO_PROXY: '127.0.0.1' }), 'direct'],
    ['lower-case no_proxy: *', (p) => ({ HTTP_PROXY: p, no_proxy: '*' }), 'direct'],
    [
      'NO_PROXY naming the host on its port',
      (p, t) => ({ HTTP_PROXY: p, NO_PROXY: `other.example, 127.0.0.1:${t.port}` }),
      'direct'
    ],
    [
      'NO_PROXY naming the host on another port',
      (p, t) => ({ HTTP_PROXY: p, NO_PROXY: `127.0.0.1:${Number(t.port) + 1}` }),
      'proxy'
    ],
    ['NO_PROXY naming another host', (p) => ({ HTTP_PROXY: p, NO_PROXY: 'localhost' }), 'proxy'],
    ['HTTPS_PROXY alone, for an http:// tenant', (p) => ({ HTTPS_PROXY: p }), 'direct']
  ];

  it.each(CASES)('%s', async (_what, env, expected) => {
    const immuta = await plainTenant();
    const through = await proxy();
    const run = await runAction({
      inputs: stepInputs(immuta),
      env: env(through.url, new URL(immuta.url))
    });
    expect(run.errors).toEqual([]);
    expect(run.code).toBe(0);
    if (expected === 'proxy') {
      expect(new Set(through.forwarded)).toEqual(new Set([new URL(immuta.url).host]));
      expect(through.forwarded.length).toBe(immuta.requests.length);
    } else {
      expect(through.tunnels).toEqual([]);
    }
  });

  it('an https:// tenant takes HTTP_PROXY when HTTPS_PROXY is not set, through a tunnel', async () => {
    const immuta = await httpsTenant();
    const through = await proxy();
    const run = await runAction({
      inputs: await httpsInputs(immuta),
      env: { HTTP_PROXY: through.url }
    });
    expect(run.code).toBe(0);
    expect(through.forwarded).toEqual([]);
    expect(new Set(through.connects)).toEqual(new Set([new URL(immuta.url).host]));
  });

  it('lower-case https_proxy wins over HTTPS_PROXY', async () => {
    const immuta = await httpsTenant();
    const lower = await proxy();
    const upper = await proxy();
    const run = await runAction({
      inputs: await httpsInputs(immuta),
      env: { https_proxy: lower.url, HTTPS_PROXY: upper.url }
    });
    expect(run.code).toBe(0);
    expect(lower.connects.length).toBeGreaterThanOrEqual(1);
    expect(upper.tunnels).toEqual([]);
  });
});

describe('how requests go through the proxy', () => {
  it('plain http:// is forwarded, not tunnelled: a proxy that allows CONNECT only to 443 (Squid) carries it', async () => {
    const immuta = await plainTenant();
    const squid = await proxy({ connectPorts: [443] });
    const run = await runAction({ inputs: stepInputs(immuta), env: { HTTP_PROXY: squid.url } });
    expect(run.errors).toEqual([]);
    expect(run.outputs.status).toBe('deregistered');
    expect(squid.connects).toEqual([]);
    expect(squid.forwarded.length).toBe(3);
  });

  it('https:// goes through a CONNECT tunnel; a proxy that refuses it (403) stops the step at once, naming the proxy', async () => {
    const immuta = await httpsTenant();
    const squid = await proxy({ connectPorts: [443] });
    const run = await runAction({
      inputs: await httpsInputs(immuta),
      env: { HTTPS_PROXY: squid.url }
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      new RegExp(
        `could not be completed: the proxy at ${new URL(squid.url).host.replace(/\./g, '\\.')} refused to open a tunnel \\(403\\): check the proxy settings`
      )
    );
    expect(run.log).not.toMatch(/trying again/);
    expect(immuta.requests).toHaveLength(0);
  });
});

describe('a proxy that fails', () => {
  it.each([
    ['HTTP_PROXY', 'an http:// tenant (forwarded)', false],
    ['HTTPS_PROXY', 'an https:// tenant (tunnelled)', true]
  ])(
    '%s that refuses connections, for %s: the error names the proxy, without its credentials',
    async (variable, _what, secure) => {
      const immuta = secure ? await httpsTenant() : await plainTenant();
      const port = await closedPort();
      const run = await runAction({
        inputs: secure ? await httpsInputs(immuta) : stepInputs(immuta),
        env: { [variable]: `http://ops:hunter2@127.0.0.1:${port}` }
      });
      expect(run.code).toBe(1);
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]).toContain(
        `got no response (the http:// proxy at 127.0.0.1:${port} (${variable}): connect ECONNREFUSED 127.0.0.1:${port})`
      );
      expect(visibleLog(run.log)).not.toContain('hunter2');
      expect(immuta.requests).toHaveLength(0);
    }
  );

  it.each([
    ['HTTP_PROXY', 'an http:// tenant', false],
    ['HTTPS_PROXY', 'an https:// tenant (it never answers CONNECT)', true]
  ])(
    '%s that accepts the connection and never answers, for %s: each attempt ends at timeout-seconds',
    async (variable, _what, secure) => {
      const immuta = secure ? await httpsTenant() : await plainTenant();
      const silent = await proxy({ behaviour: 'silent' });
      const extra = { 'timeout-seconds': '1', 'max-attempts': '2' };
      const started = Date.now();
      const run = await runAction({
        inputs: secure ? await httpsInputs(immuta, extra) : stepInputs(immuta, extra),
        env: { [variable]: silent.url },
        timeoutMs: 30_000
      });
      expect(run.code).toBe(1);
      expect(run.errors[0]).toMatch(
        /^Looking up the host failed: GET \/data\/connection\/snowflake-prod got no response \(timed out after 1 s\)\. Gave up after 2 attempts\./
      );
      // Two attempts of 1 s and a wait of 1 to 2 s between them, with room for a busy machine.
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(immuta.requests).toHaveLength(0);
    }
  );

  it('that answers every request with a 200 HTML page: nothing is deleted, and the step says a proxy may have answered', async () => {
    const immuta = await plainTenant();
    const portal = await proxy({ behaviour: 'html' });
    const run = await runAction({ inputs: stepInputs(immuta), env: { HTTP_PROXY: portal.url } });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /A proxy, firewall, load balancer or sign-in page may have answered/
    );
    expect(run.outputs.deleted).toBe('false');
    expect(immuta.requests).toHaveLength(0);
  });

  it('that answers CONNECT with a 200 and a page in place of a tunnel: the TLS inside fails, nothing reaches the tenant, no retry', async () => {
    const immuta = await httpsTenant();
    const portal = await proxy({ behaviour: 'html' });
    const run = await runAction({
      inputs: await httpsInputs(immuta),
      env: { HTTPS_PROXY: portal.url }
    });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(/did not answer in TLS/);
    expect(run.log).not.toMatch(/trying again/);
    expect(run.outputs.deleted).toBe('false');
    expect(immuta.requests).toHaveLength(0);
  });

  it('a body that never ends, through the proxy: read up to its cap, then refused', async () => {
    const immuta = await plainTenant();
    immuta.fault({
      method: 'GET',
      path: '/data/connection/snowflake-prod',
      endless: true,
      headers: { 'content-type': 'application/json' }
    });
    const through = await proxy();
    const run = await runAction({
      inputs: stepInputs(immuta),
      env: { HTTP_PROXY: through.url },
      measureMemory: true
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/it went on past 1 MiB/);
    expect(run.outputs.deleted).toBe('false');
    expect(through.forwarded.length).toBeGreaterThanOrEqual(1);
    expect(run.peakRssMiB).toBeLessThan(200);
  });

  it('a body that trickles forever, through the proxy: the exchange ends at timeout-seconds', async () => {
    const immuta = await plainTenant();
    immuta.fault({ method: 'GET', path: '/data/connection/snowflake-prod', trickleMs: 50 });
    const through = await proxy();
    const started = Date.now();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'timeout-seconds': '1', 'max-attempts': '1' }),
      env: { HTTP_PROXY: through.url },
      timeoutMs: 30_000
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/got no response \(timed out after 1 s\)/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
