/**
 * Where a lane stands on the plan's calendar at an instant. Pure.
 */
import type { Plan, PlanIp } from '../plan/types.js';
import { daysBetween, localTime, zonedInstant } from '../schedule/calendar.js';
import { isSkipDay } from '../schedule/ramp.js';

export interface DayContext {
  /** Plan-local date at `now`. */
  readonly date: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  /** True when `now` is inside the send window. */
  readonly inWindow: boolean;
  /** Past launch day: the warm-up is over. */
  readonly afterRamp: boolean;
}

export function dayContext(plan: Plan, now: number): DayContext {
  const { date } = localTime(now, plan.timezone);
  const windowStart = zonedInstant(date, plan.window.start, plan.timezone);
  const windowEnd = zonedInstant(date, plan.window.end, plan.timezone);
  return { date, windowStart, windowEnd, inWindow: now >= windowStart && now < windowEnd, afterRamp: daysBetween(plan.launch, date) >= 0 };
}

/** True when the IP ramps on `date`: on or after its start, before launch, not a skipped weekday. */
export function isSendingDay(plan: Plan, ip: PlanIp, date: string): boolean {
  return daysBetween(ip.start, date) >= 0 && daysBetween(date, plan.launch) > 0 && !isSkipDay(date, plan.skipDays);
}
