/**
 * Pure parts of a Snowflake run: the text one request sends (the script whole, or the rest of
 * it for a resumed run), where each statement stands in that text, and which statement a failure
 * position points at.
 */
import type { Statement } from './split.js';

/** A statement as sent: its index in the script, its place in the sent text, replayed or not. */
export interface SentStatement {
  readonly index: number;
  readonly start: number;
  readonly end: number;
  /** A session-only statement an earlier attempt ran, sent again for the ones after it. */
  readonly replay: boolean;
}

export interface SnowflakeRequestPlan {
  readonly text: string;
  readonly sent: readonly SentStatement[];
}

/**
 * Statements that only set up the session: they leave nothing behind, so a resumed run sends
 * them again, and the statements after them need them.
 */
const SESSION_ONLY =
  /^(?:USE\s+(?:ROLE|WAREHOUSE|DATABASE|SCHEMA|SECONDARY\s+ROLES)\b|ALTER\s+SESSION\s+(?:SET|UNSET)\b)/i;

export function isSessionOnly(statement: string): boolean {
  return SESSION_ONLY.test(statement);
}

/**
 * The request for a run from statement startAt: the script unchanged from the start, else the
 * session-only statements before startAt and every statement from it, joined with ";\n".
 */
export function planRequest(
  script: string,
  statements: readonly Statement[],
  startAt: number
): SnowflakeRequestPlan {
  if (startAt === 0) {
    return {
      text: script,
      sent: statements.map((s, index) => ({ index, start: s.start, end: s.end, replay: false }))
    };
  }
  const parts = statements
    .map((s, index) => ({ index, text: s.text, replay: index < startAt }))
    .filter((p) => !p.replay || isSessionOnly(p.text));
  const sent: SentStatement[] = [];
  let offset = 0;
  for (const part of parts) {
    sent.push({
      index: part.index,
      start: offset,
      end: offset + part.text.length,
      replay: part.replay
    });
    offset += part.text.length + 2;
  }
  return { text: parts.map((p) => p.text).join(';\n'), sent };
}

/**
 * Snowflake runs a multi-statement request as a Snowflake Scripting block, and a failure inside
 * one comes back in that block's envelope, at the start of the message:
 * "Uncaught exception of type 'STATEMENT_ERROR' on line 3 at position 0 : <the statement's error>"
 * (line from 1, position from 0, in the text that was sent). Only that anchored prefix is read:
 * the rest of the message can quote anything, a statement's own text included.
 */
const ENVELOPE = /^Uncaught exception of type '[A-Z_]+' on line (\d{1,9}) at position (\d{1,9}) : /;

/** The offset in `text` that the message's envelope names, or undefined when there is none. */
export function reportedOffset(message: string, text: string): number | undefined {
  const m = ENVELOPE.exec(message);
  if (!m) return undefined;
  const line = Number(m[1]);
  const column = Number(m[2]);
  if (line < 1) return undefined;
  let start = 0;
  for (let l = 1; l < line; l++) {
    const lf = text.indexOf('\n', start);
    const cr = text.indexOf('\r', start);
    if (lf === -1 && cr === -1) return undefined;
    const brk = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
    start = brk + (text[brk] === '\r' && text[brk + 1] === '\n' ? 2 : 1);
  }
  const lineEnd = text.slice(start).search(/[\r\n]|$/);
  return column <= lineEnd ? start + column : undefined;
}

/**
 * The position (in `sent`) of the statement an offset falls in: a statement owns the text from
 * the end of the one before it (comments and spaces) to its own end.
 */
export function statementAt(offset: number, sent: readonly SentStatement[]): number | undefined {
  const at = sent.findIndex((s) => offset < s.end);
  return at === -1 ? undefined : at;
}

/** The statement's own error, without the envelope around it. */
export function withoutEnvelope(message: string): string {
  return message.replace(ENVELOPE, '');
}
