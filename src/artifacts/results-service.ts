/**
 * GitHub's artifact back end as actions/upload-artifact talks to it: twirp JSON calls to the
 * run's results service (ACTIONS_RESULTS_URL), authorised by the runner's ACTIONS_RUNTIME_TOKEN.
 * The requests follow @actions/artifact (v6), the reference client: the same fields, in
 * protobuf's JSON with proto field names, and `version: 7` on CreateArtifact.
 */
import { answerText, isJsonType, mediaType, type HttpAnswer } from '../http/body.js';
import { ExchangeFailed, type HttpCaller } from '../http/caller.js';
import { excerpt } from '../action/escape.js';
import { parseJson } from '../immuta/responses.js';
import { USER_AGENT } from '../action/version.js';

const SERVICE = 'github.actions.results.api.v1.ArtifactService';
/** The service's answers are a few fields; a name-filtered list, a handful of artifacts. */
const ANSWER_LIMIT = 1024 * 1024;
/** What @actions/artifact tries again; a 409 or 400 will not change. */
const RETRYABLE: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);
/** Attempts at one request to the artifact service, as @actions/artifact makes them. */
export const ATTEMPTS = 5;
/** A call is a few hundred bytes each way: a minute without its answer is a service in trouble. */
export const RPC_TIMEOUT_MS = 60_000;

/** The run and job the runtime token is for, as the service names them. */
export interface BackendIds {
  readonly workflow_run_backend_id: string;
  readonly workflow_job_run_backend_id: string;
}

/**
 * The backend IDs from the token's `scp` claim (`Actions.Results:<run>:<job>`). The token is a
 * JWT; its signature is for the service to check, so only the payload is read.
 */
export function backendIdsFrom(token: string): BackendIds {
  const fail = () =>
    new Error(
      'ACTIONS_RUNTIME_TOKEN does not name the workflow run and job (no Actions.Results scope in it); only a GitHub Actions runner provides a usable one'
    );
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    throw fail();
  }
  const scope = (claims as { scp?: unknown } | null)?.scp;
  if (typeof scope !== 'string') throw fail();
  for (const part of scope.split(' ')) {
    const [name, run, job, ...rest] = part.split(':');
    if (name !== 'Actions.Results') continue;
    if (!run || !job || rest.length > 0) throw fail();
    return { workflow_run_backend_id: run, workflow_job_run_backend_id: job };
  }
  throw fail();
}

/** A field of an answer by its proto name, or by the lowerCamelCase name protobuf JSON also allows. */
export function field(message: Record<string, unknown>, protoName: string): unknown {
  const camel = protoName.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return message[protoName] ?? message[camel];
}

export class ResultsService {
  readonly origin: string;

  constructor(
    resultsUrl: string,
    private readonly token: string,
    private readonly caller: HttpCaller,
    private readonly redact: (text: string) => string,
    private readonly timeoutMs: number = RPC_TIMEOUT_MS
  ) {
    this.origin = new URL(resultsUrl).origin;
  }

  /**
   * Calls the method and returns its answer's JSON object. A call that may have been carried
   * out (its answer lost) is not sent again unless `resend` says that is harmless: a second
   * CreateArtifact would find the first one's artifact and fail as a clash.
   */
  async call(
    method: string,
    request: Record<string, unknown>,
    resend: boolean
  ): Promise<Record<string, unknown>> {
    const path = `/twirp/${SERVICE}/${method}`;
    let answer: HttpAnswer;
    try {
      answer = await this.caller.send(
        {
          method: 'POST',
          url: new URL(path, this.origin),
          shown: path,
          headers: {
            authorization: `Bearer ${this.token}`,
            'content-type': 'application/json',
            accept: 'application/json',
            'user-agent': USER_AGENT
          },
          body: JSON.stringify(request),
          limit: ANSWER_LIMIT
        },
        {
          resendLost: resend,
          retryable: (s) => RETRYABLE.has(s),
          timeoutMs: this.timeoutMs
        }
      );
    } catch (error) {
      if (!(error instanceof ExchangeFailed)) throw error;
      throw new Error(
        `Failed to ${method}: got no response from the results service at ${this.origin} (${error.reason})`,
        { cause: error }
      );
    }
    const json =
      !answer.truncated && isJsonType(mediaType(answer.contentType))
        ? parseJson(answerText(answer))
        : undefined;
    const message = isRecord(json) ? json : undefined;
    if (answer.status < 200 || answer.status > 299) {
      const said = typeof message?.msg === 'string' ? `: ${excerpt(this.redact(message.msg))}` : '';
      if (said.includes('insufficient usage')) {
        throw new Error(
          `Failed to ${method}: the artifact storage quota has been hit; delete artifacts or wait for GitHub to recalculate usage (the results service answered (${answer.status})${said})`
        );
      }
      const tried = RETRYABLE.has(answer.status)
        ? `Failed to make request after ${this.caller.policy.maxAttempts} attempts: `
        : '';
      throw new Error(
        `Failed to ${method}: ${tried}the results service answered (${answer.status})${said}`
      );
    }
    if (!message) {
      throw new Error(
        `Failed to ${method}: the results service answered ${answer.status} with ${answer.contentType ?? 'no content type'}, not the JSON object it sends; a proxy may have answered instead`
      );
    }
    return message;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
