import { describe, expect, it } from 'vitest';
import { answerFor, chooseRoute, hourCap, roomLeft, type LaneRoom } from '../../src/postfix/route-policy.js';

const lane = (laneId: number, o: Partial<LaneRoom> = {}): LaneRoom => ({
  laneId, ip: `192.0.2.${laneId}`, transport: `warmup_192_0_2_${laneId}`, open: true, target: 100, carried: 0, reserved: 0, hourCap: 50, hourCarried: 0, ...o,
});
const defer = { kind: 'defer', reason: 'warm-up capacity exhausted' } as const;

describe('roomLeft', () => {
  it.each([
    ['the day', lane(1, { carried: 90, reserved: 5 }), 5],
    ['the hour', lane(1, { hourCarried: 45, reserved: 2 }), 3],
    ['nothing when closed (a hold, no open day)', lane(1, { open: false }), 0],
    ['never below zero', lane(1, { carried: 120 }), 0],
  ])('is bounded by %s', (_, l, room) => {
    expect(roomLeft(l)).toBe(room);
  });
});

describe('chooseRoute', () => {
  it('takes the lane whose day is least filled, so a burst spreads in proportion to each lane\'s target', () => {
    const lanes = [lane(1, { target: 100, carried: 50 }), lane(2, { target: 400, carried: 100 })];
    expect(chooseRoute(lanes, defer)).toEqual({ kind: 'lane', laneId: 2, transport: 'warmup_192_0_2_2' });
    // Simulated burst: 250 lookups, each delivered at once.
    const carried = new Map([[1, 50], [2, 100]]);
    for (let i = 0; i < 250; i++) {
      const d = chooseRoute([lane(1, { target: 100, carried: carried.get(1)!, hourCap: 1000 }), lane(2, { target: 400, carried: carried.get(2)!, hourCap: 1000 })], defer);
      if (d.kind === 'lane') carried.set(d.laneId, carried.get(d.laneId)! + 1);
    }
    expect(carried.get(1)! / 100).toBeCloseTo(carried.get(2)! / 400, 1);
  });

  it('skips closed and full lanes, then answers the overflow or defers', () => {
    const lanes = [lane(1, { open: false }), lane(2, { carried: 100 }), lane(3, { hourCarried: 50 })];
    expect(chooseRoute(lanes, defer)).toEqual(defer);
    expect(chooseRoute(lanes, { kind: 'transport', transport: 'relay:[smarthost.test]:587' })).toEqual({ kind: 'overflow', transport: 'relay:[smarthost.test]:587' });
    expect(chooseRoute([...lanes, lane(4, { carried: 99 })], defer)).toMatchObject({ kind: 'lane', laneId: 4 });
  });

  it('sends a deferred message\'s retry back to its lane while that lane is open, even when full', () => {
    expect(chooseRoute([lane(1, { carried: 100 }), lane(2)], defer, 1)).toMatchObject({ kind: 'lane', laneId: 1 });
    expect(chooseRoute([lane(1, { open: false }), lane(2)], defer, 1)).toMatchObject({ kind: 'lane', laneId: 2 });
  });
});

describe('hourCap and answerFor', () => {
  it('gives the hourly share of the target times the catch-up factor and a rule\'s rate cut', () => {
    expect(hourCap(1200, 12 * 3_600_000, 2, 1)).toBe(200);
    expect(hourCap(1200, 12 * 3_600_000, 2, 0.5)).toBe(100);
    expect(hourCap(5, 24 * 3_600_000, 1, 1)).toBe(1);
    expect(hourCap(0, 3_600_000, 2, 1)).toBe(0);
  });

  it('answers Postfix in socketmap terms', () => {
    expect(answerFor({ kind: 'lane', laneId: 1, transport: 'warmup_192_0_2_1' })).toBe('OK warmup_192_0_2_1:');
    expect(answerFor({ kind: 'overflow', transport: 'smtp' })).toBe('OK smtp:');
    expect(answerFor({ kind: 'overflow', transport: 'relay:[smarthost.test]:587' })).toBe('OK relay:[smarthost.test]:587');
    expect(answerFor(defer)).toBe('OK retry:4.7.0 warm-up capacity exhausted');
  });
});
