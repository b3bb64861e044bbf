import { describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS } from '../../src/plan/defaults.js';
import type { Ramp } from '../../src/plan/types.js';
import { decideDay, stageForVolume, type DayFigures } from '../../src/policy/day-end.js';

const ramp: Ramp = { kind: 'curve', name: 't', start: 100, growth: 2, cap: 3200 };
const day = (f: Partial<DayFigures>): DayFigures => ({ stage: 4, target: 800, accepted: 800, deferred: 0, failed: 0, bounced: 0, attempts: 800, ...f });

describe('decideDay', () => {
  it.each([
    ['all accepted', day({}), 'advance', 5],
    ['90% accepted, few deferrals', day({ accepted: 720, deferred: 20, attempts: 820 }), 'advance', 5],
    ['under 90% accepted', day({ accepted: 700 }), 'hold', 4],
    ['moderate deferrals', day({ deferred: 80, attempts: 880 }), 'hold', 4],
    ['high deferrals: step back to half the volume', day({ accepted: 500, deferred: 300, attempts: 1100 }), 'back_off', 3],
    ['network failures count as deferrals', day({ accepted: 500, failed: 300, attempts: 1100 }), 'back_off', 3],
    ['bounces above 10%: pause', day({ accepted: 600, bounced: 200 }), 'pause', 4],
    ['spam placement above the threshold: hold', day({ inbox: 50, spam: 50 }), 'hold', 4],
  ])('%s -> %s', (_name, figures, decision, next) => {
    const r = decideDay(figures, ramp, DEFAULT_THRESHOLDS, 0);
    expect(r.decision).toBe(decision);
    expect(r.nextStage).toBe(next);
  });

  it('counts holds in a row and flags the lane at the threshold', () => {
    const held = decideDay(day({ accepted: 100 }), ramp, DEFAULT_THRESHOLDS, 2);
    expect(held).toMatchObject({ decision: 'hold', holdsInRow: 3, flagged: true });
    expect(decideDay(day({}), ramp, DEFAULT_THRESHOLDS, 2)).toMatchObject({ holdsInRow: 0, flagged: false });
  });

  it('never backs off below stage 1', () => {
    expect(decideDay(day({ stage: 1, target: 100, accepted: 10, deferred: 90, attempts: 100 }), ramp, DEFAULT_THRESHOLDS, 0).nextStage).toBe(1);
  });

  it('uses per-provider thresholds', () => {
    const strict = { ...DEFAULT_THRESHOLDS, advanceAt: 0.99 };
    expect(decideDay(day({ accepted: 780 }), ramp, strict, 0).decision).toBe('hold');
  });
});

describe('stageForVolume', () => {
  it.each([[400, 3], [399, 2], [50, 1], [10_000, 6]])('volume %i is stage %i', (v, s) => expect(stageForVolume(ramp, v)).toBe(s));
});
