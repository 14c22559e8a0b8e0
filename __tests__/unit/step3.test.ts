// Step 3's pure parts: the executor over a scripted adapter, the record and its names, where a
// re-run goes on, the Snowflake request IDs, and the token that is renewed before it expires.
import { describe, expect, it } from '@jest/globals';
import {
  execute,
  FirstRecordFailed,
  withinCancelGrace,
  type Recorder
} from '../../src/step3/executor.js';
import { attemptsText } from '../../src/step3/step.js';
import {
  parseRecord,
  recordName,
  recordPlace,
  recordPrefix,
  RECORD_KIND,
  serializeRecord,
  type RecordIdentity,
  type RecordedStatement,
  type Step3Record
} from '../../src/step3/record.js';
import { resumption, UntrustedRecord } from '../../src/step3/resume.js';
import { requestIdFor, type RequestScope } from '../../src/step3/request-id.js';
import { RenewingToken } from '../../src/warehouse/auth.js';
import { scriptStatements } from '../../src/warehouse/statements.js';
import type {
  StatementEnd,
  StatementRequest,
  WarehouseAdapter
} from '../../src/warehouse/types.js';
import { artifactNameFor } from '../../src/action/naming.js';

const SCRIPT = scriptStatements('DROP A;\nDROP B;\nDROP C;', 'snowflake');
const never = (): RecordedStatement => ({
  outcome: 'not-run',
  generation: 0,
  attempt: null,
  statementId: null
});

/** An adapter whose statements end as scripted, in order; it records what it was asked. */
function scripted(ends: StatementEnd[], platform: 'snowflake' | 'databricks' = 'snowflake') {
  const asked: StatementRequest[] = [];
  const adapter: WarehouseAdapter = {
    platform,
    check: async () => 'signed in',
    checkScript: async () => undefined,
    whereToCheck: () => 'the query history',
    execute: async (request, controls) => {
      asked.push(request);
      const end = ends.shift() ?? { outcome: 'ran' };
      if (end.statementId) await controls.onAccepted(end.statementId);
      return end;
    }
  };
  return { adapter, asked };
}

/** A recorder that keeps every snapshot, and fails those `fails` says. */
function recorder(fails: (n: number) => boolean = () => false) {
  const written: { event: string; stop: string | null; statements: RecordedStatement[] }[] = [];
  let n = 0;
  const r: Recorder = {
    write: async (event, stop, statements) => {
      if (fails(n++)) throw new Error('the artifact service said no');
      written.push({ event, stop, statements: structuredClone([...statements]) });
    }
  };
  return { recorder: r, written };
}

const run = (
  adapter: WarehouseAdapter,
  r: Recorder | undefined,
  start = { at: 0, settle: false, known: SCRIPT.map(never) },
  signal = new AbortController().signal
) =>
  execute({
    statements: SCRIPT,
    start,
    attempt: 2,
    adapter,
    recorder: r,
    deadline: Date.now() + 10_000,
    signal,
    log: { info: () => undefined, warning: () => undefined }
  });

describe('the executor', () => {
  it('records before the first statement (marked in doubt: it may be sent from then on) and after each one', async () => {
    const { adapter } = scripted([]);
    const { recorder: r, written } = recorder();
    const done = await run(adapter, r);
    expect(done.stop).toBe('done');
    expect(written.map((w) => [w.event, w.stop, w.statements.map((s) => s.outcome)])).toEqual([
      ['started', null, ['in-doubt', 'not-run', 'not-run']],
      ['ended', null, ['ran', 'in-doubt', 'not-run']],
      ['ended', null, ['ran', 'ran', 'in-doubt']],
      ['ended', 'done', ['ran', 'ran', 'ran']]
    ]);
    expect(done.results.map((x) => x.outcome)).toEqual(['ran', 'ran', 'ran']);
  });

  it('stops at the first statement that did not run, saying which and why', async () => {
    const { adapter, asked } = scripted([{ outcome: 'ran' }, { outcome: 'failed', error: 'No.' }]);
    const { recorder: r, written } = recorder();
    const done = await run(adapter, r);
    expect(asked).toHaveLength(2);
    expect(done.stop).toBe('failed');
    expect(done.error).toBe('Statement 2 of 3 (DROP B) failed: No.');
    expect(written.at(-1)!.statements.map((s) => s.outcome)).toEqual(['ran', 'failed', 'not-run']);
  });

  it('a first record that cannot be kept starts nothing', async () => {
    const { adapter, asked } = scripted([]);
    const { recorder: r } = recorder((n) => n === 0);
    await expect(run(adapter, r)).rejects.toBeInstanceOf(FirstRecordFailed);
    expect(asked).toEqual([]);
  });

  it('a later record that cannot be kept sends nothing more, and one last record says the truth', async () => {
    const { adapter, asked } = scripted([]);
    const { recorder: r, written } = recorder((n) => n === 1);
    const done = await run(adapter, r);
    expect(asked).toHaveLength(1);
    expect(done.stop).toBe('record-failed');
    expect(done.error).toMatch(
      /Keeping the record of step 3 failed \(the artifact service said no\)/
    );
    expect(written.at(-1)).toMatchObject({ stop: 'record-failed' });
    expect(written.at(-1)!.statements.map((s) => s.outcome)).toEqual(['ran', 'not-run', 'not-run']);
  });

  it('records the statement_id the moment the warehouse takes a statement', async () => {
    const { adapter } = scripted([{ outcome: 'ran', statementId: 'abc-1' }], 'databricks');
    const { recorder: r, written } = recorder();
    await run(adapter, r);
    expect(written[1]).toMatchObject({ event: 'accepted' });
    expect(written[1]!.statements[0]).toMatchObject({ outcome: 'in-doubt', statementId: 'abc-1' });
  });

  it('settles a statement in doubt first; one its warehouse says did not run goes again as a new request', async () => {
    const { adapter, asked } = scripted([{ outcome: 'cancelled', error: 'cancelled' }]);
    const known = SCRIPT.map(never);
    known[1] = { outcome: 'in-doubt', generation: 3, attempt: 1, statementId: null };
    const done = await run(adapter, undefined, { at: 1, settle: true, known });
    expect(asked.map((a) => [a.statement.index, a.generation, a.settle !== undefined])).toEqual([
      [1, 3, true],
      [1, 4, false],
      [2, 0, false]
    ]);
    expect(done.stop).toBe('done');
    expect(done.results.map((x) => x.outcome)).toEqual(['ran-before', 'ran', 'ran']);
  });

  it('a statement in doubt that was not asked about (the job was cancelled first) stays in doubt', async () => {
    const { adapter } = scripted([{ outcome: 'not-run', error: 'The job was cancelled.' }]);
    const known = SCRIPT.map(never);
    known[0] = { outcome: 'in-doubt', generation: 0, attempt: 1, statementId: null };
    const done = await run(adapter, undefined, { at: 0, settle: true, known });
    expect(done.known[0]).toMatchObject({ outcome: 'in-doubt', attempt: 1 });
  });

  it('a job cancelled before a statement is sent leaves it not run, to go under the same ID later', async () => {
    const { adapter, asked } = scripted([]);
    const { recorder: r, written } = recorder();
    const job = new AbortController();
    job.abort();
    const done = await run(adapter, r, undefined, job.signal);
    expect(asked).toEqual([]);
    expect(done.stop).toBe('cancelled');
    expect(written.at(-1)!.statements[0]).toEqual(never());
  });
});

const identity: RecordIdentity = {
  tenant: 'https://acme.immuta.com',
  job: 'deregister',
  connectionKey: 'snowflake-prod',
  platform: 'snowflake',
  runId: '4242',
  scriptArtifact: 'immuta-cleanup-script-snowflake-prod',
  scriptSha256: 'a'.repeat(64)
};

function record(statements: RecordedStatement[], more: Partial<Step3Record> = {}): Step3Record {
  return {
    kind: RECORD_KIND,
    version: 1,
    ...identity,
    origin: 1,
    attempt: 1,
    sequence: 3,
    event: 'ended',
    stop: null,
    statements,
    writtenAt: new Date(0).toISOString(),
    ...more
  };
}

describe('the record', () => {
  it('reads back what it wrote, and nothing that lacks a field or has a wrong one', () => {
    const r = record([{ outcome: 'ran', generation: 0, attempt: 1, statementId: 'x-1' }]);
    expect(parseRecord(serializeRecord(r))).toEqual(r);
    for (const broken of [
      { ...r, kind: 'other' },
      { ...r, origin: 2 },
      { ...r, statements: [{ outcome: 'maybe', generation: 0, attempt: 1, statementId: null }] },
      { ...r, statements: [{ outcome: 'ran', generation: 0, attempt: 1, statementId: '../x' }] },
      { ...r, scriptSha256: 'not a digest' }
    ]) {
      expect(parseRecord(JSON.stringify(broken))).toBeUndefined();
    }
    expect(parseRecord('not json')).toBeUndefined();
  });

  it('is named apart from every script artifact name and from a neighbour’s records', () => {
    const name = recordName(identity, 2, 5);
    expect(recordPlace(name, recordPrefix(identity))).toEqual({ attempt: 2, sequence: 5 });
    expect(name.startsWith('immuta-cleanup-script')).toBe(false);
    expect(name).not.toBe(artifactNameFor('snowflake-prod-script-run-1'));
    for (const other of [
      { tenant: 'https://other.immuta.com' },
      { job: 'retire-b' },
      { connectionKey: 'snowflake-dev' },
      { scriptArtifact: 'immuta-cleanup-script-snowflake-prod-deregister' }
    ]) {
      expect(recordPrefix({ ...identity, ...other })).not.toBe(recordPrefix(identity));
    }
    expect(recordPlace(`${recordPrefix(identity)}2-5-x`, recordPrefix(identity))).toBeUndefined();
  });
});

describe('where a re-run goes on', () => {
  const script = { sha256: 'a'.repeat(64), statements: 3, platform: 'snowflake' as const };
  const at = (outcome: RecordedStatement['outcome'], more: Partial<RecordedStatement> = {}) => ({
    outcome,
    generation: 1,
    attempt: 1,
    statementId: null,
    ...more
  });

  it('with no record: from the first statement', () => {
    expect(resumption(undefined, script)).toEqual({ kind: 'fresh' });
  });

  it('after the whole script ran: nowhere', () => {
    const done = record([at('ran'), at('ran'), at('ran', { attempt: 2 })], { attempt: 2 });
    expect(resumption(done, script)).toEqual({ kind: 'done', attempts: [1, 2] });
  });

  it('a statement that failed or was cancelled goes again as a new request (the next generation)', () => {
    for (const outcome of ['failed', 'cancelled'] as const) {
      const next = resumption(record([at('ran'), at(outcome), never()]), script);
      expect(next).toMatchObject({ kind: 'resume', at: 1, settle: false });
      expect(next.kind === 'resume' && next.statements[1]).toMatchObject({
        outcome: 'not-run',
        generation: 2
      });
    }
  });

  it('a statement in doubt is settled first: on Snowflake always, on Databricks by its statement_id', () => {
    expect(resumption(record([at('in-doubt'), never(), never()]), script)).toMatchObject({
      kind: 'resume',
      at: 0,
      settle: true
    });
    const databricks = { ...script, platform: 'databricks' as const };
    const withId = record([at('in-doubt', { statementId: 's-1' }), never(), never()], {
      platform: 'databricks'
    });
    expect(resumption(withId, databricks)).toMatchObject({ kind: 'resume', settle: true });
    const without = record([at('in-doubt'), never(), never()], { platform: 'databricks' });
    expect(resumption(without, databricks)).toMatchObject({ kind: 'stuck', at: 0 });
  });

  it('a record of another script, or one that does not add up, is not believed', () => {
    expect(() => resumption(record([at('ran')]), script)).toThrow(UntrustedRecord);
    expect(() =>
      resumption(record([at('ran'), at('ran')]), {
        ...script,
        sha256: 'b'.repeat(64),
        statements: 2
      })
    ).toThrow(/another script/);
    expect(() => resumption(record([at('failed'), at('ran'), never()]), script)).toThrow(
      /says statement 2 was sent although statement 1 had not run/
    );
  });
});

describe('Snowflake request IDs', () => {
  const scope: RequestScope = {
    run: 'acme/data-platform/4242',
    tenant: identity.tenant,
    job: 'deregister',
    connectionKey: 'snowflake-prod',
    scriptSha256: 'a'.repeat(64),
    origin: 1
  };

  it('are UUIDs a later attempt computes again, and differ by statement, generation and everything else', () => {
    const id = requestIdFor(scope, 2, 0);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(requestIdFor({ ...scope }, 2, 0)).toBe(id);
    const others = [
      requestIdFor(scope, 3, 0),
      requestIdFor(scope, 2, 1),
      requestIdFor({ ...scope, origin: 2 }, 2, 0),
      requestIdFor({ ...scope, tenant: 'https://other.example' }, 2, 0),
      requestIdFor({ ...scope, run: 'acme/data-platform/4243' }, 2, 0),
      requestIdFor({ ...scope, scriptSha256: 'b'.repeat(64) }, 2, 0)
    ];
    expect(new Set([id, ...others]).size).toBe(7);
  });
});

describe('a token renewed before it expires', () => {
  it('is fetched once, then again when a fifth of its life (at most five minutes) is left', async () => {
    let now = 0;
    let fetched = 0;
    const token = new RenewingToken(
      async () => ({ token: `t${++fetched}`, expiresInSeconds: 3600 }),
      () => now
    );
    expect(await token.current()).toBe('t1');
    now = 3600_000 - 300_001;
    expect(await token.current()).toBe('t1');
    now = 3600_000 - 300_000;
    expect(await token.current()).toBe('t2');
    const short = new RenewingToken(
      async () => ({ token: `s${++fetched}`, expiresInSeconds: 10 }),
      () => now
    );
    await short.current();
    now += 8_000;
    expect(await short.current()).toBe('s4');
  });
});

describe('who ran a script, said', () => {
  it('names every attempt that ran part of it', () => {
    expect(attemptsText([2])).toBe('Attempt 2');
    expect(attemptsText([1, 2])).toBe('Attempts 1 and 2');
    expect(attemptsText([1, 2, 3])).toBe('Attempts 1 to 3');
    expect(attemptsText([1, 3, 4])).toBe('Attempts 1, 3 and 4');
  });
});

describe('a record after the job was cancelled', () => {
  it('is given up on a grace after the cancel, never before it', async () => {
    const controller = new AbortController();
    const stalled = new Promise<void>(() => undefined);
    let outcome: string | undefined;
    void withinCancelGrace(stalled, controller.signal, 100).catch(
      (e: Error) => (outcome = e.message)
    );
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(outcome).toBeUndefined();
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(outcome).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(outcome).toMatch(/the job was cancelled while it was being uploaded/);
  });

  it('passes on the write’s own end, done or failed', async () => {
    const signal = new AbortController().signal;
    await expect(withinCancelGrace(Promise.resolve(), signal)).resolves.toBeUndefined();
    await expect(withinCancelGrace(Promise.reject(new Error('refused')), signal)).rejects.toThrow(
      'refused'
    );
  });
});
