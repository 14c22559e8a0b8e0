/**
 * HTTP for the whole run on Node's own http and https modules: one keep-alive pool per origin,
 * the proxies self-hosted runners set (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, either case, reached
 * through CONNECT tunnels), and a private CA trusted beside the system's roots. Node's modules
 * are part of the runtime, so using them costs nothing at start-up.
 */
import * as http from 'node:http';
import { isIP } from 'node:net';
import type * as HttpsModule from 'node:https';
import type { Duplex } from 'node:stream';
import type * as TlsModule from 'node:tls';

/**
 * https and tls take longer to load than a request takes on loopback; a run that speaks only
 * http (a test, a lab) never loads them, and one that speaks https loads them on its first call.
 */
const https = (): typeof HttpsModule => process.getBuiltinModule('node:https');
const tls = (): typeof TlsModule => process.getBuiltinModule('node:tls');

export interface TransportOptions {
  /** PEM of a private CA, trusted in addition to the runtime's own roots. */
  readonly caCertificate: string | undefined;
  /** Where the proxy settings come from: the process environment. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Bound on setting up a tunnel through a proxy. */
  readonly connectTimeoutMs: number;
}

export interface TransportRequest {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
  readonly signal: AbortSignal;
}

export interface Transport {
  /** Sends the request; resolves with the answer's head and its body still to be read. */
  request(url: URL, init: TransportRequest): Promise<http.IncomingMessage>;
  /** Closes every pooled connection, so the process can end at once. */
  close(): void;
}

/** A proxy refused to open a tunnel. */
export class ProxyRefused extends Error {
  constructor(
    proxy: URL,
    readonly status: number | undefined
  ) {
    super(`the proxy at ${proxy.host} refused to open a tunnel (${status ?? 'no answer'})`);
    this.name = 'ProxyRefused';
  }
}

export function createTransport(options: TransportOptions): Transport {
  checkProxySettings(options.env);
  // Passing `ca` replaces Node's trust store, so the default roots (with NODE_EXTRA_CA_CERTS)
  // are passed along with the private CA.
  const ca = options.caCertificate ? [...defaultCertificates(), options.caCertificate] : undefined;
  const agents = new Map<string, http.Agent>();

  function agentFor(url: URL): http.Agent {
    const proxy = proxyFor(url, options.env);
    const key = `${url.protocol}|${proxy?.href ?? ''}`;
    let agent = agents.get(key);
    if (!agent) {
      const secure = url.protocol === 'https:';
      const settings = { keepAlive: true, keepAliveMsecs: 10_000, ca };
      if (proxy === undefined)
        agent = secure ? new (https().Agent)(settings) : new http.Agent(settings);
      else {
        const tunnel = tunnelTo(proxy, { ca, secure, timeoutMs: options.connectTimeoutMs });
        agent = secure ? tunnelHttpsAgent(settings, tunnel) : new TunnelHttpAgent(settings, tunnel);
      }
      agents.set(key, agent);
    }
    return agent;
  }

  return {
    request(url, init) {
      return new Promise((resolve, reject) => {
        const send = url.protocol === 'https:' ? https().request : http.request;
        const headers = { ...init.headers };
        if (init.body !== undefined || init.method === 'POST') {
          headers['content-length'] = String(Buffer.byteLength(init.body ?? ''));
        }
        const req = send(url, {
          method: init.method,
          headers,
          agent: agentFor(url),
          signal: init.signal
        });
        req.once('response', resolve);
        req.once('error', reject);
        req.end(init.body);
      });
    },
    close() {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    }
  };
}

function defaultCertificates(): readonly string[] {
  const { getCACertificates, rootCertificates } = tls();
  return typeof getCACertificates === 'function' ? getCACertificates('default') : rootCertificates;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The proxy variables in use, named, as undici's EnvHttpProxyAgent reads them: the lower-case
 * one when it is set at all (even empty, which then means none), else the upper-case one; https
 * takes the http proxy when it has none of its own.
 */
function proxyVariables(env: Env): { http?: string; https?: string } {
  const named = (lower: string, upper: string) => {
    const name = env[lower] !== undefined ? lower : upper;
    return env[name] ? name : undefined;
  };
  const http = named('http_proxy', 'HTTP_PROXY');
  return { http, https: named('https_proxy', 'HTTPS_PROXY') ?? http };
}

/**
 * The proxy variables in use, refused before any request when a proxy could never be reached:
 * one that is not a URL, or one of a kind other than http:// and https:// (a SOCKS proxy), which
 * this transport does not speak. The value is not echoed: a proxy URL may hold credentials.
 */
export function checkProxySettings(env: Env): void {
  const { http, https } = proxyVariables(env);
  for (const name of new Set([https, http])) {
    if (name === undefined) continue;
    const value = withScheme(env[name]!);
    const url = URL.canParse(value) ? new URL(value) : undefined;
    if (!url || !url.hostname) {
      throw new Error(
        `${name} is not a proxy URL: set it to http://host:port (or https://host:port), or unset it`
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(
        `${name} names a ${url.protocol.slice(0, -1)}:// proxy, which is not supported: this action reaches proxies with HTTP CONNECT only. Set ${name} to the http:// (or https://) address of a proxy, or unset it`
      );
    }
  }
}

/** A proxy given as host:port, as curl takes it, is an http:// one. */
function withScheme(value: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
}

/**
 * The proxy for a URL, as undici's EnvHttpProxyAgent chooses it (see proxyVariables), none for a
 * host that NO_PROXY names. __tests__/toolkit/proxy-choice.test.ts holds it to undici.
 */
export function proxyFor(url: URL, env: Env): URL | undefined {
  const { http, https } = proxyVariables(env);
  const name = url.protocol === 'https:' ? https : http;
  if (name === undefined || bypassesProxy(url, env.no_proxy ?? env.NO_PROXY ?? '')) {
    return undefined;
  }
  return new URL(withScheme(env[name]!));
}

/**
 * Whether NO_PROXY names the URL's host, as undici reads it: `*` names all (`*:port`, all on that
 * port); an entry names its host and every subdomain (a leading `.` is the same), `*.` its
 * subdomains only; an entry with a port names only that port; a trailing dot changes nothing.
 * Entries are names and addresses, not CIDR ranges.
 */
export function bypassesProxy(url: URL, noProxy: string): boolean {
  const host = trimDot(url.hostname.replace(/^\[|\]$/g, '').toLowerCase());
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return noProxy
    .split(/[,\s]+/)
    .filter(Boolean)
    .some((raw) => {
      // [v6]:port, [v6], v6 (two colons or more, so no port), or name:port.
      const bracketed = /^\[(.+)\](?::(\d+))?$/.exec(raw);
      const unbracketed = bracketed ? undefined : /^([^:]+):(\d+)$/.exec(raw);
      const [name, entryPort] = bracketed
        ? [bracketed[1]!, bracketed[2]]
        : unbracketed
          ? [unbracketed[1]!, unbracketed[2]]
          : [raw, undefined];
      if (entryPort !== undefined && Number(entryPort) !== port && Number(entryPort) !== 0) {
        return false;
      }
      if (name === '*') return true;
      const wildcard = raw.startsWith('*');
      const entry = trimDot(name.replace(/^\*?\./, '').toLowerCase());
      return (!wildcard && host === entry) || host.endsWith(`.${entry}`);
    });
}

function trimDot(name: string): string {
  return name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name;
}

type Tunnel = (
  target: { host: string; port: number; servername?: string },
  callback: (error: Error | null, socket?: Duplex) => void
) => void;

/** Opens a CONNECT tunnel through the proxy to the target, with TLS inside it for https. */
function tunnelTo(
  proxy: URL,
  { ca, secure, timeoutMs }: { ca: string[] | undefined; secure: boolean; timeoutMs: number }
): Tunnel {
  const authorization =
    proxy.username || proxy.password
      ? `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`
      : undefined;
  return (target, callback) => {
    const authority = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    const proxyHost = proxy.hostname.replace(/^\[|\]$/g, '');
    const connect = (proxy.protocol === 'https:' ? https() : http).request({
      host: proxyHost,
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: authority,
      headers: {
        host: authority,
        ...(authorization ? { 'proxy-authorization': authorization } : {})
      },
      // The TLS with an https:// proxy is with the proxy: Node would take the name to ask for
      // and check from the Host header, which names the target. An IP is checked as an IP.
      servername: serverName(proxyHost),
      agent: false,
      ca,
      timeout: timeoutMs
    });
    let settled = false;
    const done = (error: Error | null, socket?: Duplex) => {
      if (settled) return;
      settled = true;
      callback(error, socket);
    };
    connect.once('connect', (answer, socket) => {
      if (answer.statusCode !== 200) {
        socket.destroy();
        return done(new ProxyRefused(proxy, answer.statusCode));
      }
      if (!secure) return done(null, socket);
      // `host` is the name the certificate is checked against; without it tls checks an IP
      // target against "localhost". SNI carries names only, never an IP.
      done(
        null,
        tls().connect({
          socket,
          host: target.host,
          servername: target.servername || serverName(target.host),
          ca
        })
      );
    });
    connect.once('timeout', () =>
      connect.destroy(
        Object.assign(new Error('connecting through the proxy timed out'), { code: 'ETIMEDOUT' })
      )
    );
    connect.once('error', (error) =>
      done(
        proxy.protocol === 'https:' && isTlsFailure(error)
          ? new ProxyTlsFailed(proxy, error)
          : error
      )
    );
    connect.end();
  };
}

/** The name TLS asks for (SNI): the host's name, or '' for an IP address, which SNI cannot carry. */
function serverName(host: string): string {
  return isIP(host) ? '' : host;
}

/** Errors of the TLS layer (a certificate refused, an answer that is not TLS), by Node's codes. */
function isTlsFailure(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO|^ERR_SSL|^ERR_TLS|^EPROTO$/.test(code)
  );
}

/** The TLS with an https:// proxy failed: the proxy's certificate or its port, not the target's. */
export class ProxyTlsFailed extends Error {
  constructor(
    readonly proxy: URL,
    cause: Error
  ) {
    super(`the TLS with the https:// proxy at ${proxy.host} failed`, { cause });
    this.name = 'ProxyTlsFailed';
  }
}

/** Agents whose connections are tunnels through a proxy; the pool reuses them as any other. */
class TunnelHttpAgent extends http.Agent {
  constructor(
    options: http.AgentOptions,
    private readonly tunnel: Tunnel
  ) {
    super(options);
  }
  override createConnection(
    options: { host?: string; port?: number },
    callback?: (error: Error | null, socket: Duplex) => void
  ): Duplex | undefined {
    this.tunnel({ host: options.host ?? 'localhost', port: options.port ?? 80 }, (e, s) =>
      callback?.(e, s!)
    );
    return undefined;
  }
}

let TunnelHttpsAgent:
  (new (options: HttpsModule.AgentOptions, tunnel: Tunnel) => HttpsModule.Agent) | undefined;

/** The https flavour of the tunnel agent, defined when first needed, as https is loaded then. */
function tunnelHttpsAgent(options: HttpsModule.AgentOptions, tunnel: Tunnel): HttpsModule.Agent {
  TunnelHttpsAgent ??= class extends https().Agent {
    constructor(
      agentOptions: HttpsModule.AgentOptions,
      private readonly through: Tunnel
    ) {
      super(agentOptions);
    }
    override createConnection(
      target: { host?: string; port?: number; servername?: string },
      callback?: (error: Error | null, socket: Duplex) => void
    ): Duplex | undefined {
      this.through(
        {
          host: target.host ?? 'localhost',
          port: target.port ?? 443,
          servername: target.servername
        },
        (e, s) => callback?.(e, s!)
      );
      return undefined;
    }
  };
  return new TunnelHttpsAgent(options, tunnel);
}
