// @actions/core brings @actions/http-client, which brings undici 6; package.json's `overrides`
// give it the root undici 8 instead, so the bundle holds one copy (dist/licenses.txt lists one
// undici). This holds the toolkit to working on it: `core.getIDToken` through a proxy, and
// http-client's own use of undici (`getAgentDispatcher`, a ProxyAgent, as @actions/github and
// @actions/artifact use it) carrying a request through a proxy.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import * as core from '@actions/core';
import { HttpClient } from '@actions/http-client';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { ProxyAgent, request } from 'undici';
import { ROOT } from '../support/run-action.mjs';
import { startConnectProxy } from '../support/proxy.js';

const VARIABLES = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'NO_PROXY',
  'no_proxy',
  'ACTIONS_ID_TOKEN_REQUEST_URL',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN'
];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
let closers: (() => Promise<unknown>)[] = [];
beforeEach(() => {
  for (const name of VARIABLES) delete process.env[name];
});
afterEach(async () => {
  for (const name of VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

/** GitHub's OIDC token endpoint, as the runner serves it: a bearer token in, `{ value }` out. */
async function tokenService(requestToken: string, idToken: string) {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.headers.authorization !== `Bearer ${requestToken}`) {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ value: idToken }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as AddressInfo).port, seen };
}

const rootUndici = (): string =>
  (
    createRequire(import.meta.url)(path.join(ROOT, 'node_modules', 'undici', 'package.json')) as {
      version: string;
    }
  ).version;

describe('one undici', () => {
  it('http-client resolves the root undici 8, so the bundle holds one copy', () => {
    const fromClient = createRequire(
      path.join(ROOT, 'node_modules', '@actions', 'http-client', 'lib', 'index.js')
    ).resolve('undici/package.json');
    expect(fromClient).toBe(path.join(ROOT, 'node_modules', 'undici', 'package.json'));
    const version = createRequire(import.meta.url)(fromClient).version as string;
    expect(version).toMatch(/^8\./);
  });

  it('the bundle holds one undici, the one the action and http-client share', async () => {
    const licenses = await readFile(path.join(ROOT, 'dist', 'licenses.txt'), 'utf8');
    const undicis = licenses.split('\n').filter((line) => /^undici@/.test(line));
    expect(undicis).toEqual([`undici@${rootUndici()}`]);
    expect(licenses).toMatch(/^@actions\/http-client@/m);
  });
});

describe('the toolkit on undici 8, through a proxy', () => {
  // http-client never proxies loopback, so the services are reached by a name only the proxy
  // resolves, as a corporate proxy's DNS would.
  const hosts = { 'oidc.test': '127.0.0.1' };

  it('core.getIDToken gets the token through HTTP_PROXY', async () => {
    const service = await tokenService('request-token-1234', 'eyJhbGciOi.id-token.sig');
    const proxy = await startConnectProxy(undefined, { hosts });
    closers.push(() => proxy.close());
    process.env.HTTP_PROXY = proxy.url;
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = `http://oidc.test:${service.port}/token?api-version=2.0`;
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = 'request-token-1234';
    const written: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof write;
    let token: string;
    try {
      token = await core.getIDToken('immuta');
    } finally {
      process.stdout.write = write;
    }
    expect(token).toBe('eyJhbGciOi.id-token.sig');
    expect(service.seen).toEqual(['GET /token?api-version=2.0&audience=immuta']);
    expect(proxy.tunnels).toEqual([`oidc.test:${service.port}`]);
    expect(written.join('')).toContain('::add-mask::eyJhbGciOi.id-token.sig');
  });

  it("http-client's ProxyAgent is undici 8's, and carries a request through the proxy", async () => {
    const service = await tokenService('t0k3n-abcd', 'id');
    const proxy = await startConnectProxy('ops:s3cr%t', { hosts });
    closers.push(() => proxy.close());
    process.env.HTTP_PROXY = proxy.url.replace('http://', 'http://ops:s3cr%25t@');
    const url = `http://oidc.test:${service.port}/token`;
    const dispatcher = new HttpClient('test').getAgentDispatcher(url);
    expect(dispatcher).toBeInstanceOf(ProxyAgent);
    const answer = await request(url, {
      dispatcher,
      headers: { authorization: 'Bearer t0k3n-abcd' }
    });
    expect(answer.statusCode).toBe(200);
    expect(await answer.body.json()).toEqual({ value: 'id' });
    // Plain http:// is forwarded, with the proxy's credentials, as undici 8 does it.
    expect(proxy.forwarded).toEqual([`oidc.test:${service.port}`]);
    await dispatcher!.close();
  });
});
