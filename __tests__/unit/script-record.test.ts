import { describe, expect, it } from '@jest/globals';
import {
  knownRunOf,
  parseRecord,
  recordOf,
  resumption,
  serializeRecord,
  type ScriptRunRecord
} from '../../src/flow/script-record.js';
import type { ScriptRun, StatementResult } from '../../src/warehouse/types.js';

const SHA = 'a'.repeat(64);
const OTHER_SHA = 'b'.repeat(64);
const script = { connectionKey: 'snow', sha256: SHA, statements: 5 };

function statements(...outcomes: StatementResult['outcome'][]): StatementResult[] {
  return outcomes.map((outcome, i) => ({
    text: `S${i}`,
    outcome,
    durationMs: undefined,
    error: undefined
  }));
}

function run(status: ScriptRun['status'], ...outcomes: StatementResult['outcome'][]): ScriptRun {
  return {
    platform: 'snowflake',
    status,
    statements: statements(...outcomes),
    statementsRun: undefined,
    durationMs: 1,
    error: undefined,
    note: undefined
  };
}

function record(fields: Partial<ScriptRunRecord>): ScriptRunRecord {
  return {
    ...recordOf(
      run('failed', 'not-run', 'not-run', 'not-run', 'not-run', 'not-run'),
      { tenant: 'https://t', job: 'j', connectionKey: 'snow', scriptSha256: SHA, attempt: 1 },
      new Date(0)
    ),
    ...fields
  };
}

describe('what a run records', () => {
  it('counts the leading statements that ran, now or before', () => {
    expect(knownRunOf(statements('ran-before', 'ran', 'failed', 'not-run'))).toBe(2);
    expect(knownRunOf(statements('ran', 'ran'))).toBe(2);
    expect(knownRunOf(statements('unknown', 'unknown'))).toBe(0);
  });

  it('marks the statement after those as uncertain only when its outcome is unknown', () => {
    const key = {
      tenant: 'https://t',
      job: 'j',
      connectionKey: 'snow',
      scriptSha256: SHA,
      attempt: 2
    };
    const lost = recordOf(run('failed', 'ran', 'unknown', 'not-run'), key, new Date(0));
    expect(lost).toMatchObject({ status: 'failed', knownRun: 1, nextUncertain: true });
    const failed = recordOf(run('failed', 'ran', 'failed', 'not-run'), key, new Date(0));
    expect(failed).toMatchObject({ knownRun: 1, nextUncertain: false, statements: 3 });
    const done = recordOf(run('ran', 'ran-before', 'ran'), key, new Date(0));
    expect(done).toMatchObject({ status: 'ran', knownRun: 2, attempt: 2 });
  });

  it('reads back what it wrote, and nothing that lacks a field or has a wrong one', () => {
    const r = record({ knownRun: 3 });
    expect(parseRecord(serializeRecord(r))).toEqual(r);
    expect(parseRecord(`\uFEFF${serializeRecord(r)}`)).toEqual(r);
    expect(parseRecord('<html>sign in</html>')).toBeUndefined();
    expect(parseRecord(JSON.stringify({ ...r, kind: 'other' }))).toBeUndefined();
    expect(parseRecord(JSON.stringify({ ...r, knownRun: 9 }))).toBeUndefined();
    expect(parseRecord(JSON.stringify({ ...r, scriptSha256: 'abc' }))).toBeUndefined();
    expect(parseRecord(JSON.stringify({ ...r, status: 'maybe' }))).toBeUndefined();
    expect(parseRecord(JSON.stringify({ ...r, attempt: '1' }))).toBeUndefined();
    expect(parseRecord(JSON.stringify({ ...r, tenant: undefined }))).toBeUndefined();
  });
});

describe('what a later attempt does', () => {
  it('runs nothing once any attempt ran the whole script, and names the first', () => {
    const records = [
      record({ attempt: 3, status: 'ran', knownRun: 5 }),
      record({ attempt: 2, status: 'ran', knownRun: 5 }),
      record({ attempt: 1, knownRun: 2 })
    ];
    expect(resumption(records, script)).toEqual({
      kind: 'already-ran',
      attempt: 2,
      statements: 5
    });
  });

  it('resumes from the furthest any attempt is known to have got', () => {
    const records = [record({ attempt: 1, knownRun: 2 }), record({ attempt: 2, knownRun: 4 })];
    expect(resumption(records, script)).toEqual({
      kind: 'resume',
      startAt: 4,
      attempt: 2,
      uncertain: false
    });
  });

  it('says when the statement it resumes at may have run', () => {
    const records = [record({ attempt: 1, knownRun: 2, nextUncertain: true })];
    expect(resumption(records, script)).toMatchObject({ startAt: 2, uncertain: true });
  });

  it('runs the whole script from the start when the first statement failed', () => {
    expect(resumption([record({ knownRun: 0, nextUncertain: false })], script)).toEqual({
      kind: 'resume',
      startAt: 0,
      attempt: 1,
      uncertain: false
    });
  });

  it('runs the whole script with a reason when nothing is known', () => {
    expect(resumption([], script)).toMatchObject({
      kind: 'whole',
      why: expect.stringMatching(/no earlier attempt .* left a record/)
    });
    expect(resumption([record({ knownRun: 0, nextUncertain: true })], script)).toMatchObject({
      kind: 'whole',
      why: expect.stringMatching(/attempt 1 ran it and failed without saying how far it got/)
    });
  });

  it('passes over records of another host, another script or another statement count', () => {
    const foreign = [
      record({ status: 'ran', knownRun: 5, connectionKey: 'other' }),
      record({ status: 'ran', knownRun: 5, scriptSha256: OTHER_SHA }),
      record({ status: 'ran', knownRun: 4, statements: 4 })
    ];
    expect(resumption(foreign, script).kind).toBe('whole');
  });

  it('sends an uncertain request again under its requestId, and no other', () => {
    const id = '0f8fad5b-d9cb-469f-a165-70867728950e';
    expect(
      resumption([record({ knownRun: 2, nextUncertain: true, requestId: id })], script)
    ).toMatchObject({ kind: 'resume', startAt: 2, requestId: id });
    expect(
      resumption([record({ knownRun: 0, nextUncertain: true, requestId: id })], script)
    ).toMatchObject({ kind: 'whole', requestId: id });
    // A request that failed at a known statement is over: a resume sends a new one.
    expect(
      resumption([record({ knownRun: 2, nextUncertain: false, requestId: id })], script)
    ).not.toHaveProperty('requestId');
  });

  it('reads a requestId only as a UUID, as it goes into a URL', () => {
    const r = record({ requestId: '0f8fad5b-d9cb-469f-a165-70867728950e' });
    expect(parseRecord(serializeRecord(r))).toEqual(r);
    expect(parseRecord(JSON.stringify({ ...r, requestId: 'x&retry=false' }))).toBeUndefined();
  });
});
