/**
 * Answers read with a hard cap and decoded by what they declare. A server, proxy or attacker
 * decides how long a body is, so no body is read further than the caller can use.
 */

/** An HTTP answer as the action keeps it: the head, and the body's bytes up to a cap. */
export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly retryAfter: string | undefined;
  readonly bytes: Buffer;
  /** The body went on past the cap and was cut there (only for answers read to be quoted). */
  readonly truncated: boolean;
}

interface Body extends AsyncIterable<Buffer | Uint8Array> {
  destroy(error?: Error): unknown;
}

/**
 * Reads at most `limit` bytes and stops there: the rest is never read, and `truncated` says there
 * was more. An error answer's first kilobytes say all there is to say; an answer that was to be
 * used whole and was cut is refused by the caller.
 */
export async function readCapped(
  body: Body,
  limit: number
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    const room = limit - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      body.destroy();
      return { bytes: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

export interface MediaType {
  /** type/subtype, lower case, e.g. application/json. */
  readonly essence: string;
  readonly charset: string | undefined;
}

/** The declared media type, or undefined when there is none. */
export function mediaType(contentType: string | undefined): MediaType | undefined {
  if (contentType === undefined || contentType.trim() === '') return undefined;
  const [essence = '', ...parameters] = contentType.split(';');
  let charset: string | undefined;
  for (const parameter of parameters) {
    const m = /^\s*charset\s*=\s*"?([^";\s]+)"?\s*$/i.exec(parameter);
    if (m) charset = m[1]!.toLowerCase();
  }
  return { essence: essence.trim().toLowerCase(), charset };
}

export function isJsonType(type: MediaType | undefined): boolean {
  return type !== undefined && /^application\/([\w.+-]+\+)?json$/.test(type.essence);
}

export function isMarkupType(type: MediaType | undefined): boolean {
  return type !== undefined && /(^text\/html$|xml$|^application\/xhtml)/.test(type.essence);
}

/** A compression the answer declares; none was asked for, so none can be read. */
export function compression(answer: Pick<HttpAnswer, 'contentEncoding'>): string | undefined {
  const encoding = answer.contentEncoding?.trim().toLowerCase();
  return encoding && encoding !== 'identity' ? encoding : undefined;
}

/**
 * The body as text in its declared charset (UTF-8 when none is declared). Strict decoding throws
 * on an unknown charset and on bytes that are not text in it; lenient decoding, for quoting an
 * error answer, replaces them.
 */
export function decodeText(
  bytes: Buffer,
  charset: string | undefined,
  mode: 'strict' | 'lenient'
): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset ?? 'utf-8', { fatal: mode === 'strict' });
  } catch {
    if (mode === 'strict') throw new Error(`its charset ${JSON.stringify(charset)} is not known`);
    decoder = new TextDecoder('utf-8');
  }
  try {
    return decoder.decode(bytes);
  } catch {
    throw new Error(`its bytes are not valid ${charset ?? 'UTF-8'} text`);
  }
}

/** Controls other than tab, line breaks and form feed, or undecodable bytes: no text holds them. */
const BINARY = /(?![\t\n\r\f])\p{Cc}|\ufffd/u;

/** Whether decoded text holds what only bytes that are not text would decode to. */
export function looksBinary(text: string): boolean {
  return BINARY.test(text);
}

/** A body's text for a message, never failing. */
export function answerText(answer: Pick<HttpAnswer, 'bytes' | 'contentType'>): string {
  return decodeText(answer.bytes, mediaType(answer.contentType)?.charset, 'lenient');
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;
  if (n >= 1024) return `${Math.round((n / 1024) * 10) / 10} KiB`;
  return `${n} bytes`;
}
