/**
 * A cleanup script as step 3 runs it: one statement a request, each knowing whether it only sets
 * up the session, and the session each request must carry. Pure.
 *
 * Every request to either API is a session of its own, so what a statement left in the session
 * (a role, a database, a variable) is gone by the next request. The statements that only set up
 * the session are exactly these; nothing else is ever sent again:
 * - Snowflake: USE ROLE | WAREHOUSE | DATABASE | SCHEMA | SECONDARY ROLES …, a bare USE <name>,
 *   SET / UNSET, ALTER SESSION SET | UNSET. They are replayed, in order, in front of each later
 *   statement, in the same (multi-statement) request.
 * - Databricks: USE CATALOG …, USE SCHEMA … (and its synonym USE DATABASE), a bare USE <name>.
 *   They become the request's catalog and schema fields.
 * A script whose statements cannot run one a request (an explicit transaction, a scripting block
 * spanning statements, a temporary object or a session setting that would not carry) is refused
 * before anything is deleted: see `unrunnable`.
 */
import { splitStatements } from './split.js';
import type { Platform } from './settings.js';

export interface ScriptStatement {
  /** 0-based place in the script. */
  readonly index: number;
  readonly text: string;
  /** Only sets up the session: replayed (Snowflake) or made request fields (Databricks). */
  readonly session: boolean;
}

/** The session a Databricks request carries: its catalog and schema fields. */
export interface DatabricksSession {
  readonly catalog: string | undefined;
  readonly schema: string | undefined;
}

/** A name as Snowflake writes one: quoted ("a ""b"""), unquoted, IDENTIFIER(…) or $var; dotted. */
const SF_PART = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*|IDENTIFIER\s*\([^()]*\)|\$[A-Za-z_][A-Za-z0-9_]*)`;
const SF_NAME = String.raw`${SF_PART}(?:\s*\.\s*${SF_PART})*`;
const SNOWFLAKE_SESSION = [
  new RegExp(String.raw`^USE\s+(?:ROLE|WAREHOUSE|DATABASE|SCHEMA)\s+${SF_NAME}$`, 'i'),
  new RegExp(
    String.raw`^USE\s+SECONDARY\s+ROLES\s+(?:ALL|NONE|${SF_NAME}(?:\s*,\s*${SF_NAME})*)$`,
    'i'
  ),
  new RegExp(String.raw`^USE\s+(?!(?:ROLE|WAREHOUSE|DATABASE|SCHEMA|SECONDARY)\b)${SF_NAME}$`, 'i'),
  /^(?:SET|UNSET)\s+\S/i,
  /^ALTER\s+SESSION\s+(?:SET|UNSET)\s+\S/i
];

/** A name as Databricks writes one: `back quoted` (`` doubles) or plain; dotted. */
const DB_PART = String.raw`(?:\`(?:[^\`]|\`\`)+\`|[A-Za-z0-9_]+)`;
const DATABRICKS_CATALOG = new RegExp(String.raw`^USE\s+CATALOG\s+(${DB_PART})$`, 'i');
const DATABRICKS_SCHEMA = new RegExp(
  String.raw`^USE\s+(?:(?:SCHEMA|DATABASE)\s+)?(?!(?:CATALOG|SCHEMA|DATABASE)\s)(${DB_PART}(?:\.${DB_PART})?)$`,
  'i'
);

/** The script's statements, each marked session-only or not, for the platform. */
export function scriptStatements(script: string, platform: Platform): ScriptStatement[] {
  return splitStatements(script).map((text, index) => ({
    index,
    text,
    session: isSessionOnly(text, platform)
  }));
}

export function isSessionOnly(statement: string, platform: Platform): boolean {
  const text = statement.trim();
  if (platform === 'snowflake') return SNOWFLAKE_SESSION.some((p) => p.test(text));
  return DATABRICKS_CATALOG.test(text) || DATABRICKS_SCHEMA.test(text);
}

/** Snowflake: the session-only statements before `index`, in order, sent in front of it. */
export function snowflakeReplay(
  statements: readonly ScriptStatement[],
  index: number
): ScriptStatement[] {
  return statements.slice(0, index).filter((s) => s.session);
}

/** Databricks: the catalog and schema the USE statements before `index` leave in effect. */
export function databricksSession(
  statements: readonly ScriptStatement[],
  index: number
): DatabricksSession {
  let catalog: string | undefined;
  let schema: string | undefined;
  for (const s of statements.slice(0, index)) {
    if (!s.session) continue;
    const text = s.text.trim();
    const named = DATABRICKS_CATALOG.exec(text);
    if (named) {
      // Setting the catalog resets the schema to the catalog's default.
      catalog = unquote(named[1]!);
      schema = undefined;
      continue;
    }
    const parts = splitName(DATABRICKS_SCHEMA.exec(text)![1]!);
    if (parts.length === 2) catalog = parts[0];
    schema = parts.at(-1);
  }
  return { catalog, schema };
}

/** Each distinct session the script's statements are sent with, in order of first use. */
export function databricksSessions(statements: readonly ScriptStatement[]): DatabricksSession[] {
  const seen = new Map<string, DatabricksSession>();
  for (const s of statements) {
    const session = databricksSession(statements, s.index);
    seen.set(JSON.stringify(session), session);
  }
  return [...seen.values()];
}

function splitName(name: string): string[] {
  const parts: string[] = [];
  for (const m of name.matchAll(new RegExp(DB_PART, 'g'))) parts.push(unquote(m[0]));
  return parts;
}

function unquote(part: string): string {
  return part.startsWith('`') ? part.slice(1, -1).replace(/``/g, '`') : part;
}

/**
 * Statements that cannot run one a request: each would need the session, or the statements
 * around it, that a request of its own does not give. The first word (or two) says it.
 */
const SCRIPTING =
  /^(?:BEGIN|DECLARE|END|EXCEPTION|LET|IF|ELSEIF|ELSE|FOR|WHILE|LOOP|REPEAT|RETURN|BREAK|CONTINUE|LEAVE|ITERATE|AWAIT|COMMIT|ROLLBACK|START\s+TRANSACTION)\b/i;
const TEMPORARY =
  /^CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:LOCAL|GLOBAL)\s+)?(?:TEMP|TEMPORARY|VOLATILE)\s/i;
/** Databricks settings and variables live in the session too, and no request field carries them. */
const DATABRICKS_SESSION_STATE = /^(?:SET|RESET)\b/i;

/**
 * Why the script cannot run one statement a request, naming the first statement that shows it;
 * undefined when it can.
 */
export function unrunnable(
  statements: readonly ScriptStatement[],
  platform: Platform
): { readonly index: number; readonly why: string } | undefined {
  for (const s of statements) {
    const text = s.text.trim();
    if (SCRIPTING.test(text)) {
      return {
        index: s.index,
        why: /^(?:BEGIN(?:\s+(?:TRANSACTION|WORK|NAME\b.*))?$|START\s+TRANSACTION|COMMIT|ROLLBACK)\b/i.test(
          text
        )
          ? 'opens or ends an explicit transaction, which spans statements'
          : 'belongs to a scripting block (BEGIN … END, DECLARE, IF, FOR …) that spans statements'
      };
    }
    if (TEMPORARY.test(text)) {
      return {
        index: s.index,
        why: 'creates a temporary object, which lives only in the session that made it'
      };
    }
    if (platform === 'databricks' && !s.session && DATABRICKS_SESSION_STATE.test(text)) {
      return {
        index: s.index,
        why: 'sets a session setting or variable, which no later request would carry'
      };
    }
  }
  return undefined;
}
