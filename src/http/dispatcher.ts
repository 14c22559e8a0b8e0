import * as tls from 'node:tls';
import { EnvHttpProxyAgent, type Dispatcher } from 'undici';

export interface DispatcherOptions {
  /** PEM of a private CA, trusted in addition to the runtime's own. */
  readonly caCertificate: string | undefined;
}

/**
 * One dispatcher for the whole run, so every request to the tenant reuses its connections. It
 * honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY (either case), as self-hosted runners set them.
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  // Passing `ca` replaces Node's trust store, so the default roots (with NODE_EXTRA_CA_CERTS)
  // are passed along with the private CA.
  const trust = options.caCertificate
    ? { ca: [...defaultCertificates(), options.caCertificate] }
    : {};
  return new EnvHttpProxyAgent({
    connect: trust,
    requestTls: trust,
    proxyTls: trust,
    keepAliveTimeout: 10_000
  });
}

function defaultCertificates(): readonly string[] {
  return typeof tls.getCACertificates === 'function'
    ? tls.getCACertificates('default')
    : tls.rootCertificates;
}
