import { describe, expect, it } from 'vitest';
import { DAY, fourLanes, messages, openDay, PLAN, withStore } from './fixture.js';
import { STORES } from './stores.js';

describe.each(STORES)('$name store: transactions', ({ name, open }) => {
  it('commits everything a transaction did together', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    const r = await s.transaction(async (tx) => {
      expect(await tx.decideLaneDay(1, DAY, 'advance', 2, 0, 500)).toBe(true);
      await tx.addEvent({ at: 500, plan: PLAN, laneId: 1, kind: 'day_advance', actor: 'policy' });
      await tx.addHold(PLAN, { ip: '127.0.0.2', provider: 'gmail' }, { kind: 'policy', actor: 'policy', reason: 'r', until: null }, 500);
      return 'done';
    });
    expect(r).toBe('done');
    expect((await s.getLaneDay(1, DAY))!.decision).toBe('advance');
    expect((await s.listEvents(PLAN)).map((e) => e.kind)).toEqual(['day_advance', 'hold_added']);
    expect((await s.loadLanes(PLAN))[0]).toMatchObject({ stage: 2, state: 'paused' });
  }));

  it('undoes everything when the function throws: rows, counters, holds, events, lanes', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    const [m] = await messages(s, 1, 1);
    const before = {
      lanes: await s.loadLanes(PLAN), day: await s.getLaneDay(1, DAY), events: await s.listEvents(PLAN), holds: await s.listHolds(PLAN),
      queue: await s.queueCounts(PLAN), outcomes: await s.attemptOutcomeCounts(PLAN), replies: await s.dayReplies(1, DAY), replyCounts: await s.replyCounts([1], DAY), lastEvent: await s.lastEventId(),
    };
    await expect(s.transaction(async (tx) => {
      await tx.decideLaneDay(1, DAY, 'pause', 0, 0, 500);
      await tx.addHold(PLAN, {}, { kind: 'operator', actor: 'operator', reason: 'x', until: null }, 500);
      await tx.createMessages([{ laneId: 1, day: DAY, recipient: 'x@g.test', messageId: 'tx@x.test' }], 500);
      await tx.recordAttempt({ messageId: m!.id, laneId: 1, day: DAY, startedAt: 10, latencyMs: 1, mxHost: null, mxAddress: null, outcome: 'bounced', code: 550, enhanced: null, reply: 'no', stage: null, retry: 0 }, { status: 'bounced', at: 11 });
      await tx.setLaneShaping(1, { rate_factor: 0.5, rate_until: 900 }, 500);
      await tx.openLaneDay({ lane_id: 2, day: DAY, stage: 5, target: 1, spread_from: 0, spread_until: 1 }, 500);
      await tx.startRun({ plan: PLAN, planFile: null, host: 'h', pid: 1, now: 500, speed: 1, realNow: 500 });
      await tx.acquireIpLeases(PLAN, ['127.0.0.2'], { host: 'h', pid: 1, token: 't', now: 500, staleMs: 10, alive: () => true });
      await tx.saveLogPosition(PLAN, 'h', { path: '/l', inode: '1', offset: 1 }, 500);
      await tx.recordDnsblResults([{ ip: '127.0.0.2', zone: 'z', status: 'listed', answer: null, meaning: null, txt: null }], 500);
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect({
      lanes: await s.loadLanes(PLAN), day: await s.getLaneDay(1, DAY), events: await s.listEvents(PLAN), holds: await s.listHolds(PLAN),
      queue: await s.queueCounts(PLAN), outcomes: await s.attemptOutcomeCounts(PLAN), replies: await s.dayReplies(1, DAY), replyCounts: await s.replyCounts([1], DAY), lastEvent: await s.lastEventId(),
    }).toEqual(before);
    expect(await s.getLaneDay(2, DAY)).toBeUndefined();
    expect(await s.lastRun(PLAN)).toBeUndefined();
    expect(await s.ipLeases(PLAN)).toEqual([]);
    expect(await s.loadLogPosition(PLAN, 'h')).toBeNull();
    expect(await s.latestDnsblResults(['127.0.0.2'])).toEqual([]);
    // The store still works, and the Message-ID the rolled-back insert used is free again.
    expect((await s.createMessages([{ laneId: 1, day: DAY, recipient: 'x@g.test', messageId: 'tx@x.test' }], 600))[0]!.seq).toBe(2);
  }));

  it('joins a transaction called inside one: the outer one decides', () => withStore(open, async (s) => {
    await fourLanes(s);
    await expect(s.transaction(async (tx) => {
      await tx.transaction(async (inner) => { await inner.addEvent({ at: 1, plan: PLAN, kind: 'k', actor: 'a' }); });
      await tx.addEvent({ at: 2, plan: PLAN, kind: 'k', actor: 'a' });
      throw new Error('outer fails');
    })).rejects.toThrow('outer fails');
    expect(await s.listEvents(PLAN)).toEqual([]);
    await s.transaction(async (tx) => tx.transaction(async (inner) => inner.addEvent({ at: 3, plan: PLAN, kind: 'k', actor: 'a' })));
    expect((await s.listEvents(PLAN)).map((e) => e.at)).toEqual([3]);
  }));

  it('serialises writes: what the store is asked outside a transaction waits until it ends (a read on PostgreSQL does not: it sees the last commit)', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const tx = s.transaction(async (t) => {
      await t.decideLaneDay(1, DAY, 'advance', 2, 0, 500);
      order.push('tx wrote');
      await gate;
      order.push('tx ends');
    });
    await new Promise((r) => setTimeout(r, 20));
    const outside = s.getLaneDay(1, DAY).then((row) => { order.push(`read ${row!.decision}`); });
    const second = s.decideLaneDay(1, DAY, 'hold', 1, 1, 600).then((ok) => { order.push(`decide ${ok}`); });
    await new Promise((r) => setTimeout(r, 20));
    if (name === 'postgres') await outside; // it does not wait for the transaction: waiting for it here cannot hang
    order.push('release');
    release();
    await Promise.all([tx, outside, second]);
    // SQLite and memory have one writer at a time; PostgreSQL's reads never wait (MVCC) and a
    // write of the same row waits for the transaction, then finds the day decided.
    expect(order).toEqual(name === 'postgres'
      ? ['tx wrote', 'read null', 'release', 'tx ends', 'decide false']
      : ['tx wrote', 'release', 'tx ends', 'read advance', 'decide false']);
  }));
});
