/**
 * Why an exchange failed, told apart: the network or the peer (another attempt may fare better)
 * or this side (a request the client will not send, an answer it cannot parse, a proxy that
 * refuses outright), which would fail the same way again and is not retried. The proxy's
 * failures are named as the proxy's.
 */
import { errors } from 'undici';
import { ProxyFailed } from './transport.js';

export type Failure =
  | {
      readonly kind: 'network';
      readonly cause: string;
      readonly untrusted: boolean;
      /** The proxy failed (its TLS, say), not the target. */
      readonly proxy: boolean;
    }
  | { readonly kind: 'local'; readonly cause: string };

/** The failure of an exchange that produced no answer; its cause never echoes request headers. */
export function classifyFailure(error: unknown): Failure {
  return isNetworkError(error)
    ? {
        kind: 'network',
        cause: networkCause(error),
        untrusted: isCertificateError(error),
        proxy: error instanceof ProxyFailed
      }
    : { kind: 'local', cause: localCause(error) };
}

/**
 * Failures of the network or the peer, where another attempt may fare better: Node's socket
 * errors and undici's. Everything else (a header the client will not send, an answer it cannot
 * parse, headers past its limit, a proxy that refuses the tunnel outright) would fail the same
 * way again.
 */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'
]);

const CERTIFICATE_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT/;

/** The error and the errors it was caused by. */
function causes(error: unknown): Error[] {
  const chain: Error[] = [];
  for (let e: unknown = error; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    chain.push(e);
  }
  return chain;
}

function codesOf(error: unknown): string[] {
  return causes(error)
    .map((e) => (e as { code?: unknown }).code)
    .filter((code): code is string => typeof code === 'string');
}

/** undici's parser refused the answer: not HTTP. Its code is not always set. */
function isParserError(error: Error): boolean {
  return error instanceof errors.HTTPParserError;
}

function isNetworkError(error: unknown): boolean {
  // A proxy that cannot reach the tenant now may reach it later; one that wants credentials will not.
  if (error instanceof ProxyFailed && error.status !== undefined) return error.status >= 500;
  if (error instanceof ProxyFailed && notTls(error)) return false;
  return codesOf(error).some((c) => NETWORK_CODES.has(c) || CERTIFICATE_ERRORS.test(c));
}

function isCertificateError(error: unknown): boolean {
  return codesOf(error).some((c) => CERTIFICATE_ERRORS.test(c));
}

/** A short cause that never echoes request headers: only the error's code and message. */
function networkCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error instanceof ProxyFailed) {
    const { url, variable } = error.proxy;
    if (error.status !== undefined) return error.message;
    const failed = error.cause instanceof Error ? networkCause(error.cause) : 'no answer';
    return `the ${url.protocol}// proxy at ${url.host} (${variable}): ${failed}`;
  }
  const inner = (error as { cause?: unknown }).cause;
  const source = inner instanceof Error ? inner : error;
  const code = (source as { code?: unknown }).code;
  return typeof code === 'string' && !source.message.includes(code)
    ? `${code}: ${source.message}`
    : source.message;
}

const LOCAL_CAUSES: Record<string, string> = {
  UND_ERR_HEADERS_OVERFLOW:
    "the answer's headers are larger than the HTTP client accepts (a proxy may be adding them)",
  UND_ERR_INVALID_ARG: 'the request could not be built',
  ERR_INVALID_CHAR: 'the request could not be built',
  ERR_INVALID_HTTP_TOKEN: 'the request could not be built',
  ERR_STRING_TOO_LONG: 'the answer is too long to read'
};

/**
 * OpenSSL's words for a TLS hello answered in plain text, as an https:// URL pointed at a
 * plain-HTTP port gets: the "HTTP/1.1 400" it reads is no TLS record.
 */
const NOT_TLS = /wrong version number|packet length too long/i;

function notTls(error: unknown): boolean {
  return causes(error).some(
    (e) => NOT_TLS.test(e.message) || NOT_TLS.test(String((e as { reason?: unknown }).reason))
  );
}

/** What went wrong on this side, named for the reader; a parser error means it was not HTTP. */
function localCause(error: unknown): string {
  const codes = codesOf(error);
  const known = codes.map((c) => LOCAL_CAUSES[c]).find(Boolean);
  const parser =
    codes.some((c) => c.startsWith('HPE_')) || causes(error).some(isParserError)
      ? 'the answer is not valid HTTP (is immuta-url an HTTP server?)'
      : undefined;
  if (error instanceof ProxyFailed) {
    const { url, variable } = error.proxy;
    if (error.status !== undefined) {
      return `${error.message}: check the proxy settings and the credentials in the proxy URL`;
    }
    if (notTls(error)) {
      return `the proxy at ${url.host} did not answer in TLS (OpenSSL: wrong version number): its URL says https:// but the port speaks plain HTTP; check the scheme and port of the proxy URL in HTTPS_PROXY or HTTP_PROXY (most proxies take http://)`;
    }
    if (parser) {
      return `the proxy at ${url.host} (${variable}) did not answer in HTTP: check the scheme and port of the proxy URL`;
    }
  }
  if (notTls(error)) {
    return 'the server did not answer in TLS (OpenSSL: wrong version number): the URL says https:// but the port speaks plain HTTP; check the scheme and port of the URL';
  }
  const detail = networkCause(error);
  return `${known ?? parser ?? 'the HTTP client failed'} (${detail})`;
}
