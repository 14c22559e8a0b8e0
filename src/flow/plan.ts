/**
 * Plan → approve → apply, as Terraform pipelines do it: a dry run writes what it would remove (the
 * tenant, and per host its integration and its cleanup script); a reviewed run applies exactly
 * that, and refuses when the world no longer matches. Pure: reading, writing and comparing plans.
 */
import { createHash } from 'node:crypto';

export const PLAN_KIND = 'immuta-deregister-host/plan';

export interface PlannedHost {
  readonly connectionKey: string;
  readonly integrationId: number | undefined;
  readonly technology: string | undefined;
  readonly hostname: string | undefined;
  /** Undefined for a host with no script (AWS Lake Formation). */
  readonly script: string | undefined;
  readonly sha256: string | undefined;
}

export interface Plan {
  readonly kind: typeof PLAN_KIND;
  readonly version: 1;
  /** immuta-url as the dry run used it. */
  readonly tenant: string;
  readonly createdAt: string;
  readonly hosts: readonly PlannedHost[];
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function planOf(
  tenant: string,
  hosts: readonly Omit<PlannedHost, 'sha256'>[],
  now: Date
): Plan {
  return {
    kind: PLAN_KIND,
    version: 1,
    tenant,
    createdAt: now.toISOString(),
    hosts: hosts.map((h) => ({
      ...h,
      sha256: h.script === undefined ? undefined : sha256(h.script)
    }))
  };
}

export function serializePlan(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

/** Why a plan file cannot be applied: it is not one, it is cut short, or it was edited. */
export class PlanError extends Error {}

/** Reads a plan file's text, trusting nothing: every field is checked, every script's hash too. */
export function parsePlan(text: string): Plan {
  let raw: unknown;
  try {
    // Editors on Windows save JSON with a byte-order mark, which JSON.parse refuses.
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    throw new PlanError('is not JSON (is it cut short?)');
  }
  if (!isRecord(raw) || raw.kind !== PLAN_KIND) {
    throw new PlanError(`is not a plan of this action (no "kind": "${PLAN_KIND}")`);
  }
  if (raw.version !== 1)
    throw new PlanError(`has version ${JSON.stringify(raw.version)}; this action reads version 1`);
  if (typeof raw.tenant !== 'string' || raw.tenant === '') throw new PlanError('names no tenant');
  if (!Array.isArray(raw.hosts) || raw.hosts.length === 0) throw new PlanError('names no hosts');
  const seen = new Set<string>();
  const hosts = raw.hosts.map((h: unknown, i: number): PlannedHost => {
    const where = `host ${i + 1}`;
    if (!isRecord(h) || typeof h.connectionKey !== 'string' || h.connectionKey === '') {
      throw new PlanError(`has no connectionKey for ${where}`);
    }
    if (seen.has(h.connectionKey)) throw new PlanError(`names host '${h.connectionKey}' twice`);
    seen.add(h.connectionKey);
    const script = optional(h.script, 'string', `${where}'s script`);
    const recorded = optional(h.sha256, 'string', `${where}'s sha256`);
    if ((script === undefined) !== (recorded === undefined)) {
      throw new PlanError(
        `has a script without its sha256, or the other way round, for '${h.connectionKey}'`
      );
    }
    if (script !== undefined && sha256(script) !== recorded) {
      throw new PlanError(
        `holds a script for '${h.connectionKey}' that does not match its sha256: it was edited after the dry run`
      );
    }
    const integrationId = optional(h.integrationId, 'number', `${where}'s integrationId`);
    return {
      connectionKey: h.connectionKey,
      integrationId,
      technology: optional(h.technology, 'string', `${where}'s technology`),
      hostname: optional(h.hostname, 'string', `${where}'s hostname`),
      script,
      sha256: recorded
    };
  });
  return {
    kind: PLAN_KIND,
    version: 1,
    tenant: raw.tenant,
    createdAt: typeof raw.createdAt === 'string' ? raw.createdAt : '',
    hosts
  };
}

/** What the world says now about one planned host. */
export interface Observed {
  readonly connectionKey: string;
  /** False when Immuta says the host is gone. */
  readonly present: boolean;
  readonly integrationId?: number | undefined;
  readonly sha256?: string | undefined;
}

/**
 * Every way the world differs from the plan, one line each; empty when it matches. A planned host
 * that is gone is no change: an earlier apply of this plan (or someone by hand) removed it, and
 * if-missing decides what that means. Only a host still there that drifted is one.
 */
export function changesSince(plan: Plan, tenant: string, observed: readonly Observed[]): string[] {
  if (plan.tenant !== tenant) {
    return [`The tenant: the plan was made for ${plan.tenant}, but immuta-url is ${tenant}.`];
  }
  const now = new Map(observed.map((o) => [o.connectionKey, o]));
  const changes: string[] = [];
  for (const planned of plan.hosts) {
    const seen = now.get(planned.connectionKey);
    if (seen === undefined) continue;
    const key = `Host '${planned.connectionKey}'`;
    if (!seen.present) continue;
    if ('integrationId' in seen && seen.integrationId !== planned.integrationId) {
      changes.push(
        `${key}: its integration was ${planned.integrationId ?? 'none'} and is now ${seen.integrationId ?? 'none'}.`
      );
    }
    if ('sha256' in seen && seen.sha256 !== planned.sha256) {
      changes.push(
        `${key}: its cleanup script changed (SHA-256 ${short(planned.sha256)} in the plan, ${short(seen.sha256)} now).`
      );
    }
  }
  return changes;
}

function short(hash: string | undefined): string {
  return hash === undefined ? 'none' : `${hash.slice(0, 12)}…`;
}

function optional<T extends 'string' | 'number'>(
  value: unknown,
  type: T,
  what: string
): (T extends 'string' ? string : number) | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== type) throw new PlanError(`has a ${what} that is not a ${type}`);
  return value as T extends 'string' ? string : number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
