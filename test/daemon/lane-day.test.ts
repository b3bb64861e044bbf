import { describe, expect, it } from 'vitest';
import { dayFigures, dayToOpen, keepsDay, liveDay } from '../../src/daemon/lane-day.js';
import type { OpenDay } from '../../src/daemon/lanes.js';
import { loadPlan } from '../../src/plan/load.js';
import type * as q from '../../src/store/queries.js';
import { fixtureDir, validText } from '../plan/helpers.js';

const loaded = loadPlan(validText, { file: `${fixtureDir}plan.yaml` });
if (!loaded.ok) throw new Error('fixture must load');
const plan = loaded.plan;
const ip = plan.ips[0]!;
const gmail = plan.providers.find((p) => p.name === 'gmail')!; // daily ramp 5, 10, 20
const H = 3_600_000;
const windowStart = Date.UTC(2026, 11, 2, 8); // 09:00 in Paris
const windowEnd = windowStart + 9 * H; // 18:00
const ctx = { windowStart, windowEnd };

describe('dayToOpen: the stage, target and spread of the day a lane opens', () => {
  it.each([
    // lane stage, stage opened, its volume
    [0, 1, 5], // a new lane opens its first stage
    [1, 1, 5], // the day-end decision already moved the lane to the stage it runs next
    [2, 2, 10],
    [3, 3, 20],
    [7, 7, 20], // past the daily list: its last volume
  ])('a lane at stage %i opens stage %i with %i messages', (stage, opened, volume) => {
    const d = dayToOpen({ ip, provider: gmail, stage }, ctx, windowStart - H, windowStart);
    expect(d).toEqual({ stage: opened, planned: volume, target: volume, from: windowStart, until: windowEnd });
  });

  it('a run that was up at the opening sends the whole day over the whole window, however late the tick', () => {
    const d = dayToOpen({ ip, provider: gmail, stage: 3 }, ctx, windowStart - 1, windowStart + 3 * H);
    expect(d).toMatchObject({ target: 20, from: windowStart, until: windowEnd });
  });

  it('a run that started after the opening sends the pro rata rest of the day, spread from now', () => {
    const now = windowStart + 3 * H; // a third of the window gone
    const d = dayToOpen({ ip, provider: gmail, stage: 3 }, ctx, now, now);
    expect(d).toEqual({ stage: 3, planned: 20, target: 13, from: now, until: windowEnd });
  });

  it('a run that started after the window closed opens an empty day', () => {
    const now = windowEnd + H;
    expect(dayToOpen({ ip, provider: gmail, stage: 3 }, ctx, now, now)).toMatchObject({ planned: 20, target: 0 });
  });
});

describe('keepsDay and liveDay', () => {
  const day: OpenDay = { date: '2026-12-02', stage: 2, target: 10, from: windowStart, until: windowEnd, sent: 4, decided: false };
  it.each([
    ['inside the window', windowStart + H, true],
    ['just after the window, within the tick grace', windowEnd + 999, true],
    ['past the grace', windowEnd + 1000, false],
  ])('keeps sending on the open day %s', (_t, now, kept) => {
    expect(keepsDay(day, now, 1000)).toBe(kept);
  });
  it('keeps no decided day and no missing one', () => {
    expect(keepsDay({ ...day, decided: true }, windowStart + H, 1000)).toBe(false);
    expect(keepsDay(null, windowStart + H, 1000)).toBe(false);
  });
  it.each([
    ['inside the window', '2026-12-02', windowStart, true],
    ['before the spread starts', '2026-12-02', windowStart - 1, false],
    ['at the end of the window', '2026-12-02', windowEnd, false],
    ['on another date', '2026-12-03', windowStart + H, false],
  ])('routed mail sees the day live %s', (_t, date, now, live) => {
    expect(liveDay(day, date, now)).toBe(live);
  });
  it('routed mail sees a decided day closed', () => {
    expect(liveDay({ ...day, decided: true }, '2026-12-02', windowStart + H)).toBe(false);
  });
});

describe('dayFigures: what the day-end policy decides by', () => {
  it('counts first tries and retries as attempts and carries the counts and replies through', () => {
    const row = {
      lane_id: 1, day: '2026-12-02', stage: 2, target: 10, sent: 10, retries: 3, accepted: 8, deferred: 2, failed: 1, bounced: 1,
      inbox: 4, spam: 1, greylisted: 2, greylist_passed: 1, hygiene_bounced: 1,
    } as unknown as q.LaneDayRow;
    const replies = [{ outcome: 'deferred', reply: '421 4.7.0 try later', count: 2 }] as never;
    expect(dayFigures(row, replies)).toEqual({
      stage: 2, target: 10, accepted: 8, deferred: 2, failed: 1, bounced: 1, attempts: 13, inbox: 4, spam: 1,
      greylisted: 2, greylistPassed: 1, hygieneBounced: 1, replies,
    });
  });
});
