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
    // Shortly after a change, both directions, three zones (the reported cases first).
    ['America/New_York', '2026-11-01', 5 * 60, '2026-11-01T10:00:00.000Z'],
    ['America/New_York', '2026-11-01', 0, '2026-11-01T04:00:00.000Z'],
    ['America/New_York', '2026-11-01', 90, '2026-11-01T05:30:00.000Z'],
    ['America/New_York', '2026-11-01', 1440, '2026-11-02T05:00:00.000Z'],
    ['America/New_York', '2026-03-08', 3 * 60, '2026-03-08T07:00:00.000Z'],
    ['America/New_York', '2026-03-08', 150, '2026-03-08T07:30:00.000Z'],
    ['America/New_York', '2026-03-08', 8 * 60, '2026-03-08T12:00:00.000Z'],
    // Santiago: back from -03 to -04 at 24:00 on 2026-04-04; forward from -04 to -03 at 24:00 on 2026-09-05.
    ['America/Santiago', '2026-04-05', 0, '2026-04-05T04:00:00.000Z'],
    ['America/Santiago', '2026-04-05', 8 * 60, '2026-04-05T12:00:00.000Z'],
    ['America/Santiago', '2026-04-04', 23 * 60 + 30, '2026-04-05T02:30:00.000Z'],
    ['America/Santiago', '2026-09-06', 0, '2026-09-06T04:00:00.000Z'],
    ['America/Santiago', '2026-09-06', 60, '2026-09-06T04:00:00.000Z'],
    ['America/Santiago', '2026-09-06', 8 * 60, '2026-09-06T11:00:00.000Z'],
    ['Europe/Paris', '2026-03-29', 4 * 60, '2026-03-29T02:00:00.000Z'],
    ['Europe/Paris', '2026-10-25', 4 * 60, '2026-10-25T03:00:00.000Z'],
    ['Europe/Paris', '2026-10-25', 3 * 60, '2026-10-25T02:00:00.000Z'],
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

describe('localTime in UTC (read without ICU)', () => {
  it('reads every instant as ICU does, to the second, across years, leap days and midnights', () => {
    const icu = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    const instants = [0, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2026, 11, 31, 23, 59, 59), Date.UTC(2027, 0, 1), 1796037801866];
    for (let t = Date.UTC(2020, 0, 1); t < Date.UTC(2040, 0, 1); t += 7_919_993_117) instants.push(t);
    for (const zone of ['UTC', 'Etc/UTC']) {
      for (const t of instants) {
        const p: Record<string, string> = {};
        for (const x of icu.formatToParts(new Date(t))) p[x.type] = x.value;
        expect(localTime(t, zone)).toEqual({ date: `${p.year}-${p.month}-${p.day}`, minutes: Number(p.hour) * 60 + Number(p.minute), seconds: Number(p.second) });
      }
    }
  });
});
