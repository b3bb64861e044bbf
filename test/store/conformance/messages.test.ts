import { describe, expect, it } from 'vitest';
import { attempt, DAY, deferral, fourLanes, messages, openDay, PLAN, withStore } from './fixture.js';
import { STORES } from './stores.js';

describe.each(STORES)('$name store: messages and attempts', ({ open }) => {
  it('creates messages in flight, counted as sent, sequences per lane-day in the order given', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    await openDay(s, 2);
    expect(await s.createMessage({ laneId: 1, day: DAY, recipient: 'a@g.test', messageId: 'm0@x.test', now: 3 })).toEqual({ id: 1, seq: 1 });
    expect(await s.createMessages([], 4)).toEqual([]);
    const rows = await s.createMessages([
      { laneId: 1, day: DAY, recipient: 'b@g.test', messageId: 'm1@x.test' },
      { laneId: 2, day: DAY, recipient: 'c@y.test', messageId: 'm2@x.test' },
      { laneId: 1, day: DAY, recipient: 'd@g.test', messageId: 'm3@x.test' },
    ], 5);
    expect(rows).toEqual([{ id: 2, seq: 2 }, { id: 3, seq: 1 }, { id: 4, seq: 3 }]);
    expect((await s.getLaneDay(1, DAY))!.sent).toBe(3);
    expect((await s.getLaneDay(2, DAY))!.sent).toBe(1);
    expect(await s.queueCounts(PLAN)).toEqual(new Map([[1, { inFlight: 3, retries: 0 }], [2, { inFlight: 1, retries: 0 }]]));
  }));

  it('refuses a message of a day never opened or a Message-ID used before, and keeps nothing of the batch', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    await expect(s.createMessage({ laneId: 2, day: DAY, recipient: 'a@g.test', messageId: 'm0@x.test', now: 3 })).rejects.toThrow();
    await s.createMessages([{ laneId: 1, day: DAY, recipient: 'a@g.test', messageId: 'dup@x.test' }], 3);
    await expect(s.createMessages([
      { laneId: 1, day: DAY, recipient: 'b@g.test', messageId: 'new@x.test' },
      { laneId: 1, day: DAY, recipient: 'c@g.test', messageId: 'dup@x.test' },
    ], 4)).rejects.toThrow();
    await expect(s.createMessages([
      { laneId: 1, day: DAY, recipient: 'b@g.test', messageId: 'new@x.test' },
      { laneId: 3, day: DAY, recipient: 'c@g.test', messageId: 'other@x.test' },
    ], 4)).rejects.toThrow();
    expect((await s.getLaneDay(1, DAY))!.sent).toBe(1);
    expect(await s.queueCounts(PLAN)).toEqual(new Map([[1, { inFlight: 1, retries: 0 }]]));
    const [again] = await s.createMessages([{ laneId: 1, day: DAY, recipient: 'b@g.test', messageId: 'new@x.test' }], 4);
    expect(again!.seq).toBe(2);
  }));

  it('records attempts with their counters: accepted, bounced, hygiene, deferred, mailbox, failed, retries', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    const m = await messages(s, 1, 6);
    await s.recordAttempt(attempt(m[0]!.id, 1), { status: 'accepted', at: 11 });
    await s.recordAttempt(attempt(m[1]!.id, 1, { outcome: 'bounced', code: 550, enhanced: '5.1.1', reply: '550 5.1.1 unknown user', mailboxSignal: true }), { status: 'bounced', at: 11 });
    await s.recordAttempt(attempt(m[2]!.id, 1, { outcome: 'bounced', code: 554, enhanced: '5.7.1', reply: '554 5.7.1 blocked' }), { status: 'bounced', at: 11 });
    await s.recordAttempt(deferral(m[3]!.id, 1), { status: 'deferred', nextAttemptAt: 300 });
    await s.recordAttempt(deferral(m[4]!.id, 1, '450 4.2.1 mailbox busy', { code: 450, enhanced: '4.2.1', mailboxSignal: true }), { status: 'deferred', nextAttemptAt: 300 });
    await s.recordAttempt(attempt(m[5]!.id, 1, { outcome: 'timeout', code: null, enhanced: null, reply: null }), { status: 'deferred', nextAttemptAt: 200 });
    await s.recordAttempt(attempt(m[5]!.id, 1, { outcome: 'network', code: null, enhanced: null, reply: 'ECONNRESET', retry: 1, local: true }), { status: 'bounced', at: 250 });
    expect(await s.getLaneDay(1, DAY)).toMatchObject({
      sent: 6, accepted: 1, bounced: 2, hygiene_bounced: 1, deferred: 1, mailbox_deferred: 1, greylisted: 0, failed: 2, retries: 1, expired: 0,
    });
    const counts = (await s.attemptOutcomeCounts(PLAN)).sort((a, b) => a.lane_id - b.lane_id || a.outcome.localeCompare(b.outcome));
    expect(counts).toEqual([
      { lane_id: 1, outcome: 'accepted', n: 1 }, { lane_id: 1, outcome: 'bounced', n: 2 }, { lane_id: 1, outcome: 'deferred', n: 2 },
      { lane_id: 1, outcome: 'network', n: 1 }, { lane_id: 1, outcome: 'timeout', n: 1 },
    ]);
    expect(await s.attemptOutcomeCounts('other')).toEqual([]);
    expect(await s.queueCounts(PLAN)).toEqual(new Map([[1, { inFlight: 0, retries: 2 }]]));
    expect(await s.nextRetryDue()).toBe(300);
    await expect(s.recordAttempt(attempt(999, 1), { status: 'accepted', at: 11 })).rejects.toThrow();
  }));

  it('moves a suspected greylisting from deferred to greylisted when the retry is accepted', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    const [a, b, c] = await messages(s, 1, 3);
    await s.recordAttempt(deferral(a!.id, 1, '451 4.7.1 greylisted, come back later', { greylisting: 'certain' }), { status: 'deferred', nextAttemptAt: 100 });
    await s.recordAttempt(deferral(b!.id, 1, '451 try again later', { greylisting: 'likely' }), { status: 'deferred', nextAttemptAt: 100 });
    await s.recordAttempt(deferral(c!.id, 1, '451 try again later', { greylisting: 'likely' }), { status: 'deferred', nextAttemptAt: 100 });
    expect(await s.getLaneDay(1, DAY)).toMatchObject({ deferred: 2, greylisted: 1, greylist_passed: 0 });
    await s.recordAttempts([
      { attempt: attempt(a!.id, 1, { retry: 1 }), result: { status: 'accepted', at: 120 } },
      { attempt: attempt(b!.id, 1, { retry: 1 }), result: { status: 'accepted', at: 120 } },
    ]);
    expect(await s.getLaneDay(1, DAY)).toMatchObject({ accepted: 2, deferred: 1, greylisted: 2, greylist_passed: 2, retries: 2 });
    await s.recordAttempts([]);
  }));

  it('writes a group of attempts all or none', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    const [a] = await messages(s, 1, 1);
    await expect(s.recordAttempts([{ attempt: attempt(a!.id, 1), result: { status: 'accepted', at: 3 } }, { attempt: attempt(9999, 1), result: { status: 'accepted', at: 3 } }])).rejects.toThrow();
    expect(await s.getLaneDay(1, DAY)).toMatchObject({ accepted: 0 });
    expect(await s.attemptOutcomeCounts(PLAN)).toEqual([]);
    expect(await s.lastReplies([1])).toEqual(new Map());
    await s.transaction(async (tx) => { await tx.writeAttempt(attempt(a!.id, 1), { status: 'accepted', at: 3 }); });
    expect(await s.getLaneDay(1, DAY)).toMatchObject({ accepted: 1 });
  }));

  it('claims due retries per lane up to a limit, soonest first, and expires the stale ones first', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    await openDay(s, 2);
    const m1 = await messages(s, 1, 4, 5);
    const m2 = await messages(s, 2, 2, 500);
    const due = [300, 100, 200, 900];
    for (const [i, m] of m1.entries()) await s.recordAttempt(deferral(m.id, 1), { status: 'deferred', nextAttemptAt: due[i]! });
    for (const m of m2) await s.recordAttempt(deferral(m.id, 2), { status: 'deferred', nextAttemptAt: 150 });
    expect(await s.claimDueRetries(400, [{ laneId: 1, limit: 0 }], 10_000)).toEqual({ claimed: [], expired: 0 });
    expect(await s.claimDueRetries(400, [], 10_000)).toEqual({ claimed: [], expired: 0 });
    // Lane 1's messages were created at 5: with expiry 390, those due by 400 are stale (created <= 10).
    const r = await s.claimDueRetries(400, [{ laneId: 2, limit: 1 }, { laneId: 1, limit: 5 }], 390);
    expect(r.expired).toBe(3);
    expect(r.claimed).toEqual([{ id: m2[0]!.id, lane_id: 2, day: DAY, seq: 1, recipient: 'r1@2.test', message_id: `m2-1-${DAY}@x.test`, attempts: 1, created_at: 500 }]);
    expect(await s.getLaneDay(1, DAY)).toMatchObject({ expired: 3 });
    expect(await s.queueCounts(PLAN)).toEqual(new Map([[1, { inFlight: 0, retries: 1 }], [2, { inFlight: 1, retries: 1 }]]));
    const r2 = await s.claimDueRetries(1000, [{ laneId: 1, limit: 5 }, { laneId: 2, limit: 5 }], 10_000);
    expect(r2).toEqual({ claimed: [expect.objectContaining({ id: m1[3]!.id }), expect.objectContaining({ id: m2[1]!.id })], expired: 0 });
    expect(await s.nextRetryDue()).toBeNull();
    // Claimed but never sent: back in the queue, due now; a message no longer in flight is left alone.
    await s.returnUnsent([], 1000);
    await s.returnUnsent([m1[3]!.id, m1[0]!.id], 1100);
    expect(await s.nextRetryDue()).toBe(1100);
    expect(await s.queueCounts(PLAN)).toEqual(new Map([[1, { inFlight: 0, retries: 1 }], [2, { inFlight: 2, retries: 0 }]]));
  }));

  it('orders retries due at the same instant by message', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    const m = await messages(s, 1, 3);
    for (const x of [m[2]!, m[0]!, m[1]!]) await s.recordAttempt(deferral(x.id, 1), { status: 'deferred', nextAttemptAt: 100 });
    const r = await s.claimDueRetries(100, [{ laneId: 1, limit: 2 }], 10_000);
    expect(r.claimed.map((c) => c.id)).toEqual([m[0]!.id, m[1]!.id]);
  }));

  it('recovers messages left in flight: an interrupted attempt each, queued for now', () => withStore(open, async (s) => {
    await fourLanes(s);
    await s.ensureLanes('other', [{ ip: '127.0.0.2', provider: 'gmail' }], 1);
    await openDay(s, 1);
    await openDay(s, 5);
    const [a, b] = await messages(s, 1, 2);
    await messages(s, 5, 1);
    await s.recordAttempt(deferral(b!.id, 1), { status: 'deferred', nextAttemptAt: 100 });
    await s.claimDueRetries(100, [{ laneId: 1, limit: 1 }], 10_000);
    expect(await s.recoverInFlight(PLAN, 700)).toBe(2);
    expect(await s.getLaneDay(1, DAY)).toMatchObject({ failed: 2, retries: 1, deferred: 1 });
    expect(await s.lastReplies([1])).toEqual(new Map([[1, { at: 700, outcome: 'interrupted', code: null, reply: 'in flight when the daemon stopped; outcome unknown' }]]));
    expect(await s.queueCounts(PLAN)).toEqual(new Map([[1, { inFlight: 0, retries: 2 }]]));
    expect((await s.replyCounts([1], DAY)).get(1)).toContainEqual({ outcome: 'interrupted', reply: 'in flight when the daemon stopped; outcome unknown', n: 2 });
    expect(await s.recoverInFlight(PLAN, 800)).toBe(0);
    const claimed = await s.claimDueRetries(700, [{ laneId: 1, limit: 5 }], 10_000);
    expect(claimed.claimed.map((c) => [c.id, c.attempts])).toEqual([[a!.id, 1], [b!.id, 2]]);
  }));

  it('counts retries pending on lanes that will send again (not paused, still in the plan), seed mail only', () => withStore(open, async (s) => {
    await fourLanes(s);
    for (const id of [1, 2, 3]) await openDay(s, id);
    for (const id of [1, 2, 3]) {
      const [m] = await messages(s, id, 2);
      await s.recordAttempt(deferral(m!.id, id), { status: 'deferred', nextAttemptAt: 100 });
    }
    expect(await s.pendingRetries(PLAN, [])).toBe(0);
    expect(await s.pendingRetries(PLAN, [1, 2, 3, 4])).toBe(6);
    await s.addHold(PLAN, { ip: '127.0.0.2', provider: 'yahoo' }, { kind: 'operator', actor: 'operator', reason: 'x', until: null }, 10);
    await s.addHold(PLAN, { ip: '127.0.0.3', provider: 'gmail' }, { kind: 'rule', actor: 'rule:x', reason: 'x', until: 500 }, 10);
    expect(await s.pendingRetries(PLAN, [1, 2, 3])).toBe(4);
    expect(await s.pendingRetries(PLAN, [1])).toBe(2);
    expect(await s.pendingRetries('other', [1])).toBe(0);
  }));
});
