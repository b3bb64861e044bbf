/**
 * Calendar arithmetic on plan-local dates (`YYYY-MM-DD`) and conversions between
 * instants and wall-clock time in an IANA zone. Pure: every function takes the
 * instant it is about; nothing reads the clock.
 */
import type { Weekday } from '../plan/types.js';

const DAY_MS = 86_400_000;
const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function dateToUtcMs(date: string): number {
  // Remembered: the forecast and the schedule ask for the same few dates thousands of times
  // (splitting and Date.UTC cost ~1.5 µs a call: 6 ms of a `warmup status` over 512 lanes).
  let ms = utcMs.get(date);
  if (ms === undefined) {
    const [y, m, d] = date.split('-').map(Number);
    ms = Date.UTC(y!, m! - 1, d!);
    if (utcMs.size >= 10_000) utcMs.clear();
    utcMs.set(date, ms);
  }
  return ms;
}

const utcMs = new Map<string, number>();

function utcMsToDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** True when `date` is a real calendar day written YYYY-MM-DD. */
export function isValidDate(date: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(date) && utcMsToDate(dateToUtcMs(date)) === date;
}

export function addDays(date: string, days: number): string {
  return utcMsToDate(dateToUtcMs(date) + days * DAY_MS);
}

/** Whole days from `a` to `b` (b - a). */
export function daysBetween(a: string, b: string): number {
  return Math.round((dateToUtcMs(b) - dateToUtcMs(a)) / DAY_MS);
}

export function weekdayOf(date: string): Weekday {
  return WEEKDAYS[new Date(dateToUtcMs(date)).getUTCDay()]!;
}

/** True when the zone name is one this Node knows. */
export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * Zones that are UTC at every instant: read without ICU. Creating the first
 * Intl.DateTimeFormat of a process loads ICU's locale and pattern data (30-80 ms
 * of a `warmup status` here), which a plan in UTC never needs.
 */
const ALWAYS_UTC = new Set(['UTC', 'Etc/UTC']);

/** Wall-clock reading of an instant in a zone. */
export function localTime(instantMs: number, zone: string): { date: string; minutes: number; seconds: number } {
  if (ALWAYS_UTC.has(zone)) {
    const d = new Date(instantMs);
    return { date: d.toISOString().slice(0, 10), minutes: d.getUTCHours() * 60 + d.getUTCMinutes(), seconds: d.getUTCSeconds() };
  }
  const parts: Record<string, string> = {};
  for (const p of formatterFor(zone).formatToParts(new Date(instantMs))) parts[p.type] = p.value;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
    seconds: Number(parts.second),
  };
}

/** `2026-12-05 14:03`: an instant in a zone (every time status, events and the report print). */
export function localStamp(instantMs: number, zone: string): string {
  const t = localTime(instantMs, zone);
  return `${t.date} ${String(Math.floor(t.minutes / 60)).padStart(2, '0')}:${String(t.minutes % 60).padStart(2, '0')}`;
}

/** Offset of the zone from UTC at an instant, in ms (local - UTC). */
function offsetAt(instantMs: number, zone: string): number {
  const t = localTime(instantMs, zone);
  const asUtc = dateToUtcMs(t.date) + t.minutes * 60_000 + t.seconds * 1000;
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `zone` shows `date` + `minutes`.
 * DST-safe, as Temporal's 'compatible' disambiguation: a time that does not
 * exist (spring forward) is shifted forward by the gap; an ambiguous time
 * (fall back) maps to its first occurrence.
 * `minutes` may be 1440 (midnight that ends the day).
 */
export function zonedInstant(date: string, minutes: number, zone: string): number {
  // Pure and asked for the same few window edges on every tick: remembered (each answer costs a dozen Intl formats).
  const key = `${zone}|${date}|${minutes}`;
  let at = instants.get(key);
  if (at === undefined) {
    if (instants.size >= 10_000) instants.clear();
    at = computeZonedInstant(date, minutes, zone);
    instants.set(key, at);
  }
  return at;
}

const instants = new Map<string, number>();

function computeZonedInstant(date: string, minutes: number, zone: string): number {
  const naive = dateToUtcMs(date) + minutes * 60_000;
  // The offsets in force within a day either side: a zone changes offset at most once in that span
  // (the old code took one offset near the instant and missed the change hours after it).
  const offsets = new Set([-86_400_000, -43_200_000, 0, 43_200_000, 86_400_000].map((d) => offsetAt(naive + d, zone)));
  const candidates = [...offsets].map((o) => naive - o);
  const exact = candidates.filter((c) => localMatches(c, date, minutes, zone));
  // Ambiguous (fall back): the first occurrence. None (spring forward): the offset from before the
  // gap, which reads as the wall time shifted forward by the gap.
  return exact.length > 0 ? Math.min(...exact) : Math.max(...candidates);
}

function localMatches(instantMs: number, date: string, minutes: number, zone: string): boolean {
  const t = localTime(instantMs, zone);
  const want = addDays(date, Math.floor(minutes / 1440));
  return t.date === want && t.minutes === minutes % 1440;
}

/** Formats minutes after midnight as HH:MM. */
export function formatMinutes(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
