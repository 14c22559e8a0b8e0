// What the step says when it is pointed at the wrong thing: TLS spoken to a plain-HTTP port (the
// tenant's or the proxy's), or a kind of proxy it cannot use. Each says what to check, names the
// proxy as the proxy, and a proxy setting that can never work stops the step before any request.
import { afterEach, describe, expect, it } from '@jest/globals';
import { startImmutaStandIn, type ImmutaStandIn } from '../support/immuta-stand-in.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs, visibleLog } from '../support/inputs.js';
import { startConnectProxy } from '../support/proxy.js';

let closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

async function plainTenant(): Promise<ImmutaStandIn> {
  const immuta = await startImmutaStandIn();
  closers.push(() => immuta.close());
  return immuta;
}

/** The stand-in serves plain HTTP; the step is told it is https. */
const asHttps = (immuta: ImmutaStandIn) =>
  stepInputs({ url: immuta.url.replace(/^http:/, 'https:'), apiKey: immuta.apiKey });

describe('https:// pointed at a plain-HTTP port', () => {
  it("says the server did not answer in TLS and to check the URL's scheme and port, once, without OpenSSL's dump", async () => {
    const immuta = await plainTenant();
    const run = await runAction({ inputs: asHttps(immuta) });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toContain(
      'the server did not answer in TLS (OpenSSL: wrong version number): the URL says https:// but the port speaks plain HTTP; check the scheme and port of the URL'
    );
    expect(run.errors[0]).not.toMatch(/openssl\/ssl|0A00010B|\n/);
    expect(run.log).not.toMatch(/trying again/);
  });

  it('names the proxy when it is the https:// proxy URL that points at a plain-HTTP proxy', async () => {
    const immuta = await plainTenant();
    const proxy = await startConnectProxy();
    closers.push(() => proxy.close());
    const run = await runAction({
      inputs: asHttps(immuta),
      env: { HTTPS_PROXY: proxy.url.replace(/^http:/, 'https:') }
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toContain(
      `the proxy at ${new URL(proxy.url).host} did not answer in TLS (OpenSSL: wrong version number): its URL says https:// but the port speaks plain HTTP; check the scheme and port of the proxy URL in HTTPS_PROXY or HTTP_PROXY`
    );
    expect(proxy.tunnels).toEqual([]);
  });
});

describe('a proxy the action cannot use', () => {
  it.each([
    ['HTTPS_PROXY', 'socks5://ops:hunter2@127.0.0.1:1080', 'socks5'],
    ['https_proxy', 'socks5h://127.0.0.1:1080', 'socks5h'],
    ['HTTP_PROXY', 'socks4://127.0.0.1:1080', 'socks4']
  ])(
    '%s=%s stops the step with an error naming %s as unsupported, before any request, credentials unshown',
    async (name, value, scheme) => {
      const immuta = await plainTenant();
      const run = await runAction({ inputs: stepInputs(immuta), env: { [name]: value } });
      expect(run.code).toBe(1);
      expect(run.errors).toEqual([
        `${name} names a ${scheme}:// proxy, which is not supported: this action speaks HTTP to its proxy. Set ${name} to the http:// (or https://) address of a proxy, or unset it`
      ]);
      expect(immuta.requests).toHaveLength(0);
      expect(visibleLog(run.log)).not.toContain('hunter2');
      expect(run.log).not.toMatch(/\n\s+at /);
    }
  );

  it('a proxy value that is no URL is named, not echoed, before any request', async () => {
    const immuta = await plainTenant();
    const run = await runAction({
      inputs: stepInputs(immuta),
      env: { HTTP_PROXY: 'http://ops:hunter2@[not-an-address' }
    });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      'HTTP_PROXY is not a proxy URL: set it to http://host:port (or https://host:port), or unset it'
    ]);
    expect(immuta.requests).toHaveLength(0);
    expect(visibleLog(run.log)).not.toContain('hunter2');
  });
});
