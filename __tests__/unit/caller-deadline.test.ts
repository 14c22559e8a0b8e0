// The HTTP caller's deadline: a Retry-After never holds a call past it, no exchange runs past
// it, and a call whose time is gone is not sent at all.
import { afterEach, describe, expect, it } from '@jest/globals';
import * as http from 'node:http';
import { createTransport, type Transport } from '../../src/http/transport.js';
import { ExchangeFailed, HttpCaller } from '../../src/http/caller.js';

let server: http.Server | undefined;
let transport: Transport | undefined;
afterEach(async () => {
  transport?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = transport = undefined;
});

async function serve(handler: http.RequestListener): Promise<{ url: URL; seen: () => number }> {
  let seen = 0;
  server = http.createServer((req, res) => {
    seen++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: new URL(`http://127.0.0.1:${port}/x`), seen: () => seen };
}

function caller(): HttpCaller {
  transport = createTransport({ caCertificate: undefined, env: {}, connectTimeoutMs: 5000 });
  return new HttpCaller({
    transport,
    timeoutMs: 30_000,
    maxAttempts: 3,
    log: { debug: () => undefined, info: () => undefined },
    redact: (t) => t
  });
}

const exchange = (url: URL) => ({
  method: 'GET' as const,
  url,
  shown: '/x',
  headers: {},
  limit: 1024
});

describe('a call with a deadline', () => {
  it('answers with the 429 at once when its Retry-After would end past the deadline', async () => {
    const { url, seen } = await serve((_, res) => {
      res.writeHead(429, { 'retry-after': '50' });
      res.end();
    });
    const started = Date.now();
    const answer = await caller().send(exchange(url), { deadline: Date.now() + 2000 });
    expect(answer.status).toBe(429);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(seen()).toBe(1);
  });

  it('cuts an exchange at the deadline, and sends nothing once it has passed', async () => {
    const { url, seen } = await serve(() => undefined);
    const c = caller();
    const started = Date.now();
    const lost = await c
      .send(exchange(url), { deadline: Date.now() + 500 })
      .catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(ExchangeFailed);
    expect((lost as ExchangeFailed).kind).toBe('no-response');
    expect(Date.now() - started).toBeLessThan(2000);
    const late = await c.send(exchange(url), { deadline: Date.now() - 1 }).catch((e: unknown) => e);
    expect((late as ExchangeFailed).kind).toBe('deadline');
    expect(seen()).toBe(1);
  });
});

describe('a call with a signal (a poll while the job may be cancelled)', () => {
  it('gives up the exchange in flight when the signal aborts, and sends nothing after', async () => {
    const { url, seen } = await serve(() => undefined);
    const c = caller();
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    const lost = await c
      .send(exchange(url), { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(ExchangeFailed);
    expect((lost as ExchangeFailed).reason).toMatch(/the job was cancelled/);
    expect(Date.now() - started).toBeLessThan(2000);
    const after = await c
      .send(exchange(url), { signal: controller.signal })
      .catch((e: unknown) => e);
    expect((after as ExchangeFailed).kind).toBe('deadline');
    expect(seen()).toBe(1);
  });

  it('ends the wait before a retry when the signal aborts', async () => {
    const { url, seen } = await serve((_, res) => {
      res.writeHead(503, { 'retry-after': '30' });
      res.end();
    });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    const answer = await caller().send(exchange(url), { signal: controller.signal });
    expect(answer.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(seen()).toBe(1);
  });
});
