/** A failed call to Immuta, explained for the person reading the workflow log. */
export class ImmutaError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    /** Immuta itself said 404, in its own error shape: the thing asked for does not exist. */
    readonly notFound = false,
    /**
     * The delete was sent and nothing settles what became of it (its answer was lost, or the
     * lookup that would tell failed): the host may be gone, so its script may be needed now.
     */
    readonly mayHaveDeleted = false
  ) {
    super(message);
    this.name = 'ImmutaError';
  }
}

export interface FailedCall {
  /** What the action was doing, e.g. "Getting the cleanup script". */
  readonly step: string;
  readonly method: string;
  /** The path as sent, prefix included. */
  readonly path: string;
  /** The HTTP status, or undefined when no response came. */
  readonly status?: number;
  /** Why no response came (timeout, reset), when none did. */
  readonly cause?: string;
  /** The exchange failed on this side (a request that cannot be sent, an answer that cannot be read), not on the network. */
  readonly local?: boolean;
  /** Immuta's own `message`, when the body had one. */
  readonly immutaMessage?: string;
  /** What the user can do about it. */
  readonly hint?: string;
  /** A delete whose outcome is unknown: see ImmutaError.mayHaveDeleted. */
  readonly mayHaveDeleted?: boolean;
}

export function describeFailure(call: FailedCall): string {
  const answer =
    call.status === undefined
      ? call.local
        ? `could not be completed: ${call.cause ?? 'unknown error'}`
        : `got no response (${call.cause ?? 'unknown network error'})`
      : `answered ${statusLine(call.status)}`;
  const parts = [`${call.step} failed: ${call.method} ${call.path} ${answer}.`];
  if (call.immutaMessage) parts.push(`Immuta said: ${sentence(call.immutaMessage)}`);
  if (call.hint) parts.push(call.hint);
  return parts.join(' ');
}

/** 404 Not Found: the code, with its reason phrase when it is a common one. */
export function statusLine(status: number): string {
  return STATUS_TEXT[status] ? `${status} ${STATUS_TEXT[status]}` : String(status);
}

function sentence(text: string): string {
  return /[.!?…]$/.test(text) ? text : `${text}.`;
}

export function immutaError(call: FailedCall, notFound = false): ImmutaError {
  return new ImmutaError(describeFailure(call), call.status, notFound, call.mayHaveDeleted);
}

/**
 * Whether a failure, or one it was wrapped around, is a delete whose outcome is unknown: a report
 * that said "not deleted" would keep the reader from a cleanup script that may be needed now.
 */
export function mayHaveDeleted(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof ImmutaError && e.mayHaveDeleted) return true;
  }
  return false;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
};
