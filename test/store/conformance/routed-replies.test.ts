import { describe, expect, it } from 'vitest';
import type { RoutedDelivery } from '../../../src/store/routed.js';
import { attempt, DAY, deferral, fourLanes, messages, openDay, PLAN, withStore } from './fixture.js';

const HOST = 'mta1';
import { STORES } from './stores.js';

const delivery = (over: Partial<RoutedDelivery> = {}): RoutedDelivery => ({
  laneId: 1, day: DAY, queueId: 'Q1', recipient: 'u@g.test', at: 500, mxHost: 'mx.g.test', mxAddress: '127.0.0.9', outcome: 'accepted',
  code: 250, enhanced: '2.0.0', reply: '250 2.0.0 ok', stage: 'dot', status: 'sent', mailboxSignal: false, ...over,
});
const pos = (offset: number) => ({ path: '/var/log/mail.log', inode: '123', offset });

describe.each(STORES)('$name store: routed mail and replies', ({ open }) => {
  it('counts a routed message once per lane, its retries against its first day, and keeps the log position with it', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    await messages(s, 1, 2);
    expect(await s.loadLogPosition(PLAN, HOST)).toBeNull();
    const deferred = await s.recordRoutedDelivery(PLAN, HOST, delivery({ outcome: 'deferred', code: 421, enhanced: '4.7.0', reply: '421 later', status: 'deferred' }), pos(100));
    expect(deferred).toEqual({ counted: true, day: DAY, daySent: 3 });
    expect(await s.loadLogPosition(PLAN, HOST)).toEqual(pos(100));
    expect(await s.deferredRouted(PLAN, HOST)).toEqual([{ recipient: 'u@g.test', lane_id: 1 }]);
    // The retry, on the next day: counted against the first day, not as new volume.
    const [retry, other] = await s.recordRoutedDeliveries(PLAN, HOST, [
      delivery({ day: '2026-12-02', at: 600 }),
      delivery({ laneId: 2, day: '2026-12-02', queueId: 'Q2', recipient: 'v@y.test', at: 650, outcome: 'bounced', code: 550, enhanced: '5.1.1', reply: '550 no such user', status: 'bounced', mailboxSignal: true, rejection: 'hygiene' }),
    ], pos(200));
    expect(retry).toEqual({ counted: false, day: DAY, daySent: 0 });
    // Lane 2 never opened 2026-12-02: the day is opened without a target, at stage 1 at least.
    expect(other).toEqual({ counted: true, day: '2026-12-02', daySent: 1 });
    expect(await s.loadLogPosition(PLAN, HOST)).toEqual(pos(200));
    expect(await s.getLaneDay(2, '2026-12-02')).toMatchObject({ stage: 1, target: 0, spread_from: 650, spread_until: 650, sent: 1, routed: 1, bounced: 1, hygiene_bounced: 1, routed_bounced: 1 });
    expect(await s.getLaneDay(1, DAY)).toMatchObject({ sent: 3, routed: 1, accepted: 1, deferred: 1, retries: 1, routed_accepted: 1, routed_deferred: 1 });
    // Routed answers count in the day's replies like the daemon's own.
    expect(await s.replyCounts([1, 2], DAY)).toEqual(new Map([[1, [{ outcome: 'deferred', reply: '421 later', n: 1 }]]]));
    expect(await s.replyCounts([1, 2], '2026-12-02')).toEqual(new Map([[2, [{ outcome: 'bounced', reply: '550 no such user', n: 1 }]]]));
    expect(await s.deferredRouted(PLAN, HOST)).toEqual([]);
    // The same queue id and recipient again after it was delivered: a new message (Postfix reused the id).
    expect(await s.recordRoutedDelivery(PLAN, HOST, delivery({ at: 700 }), pos(300))).toEqual({ counted: true, day: DAY, daySent: 4 });
    expect(await s.routedSince(PLAN, 0)).toEqual(new Map([[1, 2], [2, 1]]));
    expect(await s.routedSince(PLAN, 650)).toEqual(new Map([[1, 1], [2, 1]]));
    expect(await s.routedSince('other', 0)).toEqual(new Map());
    // Routed mail waits in Postfix's queue, not in warmup's.
    expect(await s.queueCounts(PLAN)).toEqual(new Map([[1, { inFlight: 2, retries: 0 }]]));
    await s.saveLogPosition(PLAN, HOST, { path: '/var/log/mail.log.1', inode: '99999999999999999999', offset: 5 }, 800);
    expect(await s.loadLogPosition(PLAN, HOST)).toEqual({ path: '/var/log/mail.log.1', inode: '99999999999999999999', offset: 5 });
    await expect(s.recordRoutedDelivery(PLAN, HOST, delivery({ laneId: 99, queueId: 'Q9' }), pos(400))).rejects.toThrow();
    expect(await s.loadLogPosition(PLAN, HOST)).toMatchObject({ offset: 5 });
  }));

  it('keeps one log position and one set of deferred recipients per host (each host of a fleet tails its own Postfix)', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    await openDay(s, 2);
    const deferredOn = (laneId: number, queueId: string, recipient: string) => delivery({ laneId, queueId, recipient, outcome: 'deferred', code: 421, enhanced: '4.7.0', reply: '421 later', status: 'deferred' });
    await s.recordRoutedDeliveries(PLAN, 'a', [deferredOn(1, 'QA', 'u@g.test')], pos(100));
    await s.recordRoutedDeliveries(PLAN, 'b', [deferredOn(2, 'QB', 'v@y.test')], { path: '/var/log/mail.log', inode: '456', offset: 70 });
    expect(await s.loadLogPosition(PLAN, 'a')).toEqual(pos(100));
    expect(await s.loadLogPosition(PLAN, 'b')).toEqual({ path: '/var/log/mail.log', inode: '456', offset: 70 });
    expect(await s.loadLogPosition(PLAN, 'c')).toBeNull();
    expect(await s.deferredRouted(PLAN, 'a')).toEqual([{ recipient: 'u@g.test', lane_id: 1 }]);
    expect(await s.deferredRouted(PLAN, 'b')).toEqual([{ recipient: 'v@y.test', lane_id: 2 }]);
    // Saving one host's position leaves the other's alone; each lane-day counts whichever host logged it.
    await s.saveLogPosition(PLAN, 'a', pos(150), 600);
    expect(await s.loadLogPosition(PLAN, 'b')).toMatchObject({ offset: 70 });
    expect(await s.loadLogPosition(PLAN, 'a')).toEqual(pos(150));
    expect([(await s.getLaneDay(1, DAY))?.routed, (await s.getLaneDay(2, DAY))?.routed]).toEqual([1, 1]);
    expect(await s.loadLogPosition('other', 'a')).toBeNull();
  }));

  it('records a batch as one by one: a retry and a reused queue id within the batch, a lane-day never opened', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    await messages(s, 1, 2);
    const recs = await s.recordRoutedDeliveries(PLAN, HOST, [
      delivery({ at: 500, outcome: 'deferred', code: 421, enhanced: '4.7.0', reply: '421 later', status: 'deferred' }),
      delivery({ queueId: 'Q2', recipient: 'v@g.test', at: 510 }),
      // Q1's retry, logged within the same read: the message of the line before, not new volume.
      delivery({ at: 520 }),
      // Q2 again after it was delivered: Postfix reused the id for a new message.
      delivery({ queueId: 'Q2', recipient: 'v@g.test', at: 530 }),
      delivery({ laneId: 2, queueId: 'Q3', recipient: 'w@y.test', at: 540 }),
      delivery({ laneId: 2, queueId: 'Q4', recipient: 'x@y.test', at: 550, outcome: 'bounced', code: 550, enhanced: '5.1.1', reply: '550 no such user', status: 'bounced', mailboxSignal: true, rejection: 'hygiene' }),
    ], pos(900));
    expect(recs).toEqual([
      { counted: true, day: DAY, daySent: 3 }, { counted: true, day: DAY, daySent: 4 }, { counted: false, day: DAY, daySent: 0 },
      { counted: true, day: DAY, daySent: 5 }, { counted: true, day: DAY, daySent: 1 }, { counted: true, day: DAY, daySent: 2 },
    ]);
    expect(await s.getLaneDay(1, DAY)).toMatchObject({ sent: 5, routed: 3, accepted: 3, deferred: 1, retries: 1, routed_accepted: 3, routed_deferred: 1 });
    expect(await s.getLaneDay(2, DAY)).toMatchObject({ stage: 1, target: 0, spread_from: 540, spread_until: 540, sent: 2, routed: 2, accepted: 1, bounced: 1, hygiene_bounced: 1, routed_accepted: 1, routed_bounced: 1 });
    expect(await s.deferredRouted(PLAN, HOST)).toEqual([]);
    expect(await s.routedSince(PLAN, 0)).toEqual(new Map([[1, 3], [2, 2]]));
    expect(await s.loadLogPosition(PLAN, HOST)).toEqual(pos(900));
    expect(await s.lastReplies([1, 2])).toEqual(new Map([
      [1, { at: 530, outcome: 'accepted', code: 250, reply: '250 2.0.0 ok' }],
      [2, { at: 550, outcome: 'bounced', code: 550, reply: '550 no such user' }],
    ]));
  }));

  it('counts the replies of a group of attempts written together, over several lanes, as one by one', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    await openDay(s, 2);
    const m = await messages(s, 1, 4);
    const [y] = await messages(s, 2, 1);
    await s.recordAttempt(deferral(m[0]!.id, 1, '421 4.7.0 slow down <a@g.test>', { startedAt: 10 }), { status: 'deferred', nextAttemptAt: 300 });
    await s.recordAttempts([
      { attempt: deferral(m[1]!.id, 1, '421 4.7.0 slow down <b@g.test>', { startedAt: 20 }), result: { status: 'deferred', nextAttemptAt: 300 } },
      { attempt: attempt(m[2]!.id, 1, { outcome: 'bounced', code: 550, enhanced: '5.7.1', reply: '550 5.7.1 spam', startedAt: 20 }), result: { status: 'bounced', at: 21 } },
      { attempt: deferral(y!.id, 2, '451 4.3.0 try later', { startedAt: 20 }), result: { status: 'deferred', nextAttemptAt: 300 } },
      { attempt: deferral(m[3]!.id, 1, '421 4.7.0 slow down <c@g.test>', { startedAt: 20 }), result: { status: 'deferred', nextAttemptAt: 300 } },
    ]);
    expect(await s.replyCounts([1, 2], DAY)).toEqual(new Map([
      [1, [{ outcome: 'deferred', reply: '421 4.7.0 slow down <…>', n: 3 }, { outcome: 'bounced', reply: '550 5.7.1 spam', n: 1 }]],
      [2, [{ outcome: 'deferred', reply: '451 4.3.0 try later', n: 1 }]],
    ]));
  }));

  it('shows the last reply per lane, the day\'s replies by frequency, and the retry queue', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    await openDay(s, 2);
    const m = await messages(s, 1, 6);
    const [y] = await messages(s, 2, 1);
    await s.recordAttempt(deferral(m[0]!.id, 1, '421 4.7.0 slow down <a@g.test>', { startedAt: 40 }), { status: 'deferred', nextAttemptAt: 300 });
    await s.recordAttempt(deferral(m[1]!.id, 1, '421 4.7.0 slow down <b@g.test>', { startedAt: 40 }), { status: 'deferred', nextAttemptAt: 200 });
    await s.recordAttempt(deferral(m[2]!.id, 1, '421 4.7.0 slow down <b@g.test>', { startedAt: 30 }), { status: 'deferred', nextAttemptAt: 250 });
    await s.recordAttempt(attempt(m[3]!.id, 1, { outcome: 'bounced', code: 550, enhanced: '5.7.1', reply: '550 5.7.1 spam', startedAt: 20 }), { status: 'bounced', at: 21 });
    await s.recordAttempt(attempt(m[4]!.id, 1, { outcome: 'timeout', code: null, enhanced: null, reply: null, startedAt: 20 }), { status: 'deferred', nextAttemptAt: 100 });
    await s.recordAttempt(attempt(m[5]!.id, 1, { startedAt: 10 }), { status: 'accepted', at: 11 });
    await s.recordAttempt(attempt(y!.id, 2, { startedAt: 10 }), { status: 'accepted', at: 11 });
    expect(await s.lastReplies([2, 1, 3])).toEqual(new Map([
      [2, { at: 10, outcome: 'accepted', code: 250, reply: '250 2.0.0 ok' }],
      [1, { at: 40, outcome: 'deferred', code: 421, reply: '421 4.7.0 slow down <b@g.test>' }],
    ]));
    expect(await s.replyCounts([1, 2], DAY)).toEqual(new Map([[1, [
      { outcome: 'deferred', reply: '421 4.7.0 slow down <…>', n: 3 },
      { outcome: 'timeout', reply: '(timeout, no reply)', n: 1 },
      { outcome: 'bounced', reply: '550 5.7.1 spam', n: 1 },
    ]]]));
    expect(await s.replyCounts([1], DAY, ['bounced', 'accepted'])).toEqual(new Map([[1, [{ outcome: 'bounced', reply: '550 5.7.1 spam', n: 1 }]]]));
    expect(await s.replyCounts([1], '2026-12-09')).toEqual(new Map());
    expect(await s.dayReplies(1, DAY)).toEqual([
      { text: '421 4.7.0 slow down <b@g.test>', code: 421, enhanced: '4.7.0', count: 2 },
      { text: '', code: null, enhanced: null, count: 1 },
      { text: '421 4.7.0 slow down <a@g.test>', code: 421, enhanced: '4.7.0', count: 1 },
      { text: '550 5.7.1 spam', code: 550, enhanced: '5.7.1', count: 1 },
    ]);
    expect(await s.dayReplies(2, DAY)).toEqual([]);
    await s.claimDueRetries(200, [{ laneId: 1, limit: 1 }], 10_000);
    expect(await s.laneQueues(PLAN)).toEqual(new Map([[1, { waiting: 3, inFlight: 1, oldestAt: 5, nextRetryAt: 200 }]]));
    expect(await s.laneQueues('other')).toEqual(new Map());
  }));
});
