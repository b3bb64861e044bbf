import { describe, expect, it } from 'vitest';
import { DAY, fourLanes, openDay, PLAN, withStore } from './fixture.js';
import { STORES } from './stores.js';

const claim = (host: string, pid: number, token: string, now: number, alive: (pid: number) => boolean = () => true) =>
  ({ host, pid, token, now, staleMs: 1500, alive, clockNow: now * 10 });

describe.each(STORES)('$name store: a fleet\'s IP leases and claims', ({ open }) => {
  it('leases each IP to one daemon, reports a silent one once, and lets its IPs be taken over', () => withStore(open, async (s) => {
    const a = await s.acquireIpLeases(PLAN, ['127.0.0.2', '127.0.0.3'], claim('a', 10, 'ta', 1000));
    expect(a).toEqual({ taken: [{ ip: '127.0.0.2', from: null }, { ip: '127.0.0.3', from: null }], held: [] });
    // A second daemon gets nothing a live one holds.
    const b = await s.acquireIpLeases(PLAN, ['127.0.0.3', '127.0.0.4'], claim('b', 20, 'tb', 1100));
    expect(b.taken).toEqual([{ ip: '127.0.0.4', from: null }]);
    expect(b.held).toEqual([{ ip: '127.0.0.3', holder: { ip: '127.0.0.3', host: 'a', pid: 10, acquiredAt: 1000, heartbeatAt: 1000, unattendedAt: null, staleMs: 1500 } }]);
    expect(await s.renewIpLeases(PLAN, 'ta', 2000)).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(await s.renewIpLeases(PLAN, 'nobody', 2000)).toEqual([]);
    // b falls silent: reported once (one event naming its IPs), whoever asks.
    expect(await s.reportUnattended(PLAN, 3000, 1500, 30_000, 'a')).toEqual(['127.0.0.4']);
    expect(await s.reportUnattended(PLAN, 3100, 1500, 31_000, 'c')).toEqual([]);
    const events = await s.listEvents(PLAN);
    expect(events.map((e) => [e.kind, e.at, e.actor])).toEqual([['ips_unattended', 30_000, 'fleet:a']]);
    expect(JSON.parse(events[0]!.cause)).toMatchObject({ ips: ['127.0.0.4'], host: 'b', pid: 20, heartbeatAt: 1100, reportedBy: 'a' });
    expect((await s.ipLeases(PLAN)).map((l) => [l.ip, l.host, l.unattendedAt])).toEqual([['127.0.0.2', 'a', null], ['127.0.0.3', 'a', null], ['127.0.0.4', 'b', 3000]]);
    // a takes the stale IP over (event ips_attended); a dead pid of the same host is taken at once.
    const over = await s.acquireIpLeases(PLAN, ['127.0.0.4'], claim('a', 10, 'ta', 3200));
    expect(over.taken.map((t) => [t.ip, t.from?.host])).toEqual([['127.0.0.4', 'b']]);
    const restarted = await s.acquireIpLeases(PLAN, ['127.0.0.2'], claim('a', 11, 'ta2', 3300, (pid) => pid !== 10));
    expect(restarted.taken.map((t) => [t.ip, t.from?.pid])).toEqual([['127.0.0.2', 10]]);
    expect((await s.listEvents(PLAN)).map((e) => e.kind)).toEqual(['ips_unattended', 'ips_attended', 'ips_attended']);
    // Renewing revives a lease reported unattended that nobody took.
    await s.reportUnattended(PLAN, 9000, 1500, 90_000, 'x');
    expect(await s.renewIpLeases(PLAN, 'ta', 9100)).toEqual(['127.0.0.3', '127.0.0.4']);
    expect((await s.ipLeases(PLAN)).filter((l) => l.unattendedAt !== null).map((l) => l.ip)).toEqual(['127.0.0.2']);
    await s.releaseIpLeases(PLAN, 'ta', ['127.0.0.3']);
    await s.releaseIpLeases(PLAN, 'ta', []);
    expect((await s.ipLeases(PLAN)).map((l) => l.ip)).toEqual(['127.0.0.2', '127.0.0.4']);
    await s.releaseIpLeases(PLAN, 'ta');
    expect((await s.ipLeases(PLAN)).map((l) => l.ip)).toEqual(['127.0.0.2']);
  }));

  it('judges a lease by its holder\'s heartbeat, not the reader\'s: a slow-beating live daemon keeps its IPs', () => withStore(open, async (s) => {
    // a beats every 20 s (stale after 30 s); b every second (stale after 1.5 s).
    const slow = { ...claim('a', 10, 'ta', 1000), staleMs: 30_000 };
    expect((await s.acquireIpLeases(PLAN, ['127.0.0.2'], slow)).taken.map((t) => t.ip)).toEqual(['127.0.0.2']);
    expect((await s.ipLeases(PLAN)).map((l) => l.staleMs)).toEqual([30_000]);
    // 10 s after a's heartbeat: late by b's window, not by a's. Neither reported nor taken.
    expect(await s.reportUnattended(PLAN, 11_000, 1500, 110_000, 'b')).toEqual([]);
    const b = await s.acquireIpLeases(PLAN, ['127.0.0.2'], claim('b', 20, 'tb', 11_000));
    expect(b.taken).toEqual([]);
    expect(b.held.map((h) => [h.ip, h.holder.host])).toEqual([['127.0.0.2', 'a']]);
    // Past a's own window it is silent: reported, then taken over.
    expect(await s.reportUnattended(PLAN, 31_500, 1500, 315_000, 'b')).toEqual(['127.0.0.2']);
    expect((await s.acquireIpLeases(PLAN, ['127.0.0.2'], claim('b', 20, 'tb', 31_600))).taken.map((t) => [t.ip, t.from?.host])).toEqual([['127.0.0.2', 'a']]);
    // Now b's lease, judged by b's window: a slow reader no longer waits 30 s for it.
    expect(await s.reportUnattended(PLAN, 33_200, 30_000, 332_000, 'a')).toEqual(['127.0.0.2']);
  }));

  it('claims a periodic task once per interval and moves a shared cursor once', () => withStore(open, async (s) => {
    expect(await s.claimPeriodic(PLAN, 'dnsbl', 100, 50, 'a')).toBe(true);
    expect(await s.claimPeriodic(PLAN, 'dnsbl', 120, 50, 'b')).toBe(false);
    expect(await s.claimPeriodic(PLAN, 'dnsbl', 150, 50, 'b')).toBe(true);
    expect(await s.claimPeriodic(PLAN, 'other', 120, 50, 'b')).toBe(true);
    expect(await s.fleetCursor(PLAN, 'alerts')).toBeNull();
    expect(await s.advanceCursor(PLAN, 'alerts', 4, 9, 'a', 1)).toBe(true);
    expect(await s.advanceCursor(PLAN, 'alerts', 4, 12, 'b', 2)).toBe(false);
    expect(await s.fleetCursor(PLAN, 'alerts')).toBe(9);
    expect(await s.advanceCursor(PLAN, 'alerts', 9, 12, 'b', 3)).toBe(true);
    expect(await s.fleetCursor(PLAN, 'alerts')).toBe(12);
  }));

  it('keeps a day\'s forecast once and recovers only the given IPs\' messages in flight', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1, '2026-11-30');
    await openDay(s, 1);
    await openDay(s, 3);
    expect(await s.recordForecast(1, DAY, 'behind')).toBeNull();
    expect(await s.recordForecast(1, DAY, 'ready')).toBeUndefined();
    expect(await s.recordForecast(1, '2026-12-02', 'ready')).toBeUndefined();
    await s.openLaneDay({ lane_id: 1, day: '2026-12-02', stage: 2, target: 1, spread_from: 0, spread_until: 1 }, 1);
    expect(await s.recordForecast(1, '2026-12-02', 'ready')).toBe('behind');
    await s.createMessages([
      { laneId: 1, day: DAY, recipient: 'r1@x.test', messageId: 'm1' },
      { laneId: 3, day: DAY, recipient: 'r3@x.test', messageId: 'm3' },
    ], 5);
    expect(await s.recoverInFlight(PLAN, 700, [])).toBe(0);
    expect(await s.recoverInFlight(PLAN, 700, ['127.0.0.3'])).toBe(1);
    expect((await s.queueCounts(PLAN)).get(1)).toEqual({ inFlight: 1, retries: 0 });
    expect((await s.queueCounts(PLAN)).get(3)).toEqual({ inFlight: 0, retries: 1 });
  }));
});
