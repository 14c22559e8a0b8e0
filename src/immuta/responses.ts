/**
 * Lenient readers for Immuta's responses. There is no OpenAPI document for these endpoints and the
 * documented examples disagree with the schemas, so each reader accepts every shape seen or
 * documented and is strict only where a wrong guess would do harm.
 */

export class ResponseShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResponseShapeError';
  }
}

export interface ConnectionInfo {
  readonly nativeIntegrationId: number | undefined;
  readonly technology: string | undefined;
  readonly hostname: string | undefined;
}

export interface ObjectInfo {
  readonly state: string | undefined;
  readonly technology: string | undefined;
}

export interface DeleteResult {
  /** Children deleted with the host; undefined when the body did not say. */
  readonly childCount: number | undefined;
}

const SCRIPT_FIELDS = ['script', 'sql', 'content', 'data'] as const;

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A positive integer from a number or a numeric string: Immuta's examples use both. */
export function integer(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** The body cut short enough to quote in a log line. */
export function excerpt(body: string, max = 200): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** Immuta's error text: hapi/Boom bodies carry `message`, some carry only `error`. */
export function immutaMessage(body: string): string | undefined {
  const json = parseJson(body);
  if (isRecord(json)) {
    const message = text(json.message) ?? text(json.error);
    return message === undefined ? undefined : excerpt(message, 500);
  }
  return undefined;
}

export function parseToken(body: string): string | undefined {
  const json = parseJson(body);
  return isRecord(json) ? text(json.token) : undefined;
}

export function parseConnection(body: string): ConnectionInfo {
  const json = parseJson(body);
  if (!isRecord(json)) {
    throw new ResponseShapeError(`expected a JSON object, got: ${excerpt(body)}`);
  }
  const connection = isRecord(json.connection) ? json.connection : {};
  return {
    nativeIntegrationId: integer(json.nativeIntegrationId),
    technology: text(connection.technology) ?? text(json.technology),
    hostname: text(connection.hostname) ?? text(json.hostname)
  };
}

export function parseObject(body: string): ObjectInfo {
  const json = parseJson(body);
  return isRecord(json)
    ? { state: text(json.state), technology: text(json.technology) }
    : { state: undefined, technology: undefined };
}

/** The integration's status (`enabled`, `editing`, `deleting`, …), to explain a 409. */
export function parseIntegrationStatus(body: string): string | undefined {
  const json = parseJson(body);
  return isRecord(json) ? text(json.status) : undefined;
}

/**
 * The cleanup script from whatever shape the endpoint answers with: a JSON string, a JSON object
 * with the script in a string field, or a plain-text body.
 */
export function parseScript(body: string, contentType: string | undefined): string {
  const declaredText = /^text\//i.test(contentType ?? '');
  const json = declaredText ? undefined : parseJson(body);
  if (typeof json === 'string') return nonEmpty(json, body);
  if (isRecord(json)) {
    for (const field of SCRIPT_FIELDS) {
      if (typeof json[field] === 'string') return nonEmpty(json[field], body);
    }
    throw new ResponseShapeError(
      `expected the script as a JSON string or in a field named ${SCRIPT_FIELDS.join(', ')}, got: ${excerpt(body)}`
    );
  }
  if (json !== undefined) {
    throw new ResponseShapeError(`expected the script, got JSON: ${excerpt(body)}`);
  }
  return nonEmpty(body, body);
}

function nonEmpty(script: string, body: string): string {
  if (script.trim() === '') {
    throw new ResponseShapeError(`the script was empty (body: ${excerpt(body) || 'empty'})`);
  }
  return script;
}

/**
 * `childCount` from `{connectionKey, childCount}`, `{objectPath: [...], childCount}`, or the
 * documented example, whose single-quoted strings are not JSON. Never throws: a delete that
 * succeeded must not fail because its body was odd.
 */
export function parseDeleteResult(body: string): DeleteResult {
  const json = parseJson(body);
  if (isRecord(json)) return { childCount: integer(json.childCount) };
  const match = /["']?childCount["']?\s*:\s*["']?(\d+)/.exec(body);
  return { childCount: match ? integer(match[1]) : undefined };
}

/** AWS Lake Formation hosts have no cleanup script (Immuta's docs: go straight to the delete). */
export function hasNoScript(technology: string | undefined): boolean {
  return technology !== undefined && /lake\s*formation/i.test(technology);
}
