import { request, type Dispatcher } from 'undici';
import { pathSegment } from '../naming.js';
import {
  DEFAULT_RETRY_POLICY,
  delayBeforeRetry,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy
} from '../http/retry.js';
import { immutaError, type FailedCall } from './errors.js';
import {
  excerpt,
  immutaMessage,
  parseConnection,
  parseDeleteResult,
  parseIntegrationStatus,
  parseObject,
  parseScript,
  parseToken,
  ResponseShapeError,
  type ConnectionInfo,
  type DeleteResult,
  type ObjectInfo
} from './responses.js';

/** Where the client reports what it does; kept apart from @actions/core so the client is reusable. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
}

export interface ClientOptions {
  /** Tenant base URL, path prefix kept, no trailing slash. */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly authMethod: 'api-key' | 'token';
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly dispatcher: Dispatcher;
  readonly log: Logger;
  /** Called with every secret the client learns (the token) before it is used. */
  readonly maskSecret: (secret: string) => void;
}

interface Call {
  readonly step: string;
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path below the base URL, segments already encoded. */
  readonly path: string;
  readonly body?: string;
  readonly authenticated?: boolean;
}

interface HttpResponse {
  readonly status: number;
  readonly body: string;
  readonly contentType: string | undefined;
  readonly retryAfter: string | undefined;
}

export type DeleteOutcome = DeleteResult & {
  /** The answer to an earlier attempt was lost; a lookup showed the host gone. */
  readonly confirmedByLookup: boolean;
};

/** No HTTP answer came: a timeout, a reset, a refused connection. */
class NoResponse extends Error {
  constructor(
    readonly reason: string,
    /** The certificate was refused: trying again cannot help. */
    readonly untrusted = false
  ) {
    super(reason);
  }
}

const PERMISSION = {
  script:
    "The API key's user needs the APPLICATION_ADMIN permission in Immuta to generate the cleanup script.",
  delete:
    "The API key's user needs the INFRASTRUCTURE_ADMIN permission, or DATA_OWNER on this host, to delete it.",
  read: "The API key's user needs permission to see this host (INFRASTRUCTURE_ADMIN or DATA_OWNER on it)."
};

export class ImmutaClient {
  private authorization: string;
  /** Every secret this client holds, scrubbed from any text it passes on from a response. */
  private readonly secrets: string[];
  private readonly policy: RetryPolicy;
  private readonly basePath: string;

  constructor(private readonly options: ClientOptions) {
    this.authorization = options.apiKey;
    this.secrets = [options.apiKey];
    this.policy = { ...DEFAULT_RETRY_POLICY, maxAttempts: options.maxAttempts };
    this.basePath = new URL(options.baseUrl).pathname.replace(/\/+$/, '');
  }

  /** A host's path as sent, prefix included, for messages. */
  pathOf(resource: 'connection' | 'object', connectionKey: string): string {
    return `${this.basePath}/data/${resource}/${pathSegment(connectionKey)}`;
  }

  /** Exchanges the API key for a session token, used as `Bearer` from then on. */
  async authenticate(): Promise<void> {
    const call: Call = {
      step: 'Exchanging the API key for a token',
      method: 'POST',
      path: '/bim/apikey/authenticate',
      body: JSON.stringify({ apikey: this.options.apiKey }),
      authenticated: false
    };
    const response = await this.send(call);
    if (response.status !== 200 && response.status !== 201) throw this.failure(call, response);
    const token = parseToken(response.body);
    if (token === undefined) {
      throw immutaError({
        ...this.describe(call),
        status: response.status,
        hint: 'The answer held no token. Check that immuta-url points at the Immuta tenant, or use auth-method: api-key.'
      });
    }
    this.options.maskSecret(token);
    this.secrets.push(token);
    this.authorization = `Bearer ${token}`;
  }

  /** The host's connection record, or undefined when Immuta has no such host. */
  async getConnection(connectionKey: string): Promise<ConnectionInfo | undefined> {
    const call: Call = {
      step: 'Looking up the host',
      method: 'GET',
      path: `/data/connection/${pathSegment(connectionKey)}`
    };
    const response = await this.send(call);
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw this.failure(call, response);
    return this.read(call, response, parseConnection);
  }

  /** The host's data object, or undefined when it is gone. */
  async getObject(connectionKey: string, attempts?: number): Promise<ObjectInfo | undefined> {
    const call: Call = {
      step: 'Describing the host',
      method: 'GET',
      path: `/data/object/${pathSegment(connectionKey)}`
    };
    const response = await this.send(call, { attempts });
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw this.failure(call, response);
    return parseObject(response.body);
  }

  /** Step 1: the script that removes what Immuta created in the data platform. */
  async getDeleteScript(integrationId: number): Promise<string> {
    const call: Call = {
      step: 'Getting the cleanup script',
      method: 'POST',
      path: `/integrations/${integrationId}/scripts/delete`
    };
    const response = await this.send(call);
    if (response.status !== 200 && response.status !== 201) {
      throw this.failure(call, response, await this.scriptFailureHint(integrationId, response));
    }
    return this.read(call, response, (body) => parseScript(body, response.contentType));
  }

  /** Step 2: deletes the host and all its child objects. Undefined when it was already gone. */
  async deleteObject(connectionKey: string): Promise<DeleteOutcome | undefined> {
    const call: Call = {
      step: 'Deleting the host',
      method: 'DELETE',
      path: `/data/object/${pathSegment(connectionKey)}`
    };
    let confirmedByLookup = false;
    // The DELETE is not idempotent in what it reports: an attempt whose answer was lost may have
    // deleted the host, so look before sending it again.
    const beforeResend = async (): Promise<HttpResponse | undefined> => {
      const stillThere = await this.getObject(connectionKey, 1).catch(() => true);
      if (stillThere !== undefined) return undefined;
      confirmedByLookup = true;
      this.options.log.info(
        `The host is gone after an attempt whose answer was lost: that attempt deleted it.`
      );
      return { status: 200, body: '', contentType: undefined, retryAfter: undefined };
    };
    const response = await this.send(call, { beforeResend });
    if (response.status === 404) return undefined;
    if (response.status < 200 || response.status > 299) throw this.failure(call, response);
    return { ...parseDeleteResult(response.body), confirmedByLookup };
  }

  private async scriptFailureHint(
    integrationId: number,
    response: HttpResponse
  ): Promise<string | undefined> {
    if (response.status === 404) {
      return `Immuta has no integration with ID ${integrationId}.`;
    }
    if (response.status !== 409) return undefined;
    const status = await this.integrationStatus(integrationId);
    const state = status ? `The integration is in state '${status}'. ` : '';
    return `${state}Immuta will not generate the script while the integration is being changed; wait until it is 'enabled', then run the step again.`;
  }

  private async integrationStatus(integrationId: number): Promise<string | undefined> {
    const call: Call = {
      step: 'Reading the integration',
      method: 'GET',
      path: `/integrations/${integrationId}`
    };
    try {
      const response = await this.send(call, { attempts: 1 });
      return response.status === 200 ? parseIntegrationStatus(response.body) : undefined;
    } catch {
      return undefined;
    }
  }

  private read<T>(call: Call, response: HttpResponse, parse: (body: string) => T): T {
    try {
      return parse(response.body);
    } catch (error) {
      if (!(error instanceof ResponseShapeError)) throw error;
      throw immutaError({
        ...this.describe(call),
        status: response.status,
        hint: `The answer could not be read: ${this.redact(error.message)}`
      });
    }
  }

  private failure(call: Call, response: HttpResponse, extraHint?: string) {
    const failed: FailedCall = {
      ...this.describe(call),
      status: response.status,
      immutaMessage:
        this.redact(immutaMessage(response.body) ?? excerpt(response.body)) || undefined,
      hint: extraHint ?? this.hintFor(call, response.status)
    };
    return immutaError(failed);
  }

  /** A server or proxy may echo the credentials it was sent; never pass them on. */
  private redact(text: string): string {
    return this.secrets.reduce((t, secret) => t.split(secret).join('***'), text);
  }

  private hintFor(call: Call, status: number): string | undefined {
    if (status === 401) {
      return this.options.authMethod === 'token'
        ? 'Immuta refused the credentials: the API key is wrong, expired or revoked, or the token expired. Check the secret passed as api-key.'
        : 'Immuta refused the API key: it is wrong, expired or revoked. Check the secret passed as api-key, or try auth-method: token.';
    }
    if (status === 403) {
      if (call.path.includes('/scripts/')) return PERMISSION.script;
      if (call.method === 'DELETE') return PERMISSION.delete;
      return PERMISSION.read;
    }
    if (isRetryableStatus(status) && this.policy.maxAttempts > 1) {
      return `Gave up after ${this.policy.maxAttempts} attempts; raise max-attempts or try again later.`;
    }
    return undefined;
  }

  private describe(call: Call): Pick<FailedCall, 'step' | 'method' | 'path'> {
    return { step: call.step, method: call.method, path: this.basePath + call.path };
  }

  private async send(
    call: Call,
    options: { attempts?: number; beforeResend?: () => Promise<HttpResponse | undefined> } = {}
  ): Promise<HttpResponse> {
    const maxAttempts = options.attempts ?? this.policy.maxAttempts;
    const path = this.basePath + call.path;
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1 && options.beforeResend) {
        const settled = await options.beforeResend();
        if (settled) return settled;
      }
      const started = Date.now();
      let response: HttpResponse | undefined;
      let reason: string;
      try {
        response = await this.once(call);
        reason = `answered ${response.status}`;
        this.options.log.debug(
          `${call.method} ${path} -> ${response.status} (attempt ${attempt}/${maxAttempts}, ${Date.now() - started} ms)`
        );
        if (!isRetryableStatus(response.status) || attempt >= maxAttempts) return response;
      } catch (error) {
        if (!(error instanceof NoResponse)) throw error;
        reason = `got no response (${error.reason})`;
        if (error.untrusted) {
          throw immutaError({
            ...this.describe(call),
            cause: error.reason,
            hint: "The tenant's TLS certificate is not trusted. If it is issued by a private CA, pass that CA's PEM in ca-certificate."
          });
        }
        this.options.log.debug(
          `${call.method} ${path} -> no response: ${error.reason} (attempt ${attempt}/${maxAttempts}, ${Date.now() - started} ms)`
        );
        if (attempt >= maxAttempts) {
          throw immutaError({
            ...this.describe(call),
            cause: error.reason,
            hint:
              maxAttempts > 1
                ? `Gave up after ${maxAttempts} attempts. Check that the runner can reach immuta-url (proxy, firewall, ca-certificate), or raise timeout-seconds or max-attempts.`
                : 'Check that the runner can reach immuta-url (proxy, firewall, ca-certificate), or raise timeout-seconds.'
          });
        }
      }
      const retryAfterMs = parseRetryAfter(response?.retryAfter, Date.now());
      const delay = delayBeforeRetry(attempt, this.policy, Math.random(), retryAfterMs);
      this.options.log.info(
        `${call.method} ${path} ${reason}; trying again in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${maxAttempts}).`
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  private async once(call: Call): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': 'immuta-deregister-host'
    };
    if (call.authenticated !== false) headers.authorization = this.authorization;
    if (call.body !== undefined || call.method === 'POST')
      headers['content-type'] = 'application/json';
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const response = await request(this.options.baseUrl + call.path, {
        method: call.method,
        headers,
        body: call.body,
        dispatcher: this.options.dispatcher,
        signal
      });
      const body = await response.body.text();
      return {
        status: response.statusCode,
        body,
        contentType: single(response.headers['content-type']),
        retryAfter: single(response.headers['retry-after'])
      };
    } catch (error) {
      if (signal.aborted) {
        throw new NoResponse(`timed out after ${this.options.timeoutMs / 1000} s`);
      }
      throw new NoResponse(networkCause(error), isCertificateError(error));
    }
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A short cause that never echoes request headers: only the error's code and message. */
function networkCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = (error as { cause?: unknown }).cause;
  const source = inner instanceof Error ? inner : error;
  const code = (source as { code?: unknown }).code;
  return typeof code === 'string' && !source.message.includes(code)
    ? `${code}: ${source.message}`
    : source.message;
}

const CERTIFICATE_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT/;

function isCertificateError(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CERTIFICATE_ERRORS.test(code)) return true;
  }
  return false;
}
