/**
 * HTTP for the whole run, on undici's EnvHttpProxyAgent: keep-alive pools per origin, the proxies
 * self-hosted runners set (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, either case: a CONNECT tunnel for
 * https:// targets, a forwarded request for http:// ones), and a private CA trusted beside the
 * system's roots, for the targets and for an https:// proxy. What this module adds: the proxy
 * variables checked before any request (proxy-settings.ts), and a failure of the proxy told from
 * a failure of the target (ProxyFailed), so that messages name the right one.
 */
import { isIP } from 'node:net';
import type * as TlsModule from 'node:tls';
import {
  Client,
  EnvHttpProxyAgent,
  Pool,
  errors,
  type Dispatcher,
  type buildConnector
} from 'undici';
import { proxySettings, type Proxy } from './proxy-settings.js';

export interface TransportOptions {
  /** PEM of a private CA, trusted in addition to the runtime's own roots. */
  readonly caCertificate: string | undefined;
  /** Where the proxy settings come from: the process environment. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Bound on opening a connection (to the target or to the proxy). */
  readonly connectTimeoutMs: number;
}

export interface TransportRequest {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
  /** Ends the exchange wherever it is: connecting, waiting for the head, reading the body. */
  readonly signal: AbortSignal;
}

/** An answer's head, and its body still to be read (and destroyed when not read to the end). */
export interface TransportAnswer extends AsyncIterable<Buffer | Uint8Array> {
  readonly statusCode?: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  destroy(error?: Error): unknown;
}

export interface Transport {
  /** Sends the request; resolves with the answer's head and its body still to be read. */
  request(url: URL, init: TransportRequest): Promise<TransportAnswer>;
  /** Closes every pooled connection, so the process can end at once. */
  close(): void;
}

/**
 * The proxy failed, not the target: it could not be reached, its TLS failed, or it refused the
 * request (`status`, its answer to CONNECT, or a 407 to a forwarded request).
 */
export class ProxyFailed extends Error {
  constructor(
    readonly proxy: Proxy,
    readonly status: number | undefined,
    cause?: unknown
  ) {
    super(
      status === undefined
        ? `the proxy at ${proxy.url.host} (${proxy.variable}) failed`
        : `the proxy at ${proxy.url.host} refused to open a tunnel (${status})`,
      { cause }
    );
    this.name = 'ProxyFailed';
  }
}

/** undici's words for a 407 to a forwarded request, the one proxy refusal it raises itself. */
const FORWARD_REFUSED = 'Proxy Authentication Required (407)';

export function createTransport(options: TransportOptions): Transport {
  const proxies = proxySettings(options.env);
  const byHref = new Map<string, Proxy>();
  for (const proxy of [proxies.http, proxies.https]) if (proxy) byHref.set(proxy.url.href, proxy);
  // Passing `ca` replaces Node's trust store, so the default roots (with NODE_EXTRA_CA_CERTS)
  // are passed along with the private CA.
  const tls = options.caCertificate
    ? { ca: [...defaultCertificates(), options.caCertificate] }
    : {};
  const dispatcher = new EnvHttpProxyAgent({
    // Given, not left for undici to read from process.env: the variables as checked, a proxy
    // given as host:port with its scheme, '' for none.
    httpProxy: proxies.http?.url.href ?? '',
    httpsProxy: proxies.https?.url.href ?? '',
    noProxy: proxies.noProxy,
    connect: tls,
    connectTimeout: options.connectTimeoutMs,
    requestTls: tls,
    proxyTls: tls,
    // The connection a CONNECT tunnel is asked on: its every failure is the proxy's.
    clientFactory: (origin, opts) =>
      new TunnelingProxy(proxyNamed(byHref, origin), origin, opts as Pool.Options),
    // undici opens the connection that forwarded requests go on with the proxy's URL as its
    // origin (a target's pool has an origin without a path): its failures are the proxy's.
    factory(origin, opts: Pool.Options) {
      const proxy = byHref.get(String(origin));
      if (proxy && typeof opts.connect === 'function') {
        return new Pool(origin, { ...opts, connect: toProxy(proxy, opts.connect) });
      }
      return opts.connections === 1 ? new Client(origin, opts) : new Pool(origin, opts);
    }
  });

  return {
    async request(url, init) {
      try {
        const answer = await dispatcher.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: init.method as Dispatcher.HttpMethod,
          headers: init.headers,
          body: init.body ?? (init.method === 'POST' || init.method === 'PUT' ? '' : undefined),
          signal: init.signal
        });
        const { body } = answer;
        return {
          statusCode: answer.statusCode,
          headers: answer.headers,
          [Symbol.asyncIterator]: () => body[Symbol.asyncIterator](),
          destroy: (error?: Error) => body.destroy(error)
        };
      } catch (error) {
        const proxy = url.protocol === 'http:' ? proxies.http : undefined;
        if (
          proxy &&
          error instanceof errors.InvalidArgumentError &&
          error.message === FORWARD_REFUSED
        ) {
          throw new ProxyFailed(proxy, 407, error);
        }
        throw error;
      }
    },
    close() {
      void dispatcher.destroy().catch(() => undefined);
    }
  };
}

function proxyNamed(byHref: ReadonlyMap<string, Proxy>, origin: URL): Proxy {
  const proxy = byHref.get(origin.href);
  if (!proxy) throw new Error(`undici asked for a tunnel through a proxy not set: ${origin.host}`);
  return proxy;
}

type TunnelRequest = Omit<Dispatcher.ConnectOptions, 'origin'>;

/** The pool to a proxy that CONNECT tunnels are asked on. */
class TunnelingProxy extends Pool {
  constructor(
    private readonly proxy: Proxy,
    origin: URL,
    options: Pool.Options
  ) {
    const connect = options.connect;
    super(
      origin,
      typeof connect === 'function' ? { ...options, connect: toProxy(proxy, connect) } : options
    );
  }

  // ProxyAgent asks for each tunnel with the promise form, and makes a refusal a message of
  // its own; this says which proxy refused, with its status, for the caller to tell.
  override connect(options: TunnelRequest): Promise<Dispatcher.ConnectData>;
  override connect(
    options: TunnelRequest,
    callback: (err: Error | null, data: Dispatcher.ConnectData) => void
  ): void;
  override connect(
    options: TunnelRequest,
    callback?: (err: Error | null, data: Dispatcher.ConnectData) => void
  ): Promise<Dispatcher.ConnectData> | void {
    if (callback) return super.connect(options, callback);
    return super.connect(options).then(
      (data) => {
        if (data.statusCode === 200) return data;
        data.socket.destroy();
        throw new ProxyFailed(this.proxy, data.statusCode);
      },
      (error: unknown) => {
        throw error instanceof ProxyFailed ? error : new ProxyFailed(this.proxy, undefined, error);
      }
    );
  }
}

/**
 * A connection to the proxy: its failures are the proxy's. A proxy given as an IP address is
 * asked for with no TLS server name (undici would send the IP, which SNI cannot carry); its
 * certificate is still checked against that address.
 */
function toProxy(proxy: Proxy, connect: buildConnector.connector): buildConnector.connector {
  return (options, callback) =>
    connect(
      options.servername && isIP(options.servername)
        ? { ...options, servername: undefined }
        : options,
      (...result) => {
        if (result[0] === null) return callback(...result);
        return callback(new ProxyFailed(proxy, undefined, result[0]), null);
      }
    );
}

function defaultCertificates(): readonly string[] {
  const { getCACertificates, rootCertificates } = process.getBuiltinModule(
    'node:tls'
  ) as typeof TlsModule;
  return typeof getCACertificates === 'function' ? getCACertificates('default') : rootCertificates;
}
