import { describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/store/open.js';
import * as q from '../../src/store/queries.js';

describe('attempt counters', () => {
  it.each([
    ['a final DNS answer (no such domain) is a bounce only', { outcome: 'dns' as const }, { bounced: 1, failed: 0 }],
    ['a local error (nothing sent) is a failure only', { outcome: 'protocol' as const, local: true }, { bounced: 0, failed: 1 }],
    ['a 5xx answer is a bounce only', { outcome: 'bounced' as const }, { bounced: 1, failed: 0 }],
  ])('%s', async (_t, attempt, expected) => {
    const store = await openSqlite(':memory:');
    const [lane] = await q.ensureLanes(store.db, 'p', [{ ip: '127.0.0.2', provider: 'gmail' }], 1);
    await q.openLaneDay(store.db, { lane_id: lane!.id, day: '2026-12-01', stage: 1, target: 1, spread_from: 0, spread_until: 10 }, 1);
    const { id } = await q.createMessage(store.db, { laneId: lane!.id, day: '2026-12-01', recipient: 'a@gmail.com', messageId: 'm1@x.test', now: 1 });
    await q.recordAttempt(store.db, {
      messageId: id, laneId: lane!.id, day: '2026-12-01', startedAt: 2, latencyMs: null, mxHost: null, mxAddress: null,
      code: null, enhanced: null, reply: 'x', stage: null, retry: 0, ...attempt,
    }, { status: 'bounced', at: 3 });
    expect(await q.getLaneDay(store.db, lane!.id, '2026-12-01')).toMatchObject(expected);
    await store.close();
  });
});

describe('batched writes', () => {
  it('creates a tick of sends in one go: every message in flight, each lane-day counted once, sequences in order', async () => {
    const store = await openSqlite(':memory:');
    const lanes = await q.ensureLanes(store.db, 'p', [{ ip: '127.0.0.2', provider: 'gmail' }, { ip: '127.0.0.2', provider: 'yahoo' }], 1);
    for (const l of lanes) await q.openLaneDay(store.db, { lane_id: l.id, day: '2026-12-01', stage: 1, target: 9, spread_from: 0, spread_until: 10 }, 1);
    const [g, y] = [lanes[0]!.id, lanes[1]!.id];
    await q.createMessage(store.db, { laneId: g, day: '2026-12-01', recipient: 'a@gmail.com', messageId: 'm0@x.test', now: 1 });
    const rows = await q.createMessages(store.db, [
      { laneId: g, day: '2026-12-01', recipient: 'a@gmail.com', messageId: 'm1@x.test' },
      { laneId: y, day: '2026-12-01', recipient: 'b@yahoo.com', messageId: 'm2@x.test' },
      { laneId: g, day: '2026-12-01', recipient: 'c@gmail.com', messageId: 'm3@x.test' },
    ], 5);
    expect(rows.map((r) => r.seq)).toEqual([2, 1, 3]);
    expect((await q.getLaneDay(store.db, g, '2026-12-01'))!.sent).toBe(3);
    expect((await q.getLaneDay(store.db, y, '2026-12-01'))!.sent).toBe(1);
    const msgs = await store.db.selectFrom('messages').select(['id', 'status', 'seq', 'created_at']).where('id', 'in', rows.map((r) => r.id)).orderBy('id').execute();
    expect(msgs.map((m) => [m.status, m.created_at])).toEqual([['in_flight', 5], ['in_flight', 5], ['in_flight', 5]]);
    await store.close();
  });

  it('writes a group of attempts all or none', async () => {
    const store = await openSqlite(':memory:');
    const [lane] = await q.ensureLanes(store.db, 'p', [{ ip: '127.0.0.2', provider: 'gmail' }], 1);
    await q.openLaneDay(store.db, { lane_id: lane!.id, day: '2026-12-01', stage: 1, target: 2, spread_from: 0, spread_until: 10 }, 1);
    const [a, b] = await q.createMessages(store.db, [
      { laneId: lane!.id, day: '2026-12-01', recipient: 'a@gmail.com', messageId: 'm1@x.test' },
      { laneId: lane!.id, day: '2026-12-01', recipient: 'b@gmail.com', messageId: 'm2@x.test' },
    ], 1);
    const attempt = (messageId: number) => ({
      messageId, laneId: lane!.id, day: '2026-12-01', startedAt: 2, latencyMs: 5, mxHost: 'mx', mxAddress: '127.0.0.9',
      outcome: 'accepted' as const, code: 250, enhanced: '2.0.0', reply: 'ok', stage: 'dot', retry: 0,
    });
    // The second refers to a message that does not exist: the foreign key fails the group, the first is not kept either.
    await expect(q.recordAttempts(store.db, [{ attempt: attempt(a!.id), result: { status: 'accepted', at: 3 } }, { attempt: attempt(9999), result: { status: 'accepted', at: 3 } }])).rejects.toThrow();
    expect((await q.getLaneDay(store.db, lane!.id, '2026-12-01'))!.accepted).toBe(0);
    await q.recordAttempts(store.db, [a!, b!].map((m) => ({ attempt: attempt(m.id), result: { status: 'accepted' as const, at: 3 } })));
    expect((await q.getLaneDay(store.db, lane!.id, '2026-12-01'))!.accepted).toBe(2);
    await store.close();
  });
});
