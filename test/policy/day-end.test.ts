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

describe('decideDay: what is not a reputation signal, and the evidence', () => {
  it('greylisting is counted and shown but is not a deferral: every message accepted on retry advances', () => {
    // The day: 2 greylisting answers in 17 attempts (11.8%) held the lane under max_deferral_rate 5%.
    const r = decideDay(day({ target: 15, accepted: 15, deferred: 0, greylisted: 2, greylistPassed: 2, attempts: 17 }), ramp, DEFAULT_THRESHOLDS, 0);
    expect(r).toMatchObject({ decision: 'advance', nextStage: 5 });
    expect(r.rates.greylistRate).toBeCloseTo(2 / 17);
    expect(r.rates.deferralRate).toBe(0);
    expect(r.reason).toBe('accepted 100.0% of 15, deferrals 0.0%; 2 greylisted (2 accepted on retry)');
  });

  it('unknown users are list hygiene: not in the bounce rate that pauses, but named', () => {
    const r = decideDay(day({ accepted: 600, bounced: 200, hygieneBounced: 200 }), ramp, DEFAULT_THRESHOLDS, 0);
    expect(r.decision).toBe('hold');
    expect(r.rates).toMatchObject({ bounceRate: 0, hygieneRate: 0.25 });
    expect(r.reason).toMatch(/^accepted 75\.0% of 800, under 90\.0%; 200 unknown recipients \(list hygiene\)$/);
    // Policy bounces on top still pause.
    expect(decideDay(day({ accepted: 500, bounced: 300, hygieneBounced: 200 }), ramp, DEFAULT_THRESHOLDS, 0).decision).toBe('pause');
  });

  it('a decision other than advance names its top replies; every decision carries them as evidence', () => {
    const replies = [
      { text: '554 5.7.1 <unknown[127.0.0.11]>: Client host rejected: Rejected: poor IP reputation', code: 554, enhanced: '5.7.1', count: 8 },
      { text: '450 4.7.1 Error: too much mail from 127.0.0.11', code: 450, enhanced: '4.7.1', count: 1 },
    ];
    const paused = decideDay(day({ target: 8, accepted: 0, bounced: 8, attempts: 9, deferred: 1, replies }), ramp, DEFAULT_THRESHOLDS, 0);
    expect(paused.decision).toBe('pause');
    expect(paused.reason).toBe('bounce rate 88.9% above 10.0%; top replies: 8x 554 5.7.1 <unknown[127.0.0.11]>: Client host rejected: Rejected: poor IP reputation; 1x 450 4.7.1 Error: too much mail from 127.0.0.11');
    expect(paused.evidence).toEqual([
      { reply: replies[0]!.text, code: 554, enhanced: '5.7.1', count: 8 },
      { reply: replies[1]!.text, code: 450, enhanced: '4.7.1', count: 1 },
    ]);
    const advanced = decideDay(day({ replies: [replies[1]!] }), ramp, DEFAULT_THRESHOLDS, 0);
    expect(advanced.reason).not.toContain('top replies');
    expect(advanced.evidence).toHaveLength(1);
  });
});

describe('stageForVolume', () => {
  it.each([[400, 3], [399, 2], [50, 1], [10_000, 6]])('volume %i is stage %i', (v, s) => expect(stageForVolume(ramp, v)).toBe(s));
});
