import { describe, expect, it } from 'vitest';
import { fourLanes, PLAN, withStore } from './fixture.js';
import { STORES } from './stores.js';

describe.each(STORES)('$name store: events, runs and the lease', ({ open }) => {
  it('writes events and reads them back every way the commands do', () => withStore(open, async (s) => {
    await fourLanes(s);
    expect(await s.lastEventId()).toBe(0);
    expect(await s.newestEventAt(PLAN)).toBeNull();
    await s.addEvent({ at: 300, plan: PLAN, laneId: 1, ip: '127.0.0.2', provider: 'gmail', kind: 'day_advance', actor: 'policy', cause: { sent: 10 } });
    await s.addEvent({ at: 100, plan: PLAN, kind: 'dnsbl_listed', ip: '127.0.0.2', actor: 'dnsbl' });
    await s.addEvent({ at: 100, plan: PLAN, laneId: 2, ip: '127.0.0.2', provider: 'yahoo', kind: 'paused', from: 'active', to: 'paused', actor: 'operator' });
    await s.addEvent({ at: 50, plan: 'other', kind: 'day_advance', actor: 'policy' });
    await s.addEvent({ at: 400, plan: PLAN, kind: 'dnsbl_listed', ip: '127.0.0.2', actor: 'dnsbl', cause: { zone: 'z' } });
    const all = await s.listEvents(PLAN);
    expect(all.map((e) => e.id)).toEqual([2, 3, 1, 5]);
    expect(all[0]).toEqual({ id: 2, at: 100, plan: PLAN, lane_id: null, ip: '127.0.0.2', provider: null, kind: 'dnsbl_listed', from_state: null, to_state: null, actor: 'dnsbl', cause: '{}' });
    expect((await s.listEvents(PLAN, { kinds: ['day_advance', 'paused'] })).map((e) => e.id)).toEqual([3, 1]);
    expect((await s.listEvents(PLAN, { kinds: [] })).length).toBe(4);
    expect((await s.lastStateEvent(2))?.id).toBe(3);
    expect(await s.lastStateEvent(1)).toBeUndefined();
    expect((await s.lastIpEvent(PLAN, '127.0.0.2', 'dnsbl_listed'))?.cause).toBe('{"zone":"z"}');
    expect(await s.lastIpEvent(PLAN, '127.0.0.3', 'dnsbl_listed')).toBeUndefined();
    expect((await s.eventsAfter(PLAN, { id: 1 }, 10)).map((e) => e.id)).toEqual([2, 3, 5]);
    expect((await s.eventsAfter(PLAN, { id: 1 }, 2)).map((e) => e.id)).toEqual([2, 3]);
    expect((await s.eventsAfter(PLAN, { id: 0 }, 10)).map((e) => e.id)).toEqual([1, 2, 3, 5]);
    expect((await s.eventsAfter(PLAN, { at: 300 }, 10)).map((e) => e.id)).toEqual([1, 5]);
    expect(await s.lastEventId()).toBe(5);
    expect(await s.eventIdsAfter(0, 10)).toEqual([1, 2, 3, 4, 5]); // every plan's
    expect(await s.eventIdsAfter(2, 2)).toEqual([3, 4]);
    expect(await s.eventIdsAfter(5, 10)).toEqual([]);
    expect(await s.newestEventAt(PLAN)).toBe(400);
    expect((await s.eventKindsSeen(PLAN)).sort()).toEqual(['day_advance', 'dnsbl_listed', 'paused']);
    expect(await s.eventKindsSeen('none')).toEqual([]);
    expect((await s.recentEvents(PLAN, { limit: 2 })).map((e) => e.id)).toEqual([3, 5]);
    expect((await s.recentEvents(PLAN, { limit: 10, since: 100, kind: 'dnsbl_listed' })).map((e) => e.id)).toEqual([2, 5]);
    expect((await s.recentEvents(PLAN, { limit: 10, since: 200, ip: '127.0.0.2', provider: 'gmail' })).map((e) => e.id)).toEqual([1]);
    expect((await s.recentEvents(PLAN, { limit: 10, since: null })).map((e) => e.id)).toEqual([1, 2, 3, 5]);
  }));

  it('records runs, and reads the daemon\'s clock and the store\'s from the last one', () => withStore(open, async (s) => {
    expect(await s.lastRun(PLAN)).toBeUndefined();
    expect(await s.daemonNow(PLAN, 5000)).toBe(5000);
    expect(await s.storeNow(PLAN, 5000)).toBe(5000);
    const id = await s.startRun({ plan: PLAN, planFile: '/etc/p.yaml', host: 'h', pid: 42, now: 1_000_000, speed: 60, realNow: 2000 });
    expect(id).toBe(1);
    expect(await s.lastRun(PLAN)).toEqual({ id: 1, plan: PLAN, plan_file: '/etc/p.yaml', host: 'h', pid: 42, started_at: 1_000_000, speed: 60, real_started_at: 2000, ended_at: null, end_reason: null });
    expect(await s.daemonNow(PLAN, 3000)).toBe(1_060_000);
    expect(await s.storeNow(PLAN, 3000)).toBe(1_060_000);
    await s.startRun({ plan: 'other', planFile: null, host: 'h', pid: 43, now: 7, speed: 1, realNow: 7 });
    await s.endRun(1, 1_100_000, 'SIGTERM');
    expect(await s.lastRun(PLAN)).toMatchObject({ id: 1, ended_at: 1_100_000, end_reason: 'SIGTERM' });
    expect(await s.daemonNow(PLAN, 3000)).toBe(1_100_000);
    expect(await s.daemonNow(PLAN, 2_000_000)).toBe(2_000_000);
    expect(await s.storeNow(PLAN, 2_000_000)).toBe(1_100_000);
    expect(await s.startRun({ plan: PLAN, planFile: null, host: 'h', pid: 44, now: 9, speed: 1, realNow: 9 })).toBe(3);
    expect((await s.lastRun(PLAN))?.id).toBe(3);
  }));
});
