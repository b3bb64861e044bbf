import { describe, expect, it } from 'vitest';
import { addDays, daysBetween, isValidDate, localTime, weekdayOf, zonedInstant } from '../../src/schedule/calendar.js';

describe('calendar days', () => {
  it.each([
    ['2026-12-31', 1, '2027-01-01'],
    ['2028-02-28', 1, '2028-02-29'],
    ['2026-03-01', -1, '2026-02-28'],
  ])('%s + %i day is %s', (d, n, want) => expect(addDays(d, n)).toBe(want));

  it('measures days and weekdays', () => {
    expect(daysBetween('2026-12-01', '2026-12-15')).toBe(14);
    expect(weekdayOf('2026-12-01')).toBe('tue');
    expect(isValidDate('2026-02-29')).toBe(false);
  });
});

describe('zonedInstant and localTime', () => {
  it.each([
    ['Europe/Paris', '2026-12-01', 8 * 60, '2026-12-01T07:00:00.000Z'],
    ['Europe/Paris', '2026-07-01', 8 * 60, '2026-07-01T06:00:00.000Z'],
    ['Asia/Tokyo', '2026-12-01', 9 * 60, '2026-12-01T00:00:00.000Z'],
    ['America/New_York', '2026-12-01', 0, '2026-12-01T05:00:00.000Z'],
    // Spring forward in Paris (2026-03-29, 02:00 -> 03:00): 02:30 does not exist: shifted forward by the gap (03:30), as Temporal's 'compatible'.
    ['Europe/Paris', '2026-03-29', 150, '2026-03-29T01:30:00.000Z'],
    // Fall back (2026-10-25, 03:00 -> 02:00): 02:30 happens twice, the first is taken.
    ['Europe/Paris', '2026-10-25', 150, '2026-10-25T00:30:00.000Z'],
    ['Europe/Paris', '2026-12-01', 1440, '2026-12-01T23:00:00.000Z'],
  ])('%s %s at minute %i is %s', (zone, date, minutes, iso) => {
    expect(new Date(zonedInstant(date, minutes, zone)).toISOString()).toBe(iso);
  });

  it('reads the wall clock back', () => {
    expect(localTime(Date.parse('2026-12-01T07:30:00Z'), 'Europe/Paris')).toEqual({ date: '2026-12-01', minutes: 510, seconds: 0 });
  });

  it('has 23 hours on the spring-forward day', () => {
    const start = zonedInstant('2026-03-29', 0, 'Europe/Paris');
    const end = zonedInstant('2026-03-29', 1440, 'Europe/Paris');
    expect((end - start) / 3_600_000).toBe(23);
  });
});
