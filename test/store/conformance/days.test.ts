import { describe, expect, it } from 'vitest';
import { DAY, fourLanes, messages, openDay, PLAN, withStore } from './fixture.js';
import { STORES } from './stores.js';

describe.each(STORES)('$name store: lane days', ({ open }) => {
  it('opens a day once (its stage moves the lane\'s), reads it, and the one before', () => withStore(open, async (s) => {
    await fourLanes(s);
    expect(await s.getLaneDay(1, DAY)).toBeUndefined();
    await s.openLaneDay({ lane_id: 1, day: DAY, stage: 3, target: 40, spread_from: 100, spread_until: 900 }, 50);
    const row = await s.getLaneDay(1, DAY);
    expect(row).toEqual({
      lane_id: 1, day: DAY, stage: 3, target: 40, spread_from: 100, spread_until: 900, decision: null, decided_at: null,
      sent: 0, routed: 0, routed_accepted: 0, routed_deferred: 0, routed_bounced: 0, routed_failed: 0, accepted: 0, deferred: 0,
      mailbox_deferred: 0, greylisted: 0, greylist_passed: 0, bounced: 0, hygiene_bounced: 0, failed: 0, expired: 0, retries: 0,
      inbox: 0, spam: 0, missing: 0, forecast: null,
    });
    expect((await s.loadLanes(PLAN))[0]).toMatchObject({ stage: 3, updated_at: 50 });
    // Opened again: the row stays as it was, the lane's stage follows the call.
    await s.openLaneDay({ lane_id: 1, day: DAY, stage: 4, target: 99, spread_from: 0, spread_until: 1 }, 60);
    expect(await s.getLaneDay(1, DAY)).toMatchObject({ stage: 3, target: 40 });
    expect((await s.loadLanes(PLAN))[0]).toMatchObject({ stage: 4, updated_at: 60 });
    await openDay(s, 1, '2026-12-03');
    await openDay(s, 1, '2026-11-28');
    expect((await s.previousLaneDay(1, '2026-12-03'))?.day).toBe(DAY);
    expect((await s.previousLaneDay(1, '2026-12-02'))?.day).toBe(DAY);
    expect((await s.previousLaneDay(1, DAY))?.day).toBe('2026-11-28');
    expect(await s.previousLaneDay(1, '2026-11-28')).toBeUndefined();
    expect(await s.previousLaneDay(2, '2026-12-28')).toBeUndefined();
  }));

  it('lists a plan\'s days by day then lane, with the lane\'s ip and provider', () => withStore(open, async (s) => {
    await fourLanes(s);
    await s.ensureLanes('other', [{ ip: '127.0.0.2', provider: 'gmail' }], 1);
    await openDay(s, 3, '2026-12-02');
    await openDay(s, 2, DAY);
    await openDay(s, 1, '2026-12-02');
    await openDay(s, 5, DAY);
    expect((await s.laneDays(PLAN)).map((d) => [d.day, d.lane_id, d.ip, d.provider])).toEqual([
      [DAY, 2, '127.0.0.2', 'yahoo'], ['2026-12-02', 1, '127.0.0.2', 'gmail'], ['2026-12-02', 3, '127.0.0.3', 'gmail'],
    ]);
    expect((await s.laneDays(PLAN, '2026-12-02')).map((d) => d.lane_id)).toEqual([1, 3]);
    expect(await s.laneDays(PLAN, '2026-12-09')).toEqual([]);
    const sorted = (await s.laneHistory(PLAN)).sort((a, b) => a.day.localeCompare(b.day) || a.ip.localeCompare(b.ip) || a.provider.localeCompare(b.provider));
    expect(sorted).toEqual([
      { ip: '127.0.0.2', provider: 'yahoo', day: DAY, decision: null },
      { ip: '127.0.0.2', provider: 'gmail', day: '2026-12-02', decision: null },
      { ip: '127.0.0.3', provider: 'gmail', day: '2026-12-02', decision: null },
    ]);
    expect(await s.decisionTallies(PLAN)).toEqual([
      { ip: '127.0.0.2', provider: 'gmail', decided: 0, advanced: 0, lastDecided: null },
      { ip: '127.0.0.2', provider: 'yahoo', decided: 0, advanced: 0, lastDecided: null },
      { ip: '127.0.0.3', provider: 'gmail', decided: 0, advanced: 0, lastDecided: null },
    ]);
    expect(await s.latestLaneDay(PLAN, '2026-12-31')).toBe('2026-12-02');
    expect(await s.latestLaneDay(PLAN, '2026-12-01')).toBe(DAY);
    expect(await s.latestLaneDay(PLAN, '2026-11-30')).toBeUndefined();
    expect(await s.latestLaneDay('none', '2026-12-31')).toBeUndefined();
  }));

  it('tallies each lane\'s decided days, advances and last decided day, as the forecast does from the history', () => withStore(open, async (s) => {
    await fourLanes(s);
    await s.ensureLanes('other', [{ ip: '127.0.0.9', provider: 'gmail' }], 1);
    for (const [lane, day, decision] of [[2, '2026-12-01', 'advance'], [2, '2026-12-02', 'hold'], [2, '2026-12-03', null], [1, '2026-12-01', 'advance'],
      [1, '2026-12-03', 'advance'], [1, '2026-12-02', 'back_off'], [3, '2026-12-01', null], [5, '2026-12-05', 'advance']] as const) {
      await openDay(s, lane, day);
      if (decision) expect(await s.decideLaneDay(lane, day, decision, 1, 0, 10)).toBe(true);
    }
    const tallies = await s.decisionTallies(PLAN);
    expect(tallies).toEqual([
      { ip: '127.0.0.2', provider: 'gmail', decided: 3, advanced: 2, lastDecided: '2026-12-03' },
      { ip: '127.0.0.2', provider: 'yahoo', decided: 2, advanced: 1, lastDecided: '2026-12-02' },
      { ip: '127.0.0.3', provider: 'gmail', decided: 0, advanced: 0, lastDecided: null },
    ]);
    const { tallyDecisions } = await import('../../../src/policy/forecast.js');
    expect(tallyDecisions(await s.laneHistory(PLAN))).toEqual(tallies);
    expect(await s.decisionTallies('none')).toEqual([]);
  }));

  it('decides a day exactly once, even when two passes race', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    const results = await Promise.all([s.decideLaneDay(1, DAY, 'advance', 2, 0, 500), s.decideLaneDay(1, DAY, 'hold', 1, 1, 501)]);
    expect(results.sort()).toEqual([false, true]);
    const row = await s.getLaneDay(1, DAY);
    const lane = (await s.loadLanes(PLAN))[0]!;
    if (row!.decision === 'advance') expect([row!.decided_at, lane.stage, lane.holds_in_row, lane.updated_at]).toEqual([500, 2, 0, 500]);
    else expect([row!.decided_at, lane.stage, lane.holds_in_row, lane.updated_at]).toEqual([501, 1, 1, 501]);
    expect(lane.decided_day).toBe(DAY);
    expect(await s.decideLaneDay(1, DAY, 'pause', 0, 0, 600)).toBe(false);
    expect(await s.decideLaneDay(2, DAY, 'advance', 2, 0, 600)).toBe(false); // never opened
    expect((await s.loadLanes(PLAN))[1]).toMatchObject({ stage: 0, decided_day: null });
  }));

  it('finds the undecided days whose window ended, by day then lane', () => withStore(open, async (s) => {
    await fourLanes(s);
    await s.ensureLanes('other', [{ ip: '127.0.0.2', provider: 'gmail' }], 1);
    await openDay(s, 4, DAY, { until: 1000 });
    await openDay(s, 2, DAY, { until: 1000 });
    await openDay(s, 1, '2026-12-02', { until: 2000 });
    await openDay(s, 3, '2026-11-30', { until: 500 });
    await openDay(s, 5, '2026-11-30', { until: 500 });
    expect((await s.undecidedDays(PLAN, 999)).map((d) => [d.day, d.lane_id])).toEqual([['2026-11-30', 3]]);
    expect((await s.undecidedDays(PLAN, 1000)).map((d) => [d.day, d.lane_id])).toEqual([['2026-11-30', 3], [DAY, 2], [DAY, 4]]);
    await s.decideLaneDay(2, DAY, 'advance', 2, 0, 1000);
    const left = await s.undecidedDays(PLAN, 5000);
    expect(left.map((d) => [d.day, d.lane_id])).toEqual([['2026-11-30', 3], [DAY, 4], ['2026-12-02', 1]]);
    expect(left[0]).toMatchObject({ stage: 1, target: 10, spread_from: 0, spread_until: 500, decision: null, sent: 0 });
    expect(await s.laneDecisions(2)).toEqual([{ day: DAY, decision: 'advance' }]);
    await openDay(s, 2, '2026-11-29');
    expect(await s.laneDecisions(2)).toEqual([{ day: '2026-11-29', decision: null }, { day: DAY, decision: 'advance' }]);
    expect(await s.laneDecisions(9)).toEqual([]);
  }));

  it('counts a day\'s unsettled messages: in flight or deferred', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    await openDay(s, 1, '2026-12-02');
    const [a, b, c] = await messages(s, 1, 3);
    await messages(s, 1, 1, 5, '2026-12-02');
    expect(await s.unsettledMessages(1, DAY)).toBe(3);
    await s.recordAttempt({ messageId: a!.id, laneId: 1, day: DAY, startedAt: 10, latencyMs: 1, mxHost: null, mxAddress: null, outcome: 'accepted', code: 250, enhanced: null, reply: 'ok', stage: null, retry: 0 }, { status: 'accepted', at: 11 });
    await s.recordAttempt({ messageId: b!.id, laneId: 1, day: DAY, startedAt: 10, latencyMs: 1, mxHost: null, mxAddress: null, outcome: 'deferred', code: 421, enhanced: null, reply: 'later', stage: null, retry: 0 }, { status: 'deferred', nextAttemptAt: 100 });
    expect(await s.unsettledMessages(1, DAY)).toBe(2);
    await s.recordAttempt({ messageId: c!.id, laneId: 1, day: DAY, startedAt: 10, latencyMs: 1, mxHost: null, mxAddress: null, outcome: 'bounced', code: 550, enhanced: null, reply: 'no', stage: null, retry: 0 }, { status: 'bounced', at: 11 });
    expect(await s.unsettledMessages(1, DAY)).toBe(1);
    expect(await s.unsettledMessages(2, DAY)).toBe(0);
  }));
});
