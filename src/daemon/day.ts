/**
 * Where a lane stands on the plan's calendar at an instant. Pure.
 */
import type { Plan, PlanIp } from '../plan/types.js';
import { addDays, daysBetween, localTime, zonedInstant } from '../schedule/calendar.js';
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

/**
 * {@link dayContext} and the IPs that ramp on the date, remembered for as long as the plan-local
 * date lasts: the daemon asks at every tick (the throughput bench ticks ~3 messages apart), and
 * within a date only `inWindow` changes. The date's span is its local midnight to the next one
 * (DST-safe through zonedInstant); a span that does not contain the instant it was computed for
 * is not remembered.
 */
export class PlanCalendar {
  readonly #plan: Plan;
  #from = 0;
  #to = -1;
  #day: Omit<DayContext, 'inWindow'> | null = null;
  #sendingIps: ReadonlySet<string> = new Set();

  constructor(plan: Plan) {
    this.#plan = plan;
  }

  /** The day context at `now`, and the addresses of the IPs whose sending day it is. */
  at(now: number): { ctx: DayContext; sendingIps: ReadonlySet<string> } {
    if (this.#day === null || now < this.#from || now >= this.#to) this.#learn(now);
    const d = this.#day!;
    return { ctx: Object.assign({}, d, { inWindow: now >= d.windowStart && now < d.windowEnd }), sendingIps: this.#sendingIps };
  }

  #learn(now: number): void {
    const plan = this.#plan;
    const { inWindow: _w, ...day } = dayContext(plan, now);
    this.#day = day;
    this.#sendingIps = new Set(plan.ips.filter((ip) => isSendingDay(plan, ip, day.date)).map((ip) => ip.address));
    const from = zonedInstant(day.date, 0, plan.timezone);
    const to = zonedInstant(addDays(day.date, 1), 0, plan.timezone);
    [this.#from, this.#to] = from <= now && now < to ? [from, to] : [0, -1];
  }
}
