import { pathSegment } from '../action/naming.js';
import { isRetryableStatus, isUnsettledStatus } from '../http/retry.js';
import {
  answerText,
  compression,
  formatBytes,
  looksBinary,
  type HttpAnswer
} from '../http/body.js';
import { ExchangeFailed, type HttpCaller, type SendOptions } from '../http/caller.js';
import { excerpt, quoted } from '../action/escape.js';
import { USER_AGENT } from '../action/version.js';
import { unsendable, type Secrets } from '../action/secrets.js';
import { immutaError, statusLine, type FailedCall } from './errors.js';
import {
  immutaMessage,
  isImmutaError,
  isIntegrationList,
  parseConnection,
  parseDeleteResult,
  parseIntegrationStatus,
  parseObject,
  parseScript,
  parseToken,
  ResponseShapeError,
  type ConnectionInfo,
  type DeleteAnswer,
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
  /** The run's one HTTP caller: its transport, timeout and retry policy. */
  readonly caller: HttpCaller;
  readonly log: Logger;
  /** Holds the API key; learns the token; redacts both from any text taken from an answer. */
  readonly secrets: Secrets;
}

/**
 * How much of an answer is read. A cleanup script of more than a few MB is not a cleanup script;
 * Immuta's records are a few kB; an error answer is quoted, and its first kilobytes tell all.
 */
export const READ_LIMITS = {
  script: 8 * 1024 * 1024,
  record: 1024 * 1024,
  /** Every integration of the tenant, a few kB each. */
  integrations: 8 * 1024 * 1024
} as const;

interface Call {
  readonly step: string;
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path below the base URL, segments already encoded. */
  readonly path: string;
  readonly body?: string;
  readonly authenticated?: boolean;
  /** The most a successful answer may hold; longer ones are refused. */
  readonly limit?: number;
}

/** How a deletion is known to have happened. */
export type DeleteConfirmation =
  /** Immuta's own answer to the DELETE. */
  | 'answer'
  /** A lookup after an attempt whose answer was lost or unreadable found the host gone. */
  | 'lookup'
  /** An attempt's answer was lost and the next one was told 404: that attempt deleted the host. */
  | 'resend';

export interface DeleteOutcome {
  /** Children deleted with the host; undefined when Immuta's answer did not say. */
  readonly childCount: number | undefined;
  readonly confirmedBy: DeleteConfirmation;
  /**
   * Why the answer was not Immuta's answer for this host, as a clause ("it came back as …", "it
   * answered 502 Bad Gateway, …"), when it was not and a lookup settled it.
   */
  readonly unreadableAnswer: string | undefined;
}

const PERMISSION = {
  script:
    "The API key's user needs the APPLICATION_ADMIN permission in Immuta to generate the cleanup script.",
  delete:
    "The API key's user needs the INFRASTRUCTURE_ADMIN permission, or DATA_OWNER on this host, to delete it.",
  read: "The API key's user needs permission to see this host (INFRASTRUCTURE_ADMIN or DATA_OWNER on it)."
};

/** How much of a body is looked at to quote its start. */
const QUOTED_BYTES = 8 * 1024;

const NOT_IMMUTA =
  'A proxy, firewall, load balancer or sign-in page may have answered in place of Immuta.';

export class ImmutaClient {
  private authorization: string;
  private readonly basePath: string;
  /**
   * Whether immuta-url has answered as only Immuta's API answers. Until it has, Immuta's JSON 404
   * proves nothing: a tenant answers it for every unknown route, so an extra path in immuta-url
   * (…/api) would make every host look absent.
   */
  private baseConfirmed = false;
  /** The one check of immuta-url a run makes: why it is not Immuta's API, or undefined when it is. */
  private baseCheck: Promise<string | undefined> | undefined;

  constructor(private readonly options: ClientOptions) {
    this.authorization = options.apiKey;
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
    const answer = await this.send(call);
    if (answer.status !== 200 && answer.status !== 201) throw this.failure(call, answer);
    const token = answer.truncated ? undefined : parseToken(answer);
    if (token === undefined) {
      throw immutaError({
        ...this.describe(call),
        status: answer.status,
        hint: `The answer held no token (it came back as ${this.describeAnswer(answer)}). Check that immuta-url points at the Immuta tenant, or use auth-method: api-key.`
      });
    }
    // Checked before it is masked: masking a short token would blank ordinary words in the log.
    const unusable =
      unsendable(token) ?? (token.length < 8 ? 'is shorter than 8 characters' : undefined);
    if (unusable !== undefined) {
      throw immutaError({
        ...this.describe(call),
        status: answer.status,
        hint: `The token in the answer ${unusable}, so it is not a token the action will send or can mask in the log. Check that immuta-url points at the Immuta tenant, or use auth-method: api-key.`
      });
    }
    this.options.secrets.add(token);
    this.authorization = `Bearer ${token}`;
  }

  /** The host's connection record, or undefined when Immuta has no such host. */
  async getConnection(connectionKey: string): Promise<ConnectionInfo | undefined> {
    const call: Call = {
      step: 'Looking up the host',
      method: 'GET',
      path: `/data/connection/${pathSegment(connectionKey)}`
    };
    const answer = await this.send(call);
    if (answer.status === 404) return this.notFound(call, answer);
    if (answer.status !== 200) throw this.failure(call, answer);
    const found = this.read(call, answer, "the host's record", (a) =>
      parseConnection(a, connectionKey)
    );
    return {
      nativeIntegrationId: found.nativeIntegrationId,
      technology: this.serverText(found.technology),
      hostname: this.serverText(found.hostname)
    };
  }

  /** The host's data object, or undefined when Immuta says it is gone. */
  async getObject(connectionKey: string, attempts?: number): Promise<ObjectInfo | undefined> {
    const call: Call = {
      step: 'Describing the host',
      method: 'GET',
      path: `/data/object/${pathSegment(connectionKey)}`
    };
    const answer = await this.send(call, { attempts });
    if (answer.status === 404) return this.notFound(call, answer);
    if (answer.status !== 200) throw this.failure(call, answer);
    const found = this.read(call, answer, "the host's data object", (a) =>
      parseObject(a, connectionKey)
    );
    return { state: this.serverText(found.state), technology: this.serverText(found.technology) };
  }

  /** Step 1: the script that removes what Immuta created in the data platform. */
  async getDeleteScript(integrationId: number): Promise<string> {
    const call: Call = {
      step: 'Getting the cleanup script',
      method: 'POST',
      path: `/integrations/${integrationId}/scripts/delete`,
      limit: READ_LIMITS.script
    };
    const answer = await this.send(call);
    if (answer.status === 404 && !isImmutaError(answer)) throw this.notImmuta(call, answer);
    if (answer.status !== 200 && answer.status !== 201) {
      throw this.failure(call, answer, await this.scriptFailureHint(integrationId, answer));
    }
    return this.read(call, answer, 'a cleanup script', parseScript, 'Nothing was deleted.');
  }

  /**
   * Step 2: deletes the host and all its child objects. Undefined when Immuta says the host was
   * already gone. Anything short of Immuta's own answer or a lookup that settles it is an error.
   */
  async deleteObject(connectionKey: string): Promise<DeleteOutcome | undefined> {
    const call: Call = {
      step: 'Deleting the host',
      method: 'DELETE',
      path: `/data/object/${pathSegment(connectionKey)}`
    };
    // An attempt whose answer was lost may have deleted the host; the DELETE is not idempotent in
    // what it reports, so look before sending it again.
    let lostAnswer = false;
    let goneBeforeResend = false;
    const beforeResend = async (previous: HttpAnswer | undefined): Promise<boolean> => {
      if (previous !== undefined && !isUnsettledStatus(previous.status)) return false;
      lostAnswer = true;
      goneBeforeResend = (await this.hostState(connectionKey, 1)) === 'gone';
      return goneBeforeResend;
    };
    const answer = await this.send(call, { beforeResend });
    if (goneBeforeResend) {
      this.options.log.info(
        'The host is gone after an attempt whose answer was lost: that attempt deleted it.'
      );
      return { childCount: undefined, confirmedBy: 'lookup', unreadableAnswer: undefined };
    }
    if (answer.status === 404) {
      await this.notFound(call, answer);
      // The host was there when this run looked it up; a 404 after an unanswered DELETE is this
      // run's own deletion, not a host that was already gone.
      if (!lostAnswer) return undefined;
      this.options.log.info(
        'Immuta says the host is gone after an attempt whose answer was lost: that attempt deleted it.'
      );
      return { childCount: undefined, confirmedBy: 'resend', unreadableAnswer: undefined };
    }
    if (mayHaveBeenCarriedOut(answer)) {
      return this.settleGatewayDelete(call, connectionKey, answer);
    }
    if (answer.status < 200 || answer.status > 299) throw this.failure(call, answer);
    const read: DeleteAnswer = answer.truncated
      ? { kind: 'unreadable' }
      : parseDeleteResult(answer, connectionKey);
    if (read.kind === 'deleted') {
      this.baseConfirmed = true;
      return { childCount: read.childCount, confirmedBy: 'answer', unreadableAnswer: undefined };
    }
    return this.settleUnreadableDelete(call, connectionKey, answer, read);
  }

  /**
   * A 2xx that is not Immuta's answer for this host's delete (a page, an error object, another
   * host's answer, one naming no host): only a lookup tells whether the host went.
   */
  private async settleUnreadableDelete(
    call: Call,
    connectionKey: string,
    answer: HttpAnswer,
    read: Exclude<DeleteAnswer, { kind: 'deleted' }>
  ): Promise<DeleteOutcome> {
    const seen = `${this.whyNotThisDelete(read)}it came back as ${this.describeAnswer(answer)}`;
    const inTheWay =
      read.kind === 'another-host'
        ? "A cache or gateway in front of Immuta may have answered with another request's answer."
        : NOT_IMMUTA;
    return this.settleByLookup(connectionKey, seen, (state) => ({
      ...this.describe(call),
      status: answer.status,
      hint: `But the answer was not Immuta's answer to ${read.kind === 'unreadable' ? 'a' : "this host's"} delete: ${seen}. ${inTheWay} ${this.lookupSays(connectionKey, state)}`
    }));
  }

  /**
   * The delete's last answer is one a gateway or proxy sends when it gave up on Immuta (a 408,
   * 502, 503, 504, Cloudflare's 520-527, any 5xx not in Immuta's own shape): it may have passed
   * the delete on first, so the status says nothing of the host. Only a lookup does; such an
   * answer is never taken for a deletion, nor for its absence, without one.
   */
  private settleGatewayDelete(
    call: Call,
    connectionKey: string,
    answer: HttpAnswer
  ): Promise<DeleteOutcome> {
    const gone = `it answered ${statusLine(answer.status)}, which a gateway or proxy may send after passing the delete on to Immuta`;
    // Said before the usual hint, so that a batch's note, which keeps only the message's start,
    // still says what the lookup found.
    const unsaid = `does not say whether the delete reached Immuta: a gateway or proxy may pass it on before giving up on its answer`;
    return this.settleByLookup(connectionKey, gone, (state) => {
      const settled =
        state === 'present'
          ? `A lookup (GET ${this.pathOf('object', connectionKey)}) shows the host still in Immuta: it was not deleted (a ${answer.status} ${unsaid}).`
          : `A ${answer.status} ${unsaid}. ${this.lookupSays(connectionKey, state)}`;
      const failed = this.failedCall(call, answer);
      return { ...failed, hint: [settled, failed.hint].filter(Boolean).join(' ') };
    });
  }

  /**
   * A delete whose answer did not settle it, settled by looking the host up: gone, it was
   * deleted (`goneBecause` says why the answer needed the lookup); still there, it was not; a
   * lookup that fails too leaves the delete's outcome unknown.
   */
  private async settleByLookup(
    connectionKey: string,
    goneBecause: string,
    failure: (state: 'present' | { reason: string }) => FailedCall
  ): Promise<DeleteOutcome> {
    const state = await this.hostState(connectionKey);
    if (state === 'gone') {
      return { childCount: undefined, confirmedBy: 'lookup', unreadableAnswer: goneBecause };
    }
    throw immutaError({ ...failure(state), mayHaveDeleted: state !== 'present' });
  }

  /** What the lookup after a delete whose answer did not settle it says, when not 'gone'. */
  private lookupSays(connectionKey: string, state: 'present' | { reason: string }): string {
    return state === 'present'
      ? `A lookup (GET ${this.pathOf('object', connectionKey)}) shows the host still in Immuta: it was not deleted.`
      : `The lookup that would tell failed too (${state.reason}), so the host may or may not have been deleted: check it in Immuta before running the step again.`;
  }

  /** Why a JSON answer that looks like a delete's is not this host's, as a clause; else ''. */
  private whyNotThisDelete(read: Exclude<DeleteAnswer, { kind: 'deleted' }>): string {
    if (read.kind === 'another-host') {
      // Quoted as JSON, so a name that differs by white space or an invisible character shows it.
      return `its ${read.field} names another host, ${quoted(this.options.secrets.redact(read.named), 120)}, and `;
    }
    return read.kind === 'no-host' ? 'it names no host and counts no child objects, and ' : '';
  }

  /** Whether the host exists, by a lookup whose failure is reported rather than thrown. */
  private async hostState(
    connectionKey: string,
    attempts?: number
  ): Promise<'gone' | 'present' | { reason: string }> {
    try {
      return (await this.getObject(connectionKey, attempts)) === undefined ? 'gone' : 'present';
    } catch (error) {
      return { reason: (error as Error).message.replace(/\.$/, '') };
    }
  }

  private async scriptFailureHint(
    integrationId: number,
    answer: HttpAnswer
  ): Promise<string | undefined> {
    if (answer.status === 404) {
      return `Immuta has no integration with ID ${integrationId}.`;
    }
    if (answer.status !== 409) return undefined;
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
      const answer = await this.send(call, { attempts: 1 });
      if (answer.status !== 200 || answer.truncated) return undefined;
      return this.serverText(parseIntegrationStatus(answer), 60);
    } catch {
      return undefined;
    }
  }

  /** Text a server chose that the action will show: secrets cut out, one short line. */
  private serverText(value: string | undefined, max = 200): string | undefined {
    return value === undefined ? undefined : excerpt(this.options.secrets.redact(value), max);
  }

  /**
   * Immuta's 404, in its own shape, means absent once immuta-url is known to be Immuta's API;
   * anyone else's 404, or one from a URL that fails that check, means a wrong URL.
   */
  private async notFound(call: Call, answer: HttpAnswer): Promise<undefined> {
    if (!isImmutaError(answer)) throw this.notImmuta(call, answer);
    if (this.baseConfirmed) return undefined;
    // One check a run: the hosts of a batch that answer 404 together share it.
    this.baseCheck ??= this.checkBaseUrl();
    const wrong = await this.baseCheck;
    if (wrong === undefined) return undefined;
    throw immutaError({
      ...this.describe(call),
      status: answer.status,
      hint: `That would mean Immuta has no such host, but immuta-url (${this.options.baseUrl}) is likely wrong: GET ${this.basePath}/integrations, which Immuta answers with the tenant's integrations for any key that can generate cleanup scripts, ${wrong}. Check immuta-url: no extra path (such as /api), and the tenant's own path prefix if it has one. The host was not taken for absent, whatever if-missing says.`
    });
  }

  /**
   * Asks for something every real tenant has (GET /integrations needs APPLICATION_ADMIN, which
   * the script needs too), so a 404 from this base URL can be believed. Only the expected shape
   * counts: a 200 page from a proxy proves nothing.
   */
  private async checkBaseUrl(): Promise<string | undefined> {
    const call: Call = {
      step: 'Checking immuta-url',
      method: 'GET',
      path: '/integrations',
      limit: READ_LIMITS.integrations
    };
    let answer: HttpAnswer;
    try {
      answer = await this.send(call);
    } catch (error) {
      return `got no answer (${(error as Error).message.replace(/\.$/, '')})`;
    }
    const status = `answered ${statusLine(answer.status)}`;
    if (answer.status === 200 && !answer.truncated && isIntegrationList(answer)) {
      this.baseConfirmed = true;
      this.options.log.info(
        `immuta-url answers as Immuta does (GET ${this.basePath}/integrations), so its 404 means the host is not there.`
      );
      return undefined;
    }
    if (answer.truncated) {
      return `${status} with more than ${formatBytes(READ_LIMITS.integrations)}, where the action stops reading`;
    }
    const permission =
      answer.status === 403
        ? " (if the URL is right, the key's user lacks APPLICATION_ADMIN, which generating the script needs too)"
        : '';
    return `${status}${permission}, not with a JSON list of integrations: it came back as ${this.describeAnswer(answer)}`;
  }

  private notImmuta(call: Call, answer: HttpAnswer) {
    return immutaError({
      ...this.describe(call),
      status: answer.status,
      hint: `The answer is not in Immuta's JSON error shape (it came back as ${this.describeAnswer(answer)}), so immuta-url does not look like the Immuta API. Check the URL and its path prefix, if the tenant has one. ${NOT_IMMUTA}`
    });
  }

  private read<T>(
    call: Call,
    answer: HttpAnswer,
    what: string,
    parse: (answer: HttpAnswer) => T,
    consequence?: string
  ): T {
    const fail = (why: string) =>
      immutaError({
        ...this.describe(call),
        status: answer.status,
        hint: [
          `The answer is not ${what}: ${why}. It came back as ${this.describeAnswer(answer)}.`,
          consequence,
          NOT_IMMUTA
        ]
          .filter(Boolean)
          .join(' ')
      });
    if (answer.truncated) {
      throw fail(
        `it went on past ${formatBytes(call.limit ?? READ_LIMITS.record)}, where the action stops reading`
      );
    }
    let read: T;
    try {
      read = parse(answer);
    } catch (error) {
      if (error instanceof ResponseShapeError) throw fail(error.message);
      throw error;
    }
    // An answer in Immuta's own shape: immuta-url is Immuta's API, so its 404s can be believed.
    this.baseConfirmed = true;
    return read;
  }

  /**
   * What came back, for a message: its content type, and its first characters with every secret
   * cut out first (so no cut can leave part of one), or its first bytes when it is not text.
   */
  private describeAnswer(answer: HttpAnswer): string {
    const parts = [
      answer.contentType ? `content type ${excerpt(answer.contentType, 80)}` : 'no content type'
    ];
    const encoding = compression(answer);
    if (encoding) parts.push(`content-encoding ${excerpt(encoding, 40)}`);
    if (answer.bytes.length === 0) return `${parts.join(', ')} and an empty body`;
    // Only the head of the body is quoted, so only the head is decoded and redacted.
    const whole = answer.bytes.length <= QUOTED_BYTES && !answer.truncated;
    const head = { ...answer, bytes: answer.bytes.subarray(0, QUOTED_BYTES) };
    const text = answerText(head);
    const start =
      encoding !== undefined || looksBinary(text.slice(0, 512))
        ? `first bytes ${firstBytes(this.options.secrets.redactHead(head.bytes.toString('latin1'), whole))}`
        : `starting “${excerpt(this.options.secrets.redactHead(text, whole), 120)}”`;
    return `${parts.join(', ')}, ${start}`;
  }

  private failure(call: Call, answer: HttpAnswer, extraHint?: string) {
    return immutaError(
      this.failedCall(call, answer, extraHint),
      isImmutaError(answer) && answer.status === 404
    );
  }

  private failedCall(call: Call, answer: HttpAnswer, extraHint?: string): FailedCall {
    const fromImmuta = isImmutaError(answer);
    const message = fromImmuta ? immutaMessage(answer) : undefined;
    return {
      ...this.describe(call),
      status: answer.status,
      immutaMessage:
        message === undefined ? undefined : excerpt(this.options.secrets.redact(message), 500),
      hint: fromImmuta
        ? (extraHint ?? this.hintFor(call, answer.status))
        : [
            `The answer is not in Immuta's JSON error shape (it came back as ${this.describeAnswer(answer)}).`,
            NOT_IMMUTA,
            this.hintFor(call, answer.status)
          ]
            .filter(Boolean)
            .join(' ')
    };
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
    const { maxAttempts } = this.options.caller.policy;
    if (isRetryableStatus(status) && maxAttempts > 1) {
      return `Gave up after ${maxAttempts} attempts; raise max-attempts or try again later.`;
    }
    return undefined;
  }

  private describe(call: Call): Pick<FailedCall, 'step' | 'method' | 'path'> {
    return { step: call.step, method: call.method, path: this.basePath + call.path };
  }

  /** Sends the call through the run's caller; a failure to get an answer is said for Immuta. */
  private async send(call: Call, options: SendOptions = {}): Promise<HttpAnswer> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': USER_AGENT
    };
    if (call.authenticated !== false) headers.authorization = this.authorization;
    if (call.body !== undefined || call.method === 'POST') {
      headers['content-type'] = 'application/json';
    }
    try {
      return await this.options.caller.send(
        {
          method: call.method,
          url: new URL(this.options.baseUrl + call.path),
          shown: this.basePath + call.path,
          headers,
          body: call.body,
          limit: call.limit ?? READ_LIMITS.record
        },
        options
      );
    } catch (error) {
      if (!(error instanceof ExchangeFailed)) throw error;
      throw this.unanswered(call, error);
    }
  }

  private unanswered(call: Call, error: ExchangeFailed) {
    const where = { ...this.describe(call), cause: error.reason };
    if (error.kind === 'local') {
      return immutaError({
        ...where,
        local: true,
        hint: 'This is not a network failure, so it was not tried again.'
      });
    }
    if (error.kind === 'untrusted') {
      return immutaError({
        ...where,
        hint: `The ${error.proxy ? "proxy's" : "tenant's"} TLS certificate is not trusted. If it is issued by a private CA, pass that CA's PEM in ca-certificate.`
      });
    }
    const reach =
      'Check that the runner can reach immuta-url (proxy, firewall, ca-certificate), or raise timeout-seconds';
    const maybe =
      call.method === 'DELETE'
        ? ' Immuta may have deleted the host without the answer arriving: check it in Immuta, or run the step again with if-missing: warn.'
        : '';
    return immutaError({
      ...where,
      hint:
        (error.attempts > 1
          ? `Gave up after ${error.attempts} attempts. ${reach} or max-attempts.`
          : `${reach}.`) + maybe,
      mayHaveDeleted: maybe !== ''
    });
  }
}

/**
 * Whether the delete's last answer leaves open that Immuta carried it out: a 408, 502, 503 or 504
 * (what a gateway or proxy answers when it gave up on the server behind it, whoever's shape it
 * comes in), or any other 5xx that is not in Immuta's own error shape (Cloudflare's 520-527, a
 * load balancer's 500 page). Immuta's own refusals (401, 403, 404, 409, 422, …) and its own
 * errors are its word on the delete and are taken as they are.
 */
function mayHaveBeenCarriedOut(answer: HttpAnswer): boolean {
  if (isUnsettledStatus(answer.status)) return true;
  return answer.status >= 500 && !isImmutaError(answer);
}

/** Printable ASCII as it is, anything else as \xNN: bytes that are not text, shown safely. */
function firstBytes(latin1: string, count = 24): string {
  const shown = [...latin1.slice(0, count)]
    .map((c) => (/[\x20-\x7e]/.test(c) ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
    .join('');
  return `“${shown}${latin1.length > count ? '…' : ''}”`;
}
