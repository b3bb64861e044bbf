import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/store/open.js';
import * as q from '../../src/store/queries.js';

const dir = mkdtempSync(join(tmpdir(), 'warmup-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DAY = '2026-12-01';
const T0 = Date.parse('2026-12-01T08:00:00Z');

async function lane(name: string) {
  const store = await openSqlite(join(dir, `${name}.db`));
  const [row] = await q.ensureLanes(store.db, 'p', [{ ip: '127.0.0.2', provider: 'x' }], T0);
  await q.openLaneDay(store.db, { lane_id: row!.id, day: DAY, stage: 1, target: 3, spread_from: T0, spread_until: T0 + 3_600_000 }, T0);
  let n = 0;
  const message = async () => (await q.createMessage(store.db, { laneId: row!.id, day: DAY, recipient: `r${++n}@x.test`, messageId: `${name}-${n}@s.test`, now: T0 })).id;
  const attempt = (messageId: number, retry: number, outcome: q.AttemptRecord['outcome'], reply: string, extra: Partial<q.AttemptRecord> = {}) => ({
    messageId, laneId: row!.id, day: DAY, startedAt: T0, latencyMs: 5, mxHost: 'mx', mxAddress: '127.0.0.53', outcome,
    code: Number(reply.slice(0, 3)), enhanced: reply.split(' ')[1] ?? null, reply, stage: 'rcpt', retry, ...extra,
  });
  const day = async () => (await q.getLaneDay(store.db, row!.id, DAY))!;
  return { store, laneId: row!.id, message, attempt, day };
}

describe('recordAttempt: greylisting and list hygiene counted apart', () => {
  it('a greylisting answer is not a deferral, and the retry that succeeds is counted', async () => {
    const l = await lane('certain');
    const id = await l.message();
    await q.recordAttempt(l.store.db, l.attempt(id, 0, 'deferred', '450 4.2.0 <r1@x.test>: Recipient address rejected: Greylisted', { greylisting: 'certain' }), { status: 'deferred', nextAttemptAt: T0 + 1 });
    expect(await l.day()).toMatchObject({ deferred: 0, greylisted: 1, greylist_passed: 0 });
    await q.recordAttempt(l.store.db, l.attempt(id, 1, 'accepted', '250 2.0.0 Ok'), { status: 'accepted', at: T0 + 2 });
    expect(await l.day()).toMatchObject({ accepted: 1, deferred: 0, greylisted: 1, greylist_passed: 1, retries: 1 });
    await l.store.close();
  });

  it('a bare "try again later" is a deferral until the retry that succeeds shows it was greylisting', async () => {
    const l = await lane('likely');
    const passes = await l.message();
    const fails = await l.message();
    for (const id of [passes, fails]) {
      await q.recordAttempt(l.store.db, l.attempt(id, 0, 'deferred', '451 4.7.1 Try again later', { greylisting: 'likely' }), { status: 'deferred', nextAttemptAt: T0 + 1 });
    }
    expect(await l.day()).toMatchObject({ deferred: 2, greylisted: 0 });
    await q.recordAttempt(l.store.db, l.attempt(passes, 1, 'accepted', '250 2.0.0 Ok'), { status: 'accepted', at: T0 + 2 });
    // The same answer on a retry is not greylisting any more.
    await q.recordAttempt(l.store.db, l.attempt(fails, 1, 'deferred', '451 4.7.1 Try again later', { greylisting: 'likely' }), { status: 'deferred', nextAttemptAt: T0 + 3 });
    expect(await l.day()).toMatchObject({ accepted: 1, deferred: 2, greylisted: 1, greylist_passed: 1 });
    await l.store.close();
  });

  it('an unknown user is a bounce counted as list hygiene; the day\'s replies are grouped by text', async () => {
    const l = await lane('hygiene');
    await q.recordAttempt(l.store.db, l.attempt(await l.message(), 0, 'bounced', '550 5.1.1 <r1@x.test>: User unknown', { mailboxSignal: true }), { status: 'bounced', at: T0 });
    for (let i = 0; i < 2; i++) {
      await q.recordAttempt(l.store.db, l.attempt(await l.message(), 0, 'bounced', '554 5.7.1 Client host rejected: poor IP reputation'), { status: 'bounced', at: T0 });
    }
    expect(await l.day()).toMatchObject({ bounced: 3, hygiene_bounced: 1 });
    expect(await q.dayReplies(l.store.db, l.laneId, DAY)).toEqual([
      { text: '554 5.7.1 Client host rejected: poor IP reputation', code: 554, enhanced: '5.7.1', count: 2 },
      { text: '550 5.1.1 <r1@x.test>: User unknown', code: 550, enhanced: '5.1.1', count: 1 },
    ]);
    await l.store.close();
  });
});
