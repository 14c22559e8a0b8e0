/**
 * Readers for Immuta's answers. There is no OpenAPI document for these endpoints and the
 * documented examples disagree with the schemas, so each reader accepts every shape seen or
 * documented; and it is strict where a wrong guess would do harm: a sign-in page, a firewall's
 * block page or an error object is never taken for a script or a deletion.
 */
import {
  compression,
  decodeText,
  isJsonType,
  isMarkupType,
  looksBinary,
  mediaType,
  answerText,
  type HttpAnswer
} from '../http/body.js';

/** Why an answer is not what was asked for; it quotes nothing, so no secret can reach it. */
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

/** What Immuta's answer to the delete says, read against the key that was deleted. */
export type DeleteAnswer =
  /** Immuta's answer for this host: it names this key, or names none but counts the children. */
  | { readonly kind: 'deleted'; readonly childCount: number | undefined }
  /**
   * A delete's answer for another host (or one of its children): a cache or gateway handing
   * back another request's answer. `named` is as the server wrote it, not yet redacted.
   */
  | {
      readonly kind: 'another-host';
      readonly field: 'connectionKey' | 'objectPath';
      readonly named: string;
    }
  /** It names no host and counts nothing (`{"connectionKey":""}`): it says nothing of a deletion. */
  | { readonly kind: 'no-host' }
  /** Not recognisably an answer to a delete: a page, an error object, other JSON. */
  | { readonly kind: 'unreadable' };

const SCRIPT_FIELDS = ['script', 'sql', 'content', 'data'] as const;

/** Text that opens like a web page or an XML document; no SQL script starts with a tag. */
const MARKUP = /^\s*<[!?a-zA-Z/]/;

/**
 * Most objects and arrays an answer may hold. Immuta's answers hold a handful; a hostile body of
 * millions of tiny ones would cost gigabytes to parse, so it is not parsed at all.
 */
const MAX_CONTAINERS = 10_000;

/** The JSON value, or undefined when the text is not JSON or far more nested than any answer. */
export function parseJson(text: string): unknown {
  if (containersOver(text, MAX_CONTAINERS)) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Whether the text opens more than `max` objects or arrays outside its strings. */
function containersOver(text: string, max: number): boolean {
  let containers = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if ((c === 0x7b || c === 0x5b) && ++containers > max) {
      return true;
    }
  }
  return false;
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

/** The answer's JSON, when it is JSON and does not say it is something else. */
function json(answer: HttpAnswer): unknown {
  const type = mediaType(answer.contentType);
  if (isMarkupType(type) || compression(answer)) return undefined;
  return parseJson(answerText(answer));
}

/**
 * Immuta's error shape: hapi/Boom bodies `{statusCode, error, message}`; some carry only
 * `message` or `error`. A proxy's page or an empty body is not it.
 */
function isErrorShape(value: unknown): boolean {
  if (!isRecord(value)) return false;
  const status = integer(value.statusCode);
  if (status !== undefined) return status >= 400;
  if (text(value.error) !== undefined) return true;
  return text(value.message) !== undefined && Object.keys(value).length === 1;
}

/** Whether the answer is Immuta saying something went wrong, in its own JSON shape. */
export function isImmutaError(answer: HttpAnswer): boolean {
  return isErrorShape(json(answer));
}

/** Immuta's error text: `message`, or only `error` when that is all there is. Not redacted. */
export function immutaMessage(answer: HttpAnswer): string | undefined {
  const body = json(answer);
  return isRecord(body) ? (text(body.message) ?? text(body.error)) : undefined;
}

function refuseErrorShape(body: unknown): void {
  if (isRecord(body) && isErrorShape(body)) {
    throw new ResponseShapeError(
      `it is an error object (statusCode ${String(body.statusCode ?? 'none')}), not what was asked for`
    );
  }
}

function jsonObject(answer: HttpAnswer, what: string): Record<string, unknown> {
  const body = json(answer);
  if (!isRecord(body)) throw new ResponseShapeError(`expected ${what} as a JSON object`);
  refuseErrorShape(body);
  return body;
}

export function parseToken(answer: HttpAnswer): string | undefined {
  const body = json(answer);
  return isRecord(body) ? text(body.token) : undefined;
}

export function parseConnection(answer: HttpAnswer, connectionKey: string): ConnectionInfo {
  const body = jsonObject(answer, "the host's connection record");
  const echoed = text(body.connectionKey);
  if (echoed !== undefined && echoed !== connectionKey) {
    throw new ResponseShapeError(
      `it describes a different host (connectionKey ${JSON.stringify(echoed)})`
    );
  }
  const connection = isRecord(body.connection) ? body.connection : {};
  return {
    nativeIntegrationId: integer(body.nativeIntegrationId),
    technology: text(connection.technology) ?? text(body.technology),
    hostname: text(connection.hostname) ?? text(body.hostname)
  };
}

/**
 * The host's data object. Like the connection record, it must be this host's: Immuta's names
 * its key in objectPath (["key"]); one naming another host or a child object, or naming none
 * (`{}`, a cache's or a stub's answer), says nothing of this host, present or gone.
 */
export function parseObject(answer: HttpAnswer, connectionKey: string): ObjectInfo {
  const body = jsonObject(answer, "the host's data object");
  const path = nameIn(body.objectPath, connectionKey);
  const key = nameIn(body.connectionKey, connectionKey);
  if (path === 'unreadable' || key === 'unreadable') {
    throw new ResponseShapeError("its objectPath or connectionKey is not a host's name");
  }
  // The name is not quoted here: the answer's start is quoted, with its secrets cut out.
  if (typeof path === 'object' || typeof key === 'object') {
    throw new ResponseShapeError(
      `it describes a different host or object (its ${typeof path === 'object' ? 'objectPath' : 'connectionKey'} names another)`
    );
  }
  if (path !== 'this' && key !== 'this') {
    throw new ResponseShapeError('it names no host (no objectPath or connectionKey)');
  }
  return { state: text(body.state), technology: text(body.technology) };
}

/** The integration's status (`enabled`, `editing`, `deleting`, …), to explain a 409. */
export function parseIntegrationStatus(answer: HttpAnswer): string | undefined {
  const body = json(answer);
  return isRecord(body) ? text(body.status) : undefined;
}

/**
 * Whether the answer is Immuta's list of integrations (`GET /integrations`): a JSON array of
 * objects. A page, an error object or any other JSON is not, whatever its status said.
 */
export function isIntegrationList(answer: HttpAnswer): boolean {
  const body = json(answer);
  return Array.isArray(body) && body.every(isRecord);
}

/**
 * The cleanup script from whatever shape Immuta answers with: a JSON string, a JSON object with
 * the script in a string field, or a body of text. Anything else (a page, compressed or binary
 * bytes, an error object, JSON of another shape) is refused, because it would be kept in place
 * of the real script, which is gone for good once the host is deleted.
 */
export function parseScript(answer: HttpAnswer): string {
  const encoding = compression(answer);
  if (encoding) {
    throw new ResponseShapeError(
      `it is compressed (content-encoding ${encoding}) although the action asked for no compression`
    );
  }
  const type = mediaType(answer.contentType);
  if (isMarkupType(type)) {
    throw new ResponseShapeError(
      `it is ${type!.essence === 'text/html' ? 'an HTML page' : 'markup'}, not a script`
    );
  }
  let body: string;
  try {
    body = decodeText(answer.bytes, type?.charset, 'strict');
  } catch (error) {
    throw new ResponseShapeError(`it is not text: ${(error as Error).message}`);
  }
  if (MARKUP.test(body)) throw new ResponseShapeError('it is an HTML page, not a script');
  const script = body.trim() === '' ? body : scriptIn(body, type);
  if (script.trim() === '') throw new ResponseShapeError('the script was empty');
  if (looksBinary(script)) throw new ResponseShapeError('it holds binary bytes, not text');
  if (MARKUP.test(script)) throw new ResponseShapeError('it is an HTML page, not a script');
  return script;
}

function scriptIn(body: string, type: ReturnType<typeof mediaType>): string {
  // A text type is the script itself, even when it happens to look like JSON.
  if (type?.essence.startsWith('text/')) return body;
  const opening = /^\s*(.)/.exec(body)?.[1];
  if (opening === '[') throw new ResponseShapeError('expected the script, got a JSON array');
  const parsed = parseJson(body);
  if (typeof parsed === 'string') return parsed;
  if (isRecord(parsed)) {
    for (const field of SCRIPT_FIELDS) {
      if (typeof parsed[field] === 'string') return parsed[field];
    }
    refuseErrorShape(parsed);
    throw new ResponseShapeError(
      `expected the script as a JSON string or in a field named ${SCRIPT_FIELDS.join(', ')}`
    );
  }
  if (parsed !== undefined) throw new ResponseShapeError('expected the script, got other JSON');
  // No SQL script starts with a brace: this is JSON that could not be read, not a script.
  if (opening === '{')
    throw new ResponseShapeError('it looks like JSON but cannot be read as JSON');
  if (isJsonType(type)) throw new ResponseShapeError('it says it is JSON but is not');
  return body;
}

/**
 * Immuta's answer to the delete of `connectionKey`, with `childCount` from `{connectionKey,
 * childCount}`, `{objectPath: [...], childCount}` or the documented example, whose single-quoted
 * strings are not JSON. It counts only when it is this host's: an answer naming another host is
 * held to the rule the lookup is held to, and one naming none counts only with a child count.
 * Anything else leaves the deletion to a lookup.
 */
export function parseDeleteResult(answer: HttpAnswer, connectionKey: string): DeleteAnswer {
  const body = json(answer);
  if (isRecord(body)) {
    if (isErrorShape(body)) return UNREADABLE;
    return deleteAnswer(body, integer(body.childCount), connectionKey);
  }
  if (body !== undefined || isMarkupType(mediaType(answer.contentType))) return UNREADABLE;
  const raw = answerText(answer);
  if (MARKUP.test(raw)) return UNREADABLE;
  const match = /^\s*\{[\s\S]*["']?childCount["']?\s*:\s*["']?(\d+)/.exec(raw);
  if (!match) return UNREADABLE;
  return deleteAnswer(fieldsInExample(raw), integer(match[1]), connectionKey);
}

const UNREADABLE: DeleteAnswer = { kind: 'unreadable' };

function deleteAnswer(
  body: Record<string, unknown>,
  childCount: number | undefined,
  connectionKey: string
): DeleteAnswer {
  const key = nameIn(body.connectionKey, connectionKey);
  const path = nameIn(body.objectPath, connectionKey);
  if (key === 'unreadable' || path === 'unreadable') return UNREADABLE;
  if (typeof key === 'object') return { kind: 'another-host', field: 'connectionKey', ...key };
  if (typeof path === 'object') return { kind: 'another-host', field: 'objectPath', ...path };
  const namesThis = key === 'this' || path === 'this';
  // An error never counts as a deletion, whatever count it carries; one whose error or message
  // is all it adds to a count is not one either, unless it names this host.
  const status = integer(body.statusCode);
  if (status !== undefined && status >= 400) return UNREADABLE;
  if (!namesThis && (body.error !== undefined || body.message !== undefined)) return UNREADABLE;
  if (namesThis || childCount !== undefined) {
    return { kind: 'deleted', childCount };
  }
  return 'connectionKey' in body || 'objectPath' in body ? { kind: 'no-host' } : UNREADABLE;
}

/**
 * Which host a connectionKey or objectPath names: none (absent, null, empty), this one, another
 * (a host's objectPath is its key alone: a longer path is a child object), or something no
 * answer of Immuta's holds.
 */
function nameIn(
  value: unknown,
  connectionKey: string
): 'none' | 'this' | { named: string } | 'unreadable' {
  if (value === undefined || value === null || value === '') return 'none';
  const path = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(path) || !path.every((p) => typeof p === 'string')) return 'unreadable';
  if (path.length === 0 || path.every((p) => p === '')) return 'none';
  return path.length === 1 && path[0] === connectionKey ? 'this' : { named: path.join('/') };
}

/**
 * connectionKey and objectPath as the docs' single-quoted example writes them, and the fields of
 * an error (statusCode, error, message) in the same notation: `{ statusCode: 500, error: '…' }`
 * is hapi's error as a JavaScript object prints it, never a deletion.
 */
function fieldsInExample(raw: string): Record<string, unknown> {
  const quoted = /["']([^"']*)["']/g;
  const key = /["']?connectionKey["']?\s*:\s*["']([^"']*)["']/.exec(raw);
  const path = /["']?objectPath["']?\s*:\s*\[([^\]]*)\]/.exec(raw);
  const status = /[{,]\s*["']?statusCode["']?\s*:\s*["']?(\d+)/.exec(raw);
  const field = (name: string) =>
    new RegExp(`[{,]\\s*["']?${name}["']?\\s*:`).test(raw) ? name : undefined;
  return {
    connectionKey: key?.[1],
    objectPath: path ? [...path[1]!.matchAll(quoted)].map((m) => m[1]) : undefined,
    statusCode: status?.[1],
    error: field('error'),
    message: field('message')
  };
}

/** AWS Lake Formation hosts have no cleanup script (Immuta's docs: go straight to the delete). */
export function hasNoScript(technology: string | undefined): boolean {
  return technology !== undefined && /lake\s*formation/i.test(technology);
}
