// The proxy the action picks for a URL, held to undici's EnvHttpProxyAgent (the proxy support of
// Node's fetch and of @actions/http-client) over a table of HTTP(S)_PROXY / NO_PROXY settings.
// undici's choice is read by letting its agent dispatch to stand-ins for the agents it built:
// the one it hands the request to says which proxy (or none) it chose. A new undici that
// decides otherwise turns a row red; the rows where the action decides otherwise on purpose are
// listed at the end, with both answers asserted, and README §Design says why.
import { afterEach, describe, expect, it } from '@jest/globals';
import { EnvHttpProxyAgent } from 'undici';
import { proxyFor } from '../../src/http/transport.js';

type Env = Record<string, string>;
const VARIABLES = [
  'http_proxy',
  'HTTP_PROXY',
  'https_proxy',
  'HTTPS_PROXY',
  'no_proxy',
  'NO_PROXY'
];

const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
afterEach(() => {
  for (const name of VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

/** The proxy undici dispatches the URL through: its href, 'direct', or the error it throws. */
async function undiciChoice(target: string, env: Env): Promise<string> {
  for (const name of VARIABLES) delete process.env[name];
  Object.assign(process.env, env);
  let agent: EnvHttpProxyAgent;
  try {
    agent = new EnvHttpProxyAgent();
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
  const symbol = (owner: object, description: string) => {
    const found = Object.getOwnPropertySymbols(owner).find((s) => s.description === description);
    if (!found) throw new Error(`undici no longer has its '${description}': update this test`);
    return found;
  };
  const slots = ['no proxy agent', 'http proxy agent', 'https proxy agent'].map((d) =>
    symbol(agent, d)
  );
  const holder = agent as unknown as Record<symbol, object>;
  const originals = slots.map((slot) => holder[slot]!);
  let chosen: string | undefined;
  const proxyOf = (inner: object): string => {
    const options = Object.getOwnPropertySymbols(inner).find(
      (s) => s.description === 'proxy agent options'
    );
    return options ? (inner as Record<symbol, { uri: string }>)[options]!.uri : 'direct';
  };
  slots.forEach((slot, i) => {
    holder[slot] = { dispatch: () => ((chosen = proxyOf(originals[i]!)), true) };
  });
  try {
    agent.dispatch({ origin: new URL(target).origin, path: '/', method: 'GET' }, {});
  } finally {
    slots.forEach((slot, i) => (holder[slot] = originals[i]!));
    await agent.close();
  }
  if (chosen === undefined) throw new Error('undici dispatched to none of its agents');
  return chosen;
}

const ours = (target: string, env: Env): string => proxyFor(new URL(target), env)?.href ?? 'direct';

const P = 'http://proxy.corp:3128';
const S = 'http://secure.corp:3129';

/** [what, target URL, environment]: the action and undici choose alike. */
const SAME: [string, string, Env][] = [
  ['nothing set', 'https://t.example', {}],
  ['HTTPS_PROXY for https', 'https://t.example', { HTTPS_PROXY: S, HTTP_PROXY: P }],
  ['HTTP_PROXY for http', 'http://t.example', { HTTPS_PROXY: S, HTTP_PROXY: P }],
  ['https falls back to HTTP_PROXY', 'https://t.example', { HTTP_PROXY: P }],
  ['http never takes HTTPS_PROXY', 'http://t.example', { HTTPS_PROXY: S }],
  ['lower case before upper case', 'https://t.example', { https_proxy: S, HTTPS_PROXY: P }],
  ['lower-case http_proxy alone', 'http://t.example', { http_proxy: P }],
  [
    'an empty HTTPS_PROXY falls back to HTTP_PROXY',
    'https://t.example',
    { HTTPS_PROXY: '', HTTP_PROXY: P }
  ],
  [
    'an empty lower-case https_proxy falls back to http',
    'https://t.example',
    { https_proxy: '', HTTPS_PROXY: S, HTTP_PROXY: P }
  ],
  [
    'an empty lower-case http_proxy means none',
    'http://t.example',
    { http_proxy: '', HTTP_PROXY: P }
  ],
  ['an https:// proxy', 'https://t.example', { HTTPS_PROXY: 'https://proxy.corp:8443' }],
  [
    'a proxy with credentials',
    'https://t.example',
    { HTTPS_PROXY: 'http://ops:s3cr%25t@proxy.corp:3128' }
  ],
  ['a proxy with no port', 'https://t.example', { HTTPS_PROXY: 'http://proxy.corp' }],
  ['NO_PROXY names the host', 'https://t.example', { HTTPS_PROXY: S, NO_PROXY: 't.example' }],
  [
    'NO_PROXY names a parent domain',
    'https://api.t.example',
    { HTTPS_PROXY: S, NO_PROXY: 't.example' }
  ],
  [
    'NO_PROXY is not a suffix match',
    'https://nott.example',
    { HTTPS_PROXY: S, NO_PROXY: 't.example' }
  ],
  [
    'a leading dot names the domain too',
    'https://t.example',
    { HTTPS_PROXY: S, NO_PROXY: '.t.example' }
  ],
  [
    'a leading dot names subdomains',
    'https://a.t.example',
    { HTTPS_PROXY: S, NO_PROXY: '.t.example' }
  ],
  ['*. names subdomains', 'https://a.t.example', { HTTPS_PROXY: S, NO_PROXY: '*.t.example' }],
  [
    '*. does not name the domain itself',
    'https://t.example',
    { HTTPS_PROXY: S, NO_PROXY: '*.t.example' }
  ],
  ['* names every host', 'https://t.example', { HTTPS_PROXY: S, NO_PROXY: '*' }],
  [
    '* among other entries',
    'https://t.example',
    { HTTPS_PROXY: S, NO_PROXY: 'a.example, *, b.example' }
  ],
  [
    '*:port names every host on that port',
    'https://t.example',
    { HTTPS_PROXY: S, NO_PROXY: '*:443' }
  ],
  ['*:port, another port', 'https://t.example:8443', { HTTPS_PROXY: S, NO_PROXY: '*:443' }],
  ['a port that matches', 'https://t.example:8443', { HTTPS_PROXY: S, NO_PROXY: 't.example:8443' }],
  ['a port that does not', 'https://t.example', { HTTPS_PROXY: S, NO_PROXY: 't.example:8443' }],
  [
    'the default port written out',
    'https://t.example',
    { HTTPS_PROXY: S, NO_PROXY: 't.example:443' }
  ],
  [
    'upper-case entries and hosts',
    'https://API.T.Example',
    { HTTPS_PROXY: S, NO_PROXY: 'T.EXAMPLE' }
  ],
  ['a trailing dot on the host', 'https://t.example.', { HTTPS_PROXY: S, NO_PROXY: 't.example' }],
  ['a trailing dot on the entry', 'https://t.example', { HTTPS_PROXY: S, NO_PROXY: 't.example.' }],
  [
    'entries split by spaces and commas',
    'https://b.example',
    { HTTPS_PROXY: S, NO_PROXY: ' a.example ,  b.example ' }
  ],
  ['an empty NO_PROXY', 'https://t.example', { HTTPS_PROXY: S, NO_PROXY: '' }],
  [
    'lower-case no_proxy before NO_PROXY',
    'https://t.example',
    { HTTPS_PROXY: S, no_proxy: 'other.example', NO_PROXY: 't.example' }
  ],
  [
    'an empty no_proxy hides NO_PROXY',
    'https://t.example',
    { HTTPS_PROXY: S, no_proxy: '', NO_PROXY: 't.example' }
  ],
  ['an IPv4 literal', 'http://10.1.2.3:8080', { HTTP_PROXY: P, NO_PROXY: '10.1.2.3' }],
  [
    'an IPv4 literal with its port',
    'http://10.1.2.3:8080',
    { HTTP_PROXY: P, NO_PROXY: '10.1.2.3:8080' }
  ],
  ['another IPv4 address', 'http://10.1.2.4', { HTTP_PROXY: P, NO_PROXY: '10.1.2.3' }],
  ['an IPv6 literal, bare', 'http://[::1]:8080', { HTTP_PROXY: P, NO_PROXY: '::1' }],
  ['an IPv6 literal in brackets', 'http://[::1]:8080', { HTTP_PROXY: P, NO_PROXY: '[::1]' }],
  ['an IPv6 literal with its port', 'http://[::1]:8080', { HTTP_PROXY: P, NO_PROXY: '[::1]:8080' }],
  [
    'an IPv6 literal with another port',
    'http://[::1]:8080',
    { HTTP_PROXY: P, NO_PROXY: '[::1]:9090' }
  ],
  ['a longer IPv6 literal', 'https://[fd00::10]', { HTTPS_PROXY: S, NO_PROXY: 'fd00::10' }],
  ['CIDR is no range to either', 'http://10.1.2.3', { HTTP_PROXY: P, NO_PROXY: '10.0.0.0/8' }],
  ['localhost', 'http://localhost:9000', { HTTP_PROXY: P, NO_PROXY: 'localhost,127.0.0.1' }]
];

describe('the proxy for a URL, as undici chooses it', () => {
  it.each(SAME)('%s (%s)', async (_, target, env) => {
    const theirs = await undiciChoice(target, env);
    expect(theirs).not.toMatch(/^error/);
    expect(ours(target, env)).toBe(theirs);
  });

  it('the table is no tautology: proxied and direct rows both occur', async () => {
    const answers = await Promise.all(SAME.map(([, t, e]) => undiciChoice(t, e)));
    expect(answers.filter((a) => a === 'direct').length).toBeGreaterThanOrEqual(10);
    expect(answers.filter((a) => a !== 'direct').length).toBeGreaterThanOrEqual(10);
  });
});

describe('where the action decides otherwise, on purpose (README §Design)', () => {
  it('a proxy given without a scheme is an http:// proxy, as curl takes it; undici cannot use it', async () => {
    const env = { HTTPS_PROXY: 'proxy.corp:3128' };
    expect(ours('https://t.example', env)).toBe('http://proxy.corp:3128/');
    // undici reads "proxy.corp:" as the scheme, and refuses it.
    expect(await undiciChoice('https://t.example', env)).toMatch(/^error: Invalid URL protocol/);
    const numeric = { HTTPS_PROXY: '10.0.0.5:3128' };
    expect(ours('https://t.example', numeric)).toBe('http://10.0.0.5:3128/');
    expect(await undiciChoice('https://t.example', numeric)).toMatch(/^error: Invalid URL/);
  });

  it('a SOCKS proxy: undici speaks SOCKS5, the action refuses it before any request', async () => {
    const env = { HTTPS_PROXY: 'socks5://127.0.0.1:1080' };
    expect(await undiciChoice('https://t.example', env)).toBe('socks5://127.0.0.1:1080');
    // The choice is the same; the transport then stops the step (transport-hints.test.ts).
    expect(ours('https://t.example', env)).toBe('socks5://127.0.0.1:1080');
  });
});
