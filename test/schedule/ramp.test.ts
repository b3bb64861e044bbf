import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.js';
import type { Ramp } from '../../src/plan/types.js';
import { adaptedPlan, countSendingDays, launchStage, nextStage, plannedStage, previewPlan, stageVolume } from '../../src/schedule/ramp.js';
import { fixtureDir, validText } from '../plan/helpers.js';

const curve = (start: number, growth: number, cap: number | null): Ramp => ({ kind: 'curve', name: 't', start, growth, cap });
const daily = (...d: number[]): Ramp => ({ kind: 'daily', name: 't', daily: d });

describe('stageVolume', () => {
  it.each([
    [curve(50, 1.5, null), 1, 50],
    [curve(50, 1.5, null), 2, 75],
    [curve(50, 1.5, null), 5, 253],
    [curve(50, 1.5, 200), 5, 200],
    [curve(100, 2, 1000), 4, 800],
    [curve(100, 2, 1000), 5, 1000],
    [daily(5, 10, 20), 1, 5],
    [daily(5, 10, 20), 3, 20],
    [daily(5, 10, 20), 9, 20],
    [curve(50, 1.5, null), 0, 0],
  ])('%o at stage %i is %i', (ramp, stage, volume) => {
    expect(stageVolume(ramp, stage)).toBe(volume);
  });
});

describe('sending days and stages', () => {
  it('counts days without the skipped weekdays', () => {
    // 2026-12-01 is a Tuesday; the week to the 8th has one Sunday and one Saturday.
    expect(countSendingDays('2026-12-01', '2026-12-08', [])).toBe(7);
    expect(countSendingDays('2026-12-01', '2026-12-08', ['sun'])).toBe(6);
    expect(countSendingDays('2026-12-01', '2026-12-08', ['sat', 'sun'])).toBe(5);
  });
});

describe('nextStage: the one definition of the stage a lane runs at on its next sending day', () => {
  it.each([
    // lane stage, last day, next stage
    [0, undefined, 1], // before the first day: stage 1
    [0, null, 1],
    [1, undefined, 1],
    [5, { stage: 4, decision: 'advance' }, 5], // decided: what the decision left on the lane
    [4, { stage: 4, decision: 'hold' }, 4],
    [2, { stage: 4, decision: 'back_off' }, 2],
    [4, { stage: 4, decision: 'pause' }, 4],
    [4, { stage: 4, decision: null }, 5], // an open day is assumed to advance
    [0, { stage: 0, decision: null }, 1],
  ])('lane at %i, last day %o: %i', (laneStage, last, expected) => {
    expect(nextStage(laneStage, last)).toBe(expected);
  });
});

describe('launchStage: the one definition of the stage a lane runs at on launch day', () => {
  const plan = { launch: '2026-12-08', skipDays: [] as const };
  it.each([
    ['2026-12-01', [], 8], // 7 sending days before launch, launch day the 8th stage
    ['2026-12-07', [], 2],
    ['2026-12-08', [], 1], // starting on launch day: its first stage
    ['2026-12-09', [], 0], // starting after launch: no stage on launch day
    ['2026-12-01', ['sun'], 7], // Sunday the 6th does not count
    ['2026-12-01', ['sat', 'sun'], 6],
  ] as const)('from %s skipping %o: stage %i', (start, skipDays, expected) => {
    expect(launchStage({ ...plan, skipDays }, start)).toBe(expected);
  });
  it('counts launch day even when it falls on a skipped weekday (2026-12-06 is a Sunday)', () => {
    expect(launchStage({ launch: '2026-12-06', skipDays: ['sun'] }, '2026-12-01')).toBe(6);
  });
  it('is the stage the preview gives every lane on launch day', () => {
    const r = loadPlan(validText, { file: `${fixtureDir}plan.yaml` });
    if (!r.ok) throw new Error('fixture must load');
    const launch = previewPlan(r.plan).at(-1)!;
    for (const ip of r.plan.ips) for (const l of launch.lanes.filter((x) => x.ip === ip.address)) expect(l.stage).toBe(launchStage(r.plan, ip.start));
  });
});

describe('previewPlan', () => {
  const r = loadPlan(validText, { file: `${fixtureDir}plan.yaml` });
  if (!r.ok) throw new Error('fixture must load');
  const plan = r.plan;
  const days = previewPlan(plan);

  it('runs from start to launch day inclusive and marks launch', () => {
    expect(days.map((d) => d.date)).toEqual(['2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04', '2026-12-05', '2026-12-06', '2026-12-07', '2026-12-08']);
    expect(days.filter((d) => d.launch).map((d) => d.date)).toEqual(['2026-12-08']);
  });

  it('sends nothing on a skipped day and does not advance the stage over it', () => {
    const sunday = days.find((d) => d.date === '2026-12-06')!;
    expect(sunday.skip).toBe(true);
    expect(sunday.total).toBe(0);
    const ip = plan.ips[0]!;
    expect(plannedStage(plan, ip, '2026-12-05')).toBe(5);
    expect(plannedStage(plan, ip, '2026-12-07')).toBe(6);
  });

  it('gives each lane its ramp, and launch day the next stage', () => {
    const lane = (d: number, provider: string) => days[d]!.lanes.find((l) => l.ip === '127.0.0.2' && l.provider === provider)!;
    expect([0, 1, 2, 3].map((d) => lane(d, 'gmail').volume)).toEqual([5, 10, 20, 20]);
    expect([0, 1, 2, 3].map((d) => lane(d, 'yahoo').volume)).toEqual([10, 15, 23, 34]);
    expect(lane(7, 'yahoo')).toMatchObject({ stage: 7, volume: 40 });
  });

  it('sums per IP, per provider and in total', () => {
    const d = days[1]!;
    expect(d.perProvider).toEqual({ gmail: 40, yahoo: 60 });
    expect(d.perIp['127.0.0.2']).toBe(25);
    expect(d.total).toBe(100);
  });

  it('filters by IP and provider', () => {
    const only = previewPlan(plan, { ip: '127.0.0.11', provider: 'yahoo' });
    expect(only[0]!.lanes).toEqual([{ ip: '127.0.0.11', provider: 'yahoo', stage: 1, volume: 10 }]);
  });

  it('starts a late IP at stage 1 on its own start day', () => {
    const late = loadPlan(validText.replace('    ehlo: mta2.example.com', '    ehlo: mta2.example.com\n    start: 2026-12-03'), { file: `${fixtureDir}plan.yaml` });
    if (!late.ok) throw new Error(JSON.stringify(late.errors));
    const lanes = previewPlan(late.plan, { ip: '127.0.0.2', provider: 'gmail' }).map((d) => d.lanes[0]!.volume);
    expect(lanes).toEqual([0, 0, 5, 10, 20, 0, 20, 20]);
  });
});

describe('adaptedPlan', () => {
  const r = loadPlan(validText, { file: `${fixtureDir}plan.yaml` });
  if (!r.ok) throw new Error('fixture must load');
  const plan = r.plan;
  const ran = (entries: Array<[string, number, number]>) => new Map(entries.map(([d, stage, target]) => [d, { stage, target }]));

  it('keeps the days run as they ran and shifts the rest after a hold', () => {
    const days = adaptedPlan(plan, [
      // Held on 12-02: the next sending day runs stage 2 again.
      { ip: '127.0.0.2', provider: 'gmail', state: 'active', nextStage: 2, days: ran([['2026-12-01', 1, 5], ['2026-12-02', 2, 10]]) },
    ], '2026-12-03', { ip: '127.0.0.2', provider: 'gmail' });
    expect(days.map((d) => d.lanes[0]!.volume)).toEqual([5, 10, 10, 20, 20, 0, 20, 20]);
    expect(days.map((d) => d.lanes[0]!.stage)).toEqual([1, 2, 2, 3, 4, 0, 5, 6]);
  });

  it('shows a pro rata day as it ran, and nothing from today on for a paused lane', () => {
    const days = adaptedPlan(plan, [
      { ip: '127.0.0.2', provider: 'yahoo', state: 'paused', nextStage: 2, days: ran([['2026-12-01', 1, 4]]) },
    ], '2026-12-02', { ip: '127.0.0.2', provider: 'yahoo' });
    expect(days.map((d) => d.lanes[0]!.volume)).toEqual([4, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('matches the plan for a lane that advanced every day', () => {
    const planned = previewPlan(plan, { ip: '127.0.0.10', provider: 'yahoo' }).map((d) => d.lanes[0]!.volume);
    const days = adaptedPlan(plan, [
      { ip: '127.0.0.10', provider: 'yahoo', state: 'active', nextStage: 3, days: ran([['2026-12-01', 1, 10], ['2026-12-02', 2, 15]]) },
    ], '2026-12-03', { ip: '127.0.0.10', provider: 'yahoo' });
    expect(days.map((d) => d.lanes[0]!.volume)).toEqual(planned);
  });
});
