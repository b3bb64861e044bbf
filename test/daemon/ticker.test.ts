import { Cron } from 'croner';
import { describe, expect, it } from 'vitest';
import { cronRate } from '../../src/daemon/ticker.js';

describe('cronRate (the production tick: croner says when the schedule next falls)', () => {
  const everyFive = cronRate(new Cron('*/5 * * * * *'), 5000);
  it.each([
    ['ended on a boundary: a whole period', Date.UTC(2026, 10, 30, 9, 0, 10), 5000],
    ['ended mid-period: the rest of it', Date.UTC(2026, 10, 30, 9, 0, 12), 3000],
    ['ended between seconds: to the next boundary', Date.UTC(2026, 10, 30, 9, 0, 12, 500), 2500],
    ['ran over a minute boundary: falls on :00', Date.UTC(2026, 10, 30, 9, 0, 58), 2000],
  ])('%s', (_t, endedAt, wait) => {
    expect(everyFive({ startedAt: endedAt - 100, endedAt })).toBe(wait);
  });
});
