import { describe, expect, it } from 'vitest';
import { dueAt, dueCount, nextRetryAt, pace, proRataTarget } from '../../src/schedule/due.js';

const H = 3_600_000;
const from = Date.parse('2026-12-01T07:00:00Z');
const until = from + 12 * H;

describe('dueCount spreads a day evenly with jitter', () => {
  it('is 0 before the window and the whole target after it', () => {
    expect(dueCount(100, from, until, from - 1, 'k')).toBe(0);
    expect(dueCount(100, from, until, until, 'k')).toBe(100);
  });

  it('never puts two messages in one slot and stays within one of the even line', () => {
    for (let t = from; t < until; t += 7 * 60_000) {
      const even = (100 * (t - from)) / (until - from);
      const n = dueCount(100, from, until, t, 'lane-a|2026-12-01');
      expect(Math.abs(n - even)).toBeLessThanOrEqual(1);
    }
  });

  it('agrees with the due instant of each message', () => {
    for (let k = 1; k <= 50; k++) {
      const at = dueAt(50, from, until, 'x', k);
      expect(dueCount(50, from, until, at, 'x')).toBe(k);
      expect(dueCount(50, from, until, at - 1, 'x')).toBe(k - 1);
    }
  });

  it('has no burst at the top of an hour: any 10 minutes hold at most their share + 1', () => {
    const target = 600;
    for (let h = 1; h < 12; h++) {
      const top = from + h * H;
      const n = dueCount(target, from, until, top + 5 * 60_000, 'b') - dueCount(target, from, until, top - 5 * 60_000, 'b');
      expect(n).toBeLessThanOrEqual(600 / 72 + 1);
    }
  });

  it('gives different lanes different jitter', () => {
    expect(dueAt(10, from, until, 'a', 1)).not.toBe(dueAt(10, from, until, 'b', 1));
  });
});

describe('proRataTarget', () => {
  it.each([
    [100, from - H, 100],
    [100, from + 6 * H, 50],
    [100, from + 9 * H, 25],
    [100, until, 0],
  ])('target %i starting at %i is %i', (target, now, want) => {
    expect(proRataTarget(target, from, until, now)).toBe(want);
  });
});

describe('pace caps catch-up at a multiple of the hourly share', () => {
  const opts = { target: 1200, windowMs: 12 * H, catchUpFactor: 2, tickMs: 1000 };
  it('allows at most factor x share per hour when far behind', () => {
    let p = null as ReturnType<typeof pace>['next'] | null;
    let sent = 0;
    for (let t = from; t <= from + H; t += 1000) {
      const r = pace(p, opts, t, 1_000_000);
      sent += r.allowed;
      p = r.next;
    }
    // share = 100/h, factor 2 -> 200/h, plus the bucket's first token
    expect(sent).toBeGreaterThanOrEqual(199);
    expect(sent).toBeLessThanOrEqual(201);
  });

  it('never allows more than asked', () => {
    expect(pace({ tokens: 50, at: from }, opts, from, 3).allowed).toBe(3);
  });

  it('lets an accelerated tick carry a whole tick of sends', () => {
    const fast = { ...opts, tickMs: 24 * 60_000 };
    const r = pace({ tokens: 0, at: from }, fast, from + 24 * 60_000, 1_000);
    expect(r.allowed).toBe(80); // 200/h over 24 minutes
  });
});

describe('nextRetryAt', () => {
  const retry = { intervalsMs: [5 * 60_000, 15 * 60_000, H], expireMs: 4 * H };
  it('walks the interval list and then repeats the last', () => {
    expect(nextRetryAt(from, 1, from, retry)).toBe(from + 5 * 60_000);
    expect(nextRetryAt(from, 2, from + 10 * 60_000, retry)).toBe(from + 25 * 60_000);
    expect(nextRetryAt(from, 7, from + 2 * H, retry)).toBe(from + 3 * H);
  });
  it('gives up after the expiry', () => {
    expect(nextRetryAt(from, 5, from + 3.5 * H, retry)).toBeNull();
  });
});
