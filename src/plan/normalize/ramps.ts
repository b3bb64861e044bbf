/** Plan normalization: dates, time zone, send window, skipped days, and ramps. */
import { DEFAULT_RAMP, DEFAULT_WINDOW } from '../defaults.js';
import type { WrittenRamp } from '../schema.js';
import type { Ramp, Weekday } from '../types.js';
import type { KeyPath } from '../yaml-locate.js';
import { daysBetween, isValidDate, isValidTimeZone } from '../../schedule/calendar.js';
import { countSendingDays } from '../../schedule/ramp.js';
import type { NormalizeContext } from './context.js';

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export interface PlanDates {
  /** Minutes of the day. */
  readonly window: { start: number; end: number };
  readonly skipDays: Weekday[];
  /** True when start, launch, zone and window are usable (checks that need them run only then). */
  readonly datesOk: boolean;
}

export function normalizeDates(ctx: NormalizeContext): PlanDates {
  const { w, err } = ctx;
  if (!isValidTimeZone(w.timezone)) err(['timezone'], `unknown time zone "${w.timezone}" (use an IANA name such as Europe/Paris)`);
  if (!isValidDate(w.start)) err(['start'], `${w.start} is not a calendar day`);
  if (!isValidDate(w.launch)) err(['launch'], `${w.launch} is not a calendar day`);
  else if (isValidDate(w.start) && daysBetween(w.start, w.launch) <= 0) err(['launch'], `must be after start (${w.start}), got ${w.launch}`);
  const window = { start: minutesOf(w.window?.start ?? DEFAULT_WINDOW.start), end: minutesOf(w.window?.end ?? DEFAULT_WINDOW.end) };
  if (window.end <= window.start) err(['window', 'end'], `must be after window.start (${w.window?.start}), got ${w.window?.end}`);
  const skipDays = [...new Set(w.skip_days ?? [])];
  if (skipDays.length === 7) err(['skip_days'], 'skips every day of the week: nothing would ever be sent');
  const datesOk = !ctx.failed();
  return { window, skipDays, datesOk };
}

export interface PlanRamps {
  /** The plan's default ramp (its own `ramps.default`, else the built-in one); null when it is broken. */
  readonly defaultRamp: Ramp | null;
  /** A ramp reference (a name, an inline ramp, or none: the default); null (reported) when broken. */
  resolveRamp(path: KeyPath, ref: string | WrittenRamp | undefined, inlineName: string): Ramp | null;
}

export function normalizeRamps(ctx: NormalizeContext, { skipDays, datesOk }: PlanDates): PlanRamps {
  const { w, err, warn } = ctx;
  const rampCache = new Map<string, Ramp | null>();
  const sendingDays = datesOk ? countSendingDays(w.start, w.launch, skipDays) : 1;
  const buildRamp = (path: KeyPath, name: string, r: WrittenRamp): Ramp | null => {
    const isCurve = r.start !== undefined || r.growth !== undefined || r.reach !== undefined || r.cap !== undefined;
    if (r.daily && isCurve) { err(path, 'give either daily (an explicit list) or a curve (start, growth/reach, cap), not both'); return null; }
    if (r.daily) {
      let ok = true;
      for (let i = 1; i < r.daily.length; i++) {
        if (r.daily[i]! < r.daily[i - 1]!) {
          err([...path, 'daily', i], `must not decrease: day ${i + 1} (${r.daily[i]}) is less than day ${i} (${r.daily[i - 1]})`);
          ok = false;
          break;
        }
      }
      if (!ok) return null;
      const steep = r.daily.findIndex((v, i) => i > 0 && r.daily![i - 1]! > 0 && v / r.daily![i - 1]! > 2);
      if (steep > 0) warn([...path, 'daily', steep], `grows more than 2x in a day (${r.daily[steep - 1]} -> ${r.daily[steep]}): providers read fast jumps as a spam run`);
      if (datesOk && r.daily.length > sendingDays + 1) {
        warn([...path, 'daily'], `has ${r.daily.length} days but only ${sendingDays} sending days fit before launch: the ramp's end falls after launch`);
      }
      return { kind: 'daily', name, daily: Object.freeze([...r.daily]) };
    }
    if (r.start === undefined) { err(path, 'a ramp needs daily (a list of volumes) or a curve with start'); return null; }
    if (r.growth !== undefined && r.reach !== undefined) { err([...path, 'reach'], 'give growth or reach, not both'); return null; }
    if (r.growth === undefined && r.reach === undefined) { err(path, 'a curve needs growth (daily multiplier) or reach (volume on launch day)'); return null; }
    if (r.growth !== undefined && !(r.growth > 1)) { err([...path, 'growth'], `must be greater than 1 (got ${r.growth})`); return null; }
    if (r.cap !== undefined && r.cap < r.start) { err([...path, 'cap'], `must be at least start (${r.start}), got ${r.cap}`); return null; }
    if (r.reach !== undefined) {
      if (r.reach <= r.start) { err([...path, 'reach'], `must be greater than start (${r.start}), got ${r.reach}`); return null; }
      // Launch day is stage sendingDays + 1; grow so that stage lands on `reach`.
      const growth = (r.reach / r.start) ** (1 / Math.max(1, sendingDays));
      if (growth > 2) warn([...path, 'reach'], `needs growth ${growth.toFixed(2)}x a day to reach ${r.reach} from ${r.start} in ${sendingDays} sending days: faster than 2x a day, which providers read as a spam run; start earlier or aim lower`);
      return { kind: 'curve', name, start: r.start, growth, cap: r.cap ?? r.reach, reach: Object.freeze({ volume: r.reach, slack: 0 }) };
    }
    if (r.growth! > 2) warn([...path, 'growth'], `${r.growth} is faster than 2x a day: practitioners grow 1.3-2x`);
    if (datesOk && r.cap !== undefined) {
      const plateau = Math.ceil(Math.log(r.cap / r.start) / Math.log(r.growth!)) + 1;
      if (plateau > sendingDays + 1) {
        warn([...path, 'cap'], `reaches its cap (${r.cap}) on ramp day ${plateau}, but launch day is ramp day ${sendingDays + 1}: the ramp's end falls after launch`);
      }
    }
    return { kind: 'curve', name, start: r.start, growth: r.growth!, cap: r.cap ?? null };
  };
  const namedRamp = (name: string): Ramp | null => {
    if (!rampCache.has(name)) rampCache.set(name, buildRamp(['ramps', name], name, w.ramps![name]!));
    return rampCache.get(name)!;
  };
  for (const name of Object.keys(w.ramps ?? {})) namedRamp(name);
  const defaultRamp: Ramp | null = w.ramps?.default
    ? namedRamp('default')
    : { kind: 'curve', name: 'builtin', start: DEFAULT_RAMP.start, growth: DEFAULT_RAMP.growth, cap: DEFAULT_RAMP.cap };
  const resolveRamp = (path: KeyPath, ref: string | WrittenRamp | undefined, inlineName: string): Ramp | null => {
    if (ref === undefined) return defaultRamp;
    if (typeof ref === 'string') {
      if (!w.ramps || !(ref in w.ramps)) {
        const known = Object.keys(w.ramps ?? {});
        err(path, `no ramp named "${ref}"${known.length ? ` (ramps: ${known.join(', ')})` : ' (the plan has no ramps section)'}`);
        return null;
      }
      return namedRamp(ref);
    }
    return buildRamp(path, inlineName, ref);
  };
  return { defaultRamp, resolveRamp };
}
