/**
 * Ramp arithmetic: the volume of a stage, the one definition of a lane's next
 * stage and launch-day stage, and a lane's calendar before any adaptation
 * (the preview) and as adapted. Pure.
 */
import type { Plan, PlanIp, Provider, Ramp, Weekday } from '../plan/types.js';
import { addDays, daysBetween, weekdayOf } from './calendar.js';

/** Volume of ramp stage `stage` (1 = a lane's first sending day). */
export function stageVolume(ramp: Ramp, stage: number): number {
  if (stage < 1) return 0;
  if (ramp.kind === 'daily') return ramp.daily[Math.min(stage, ramp.daily.length) - 1]!;
  const v = Math.round(ramp.start * ramp.growth ** (stage - 1));
  return ramp.cap === null ? v : Math.min(ramp.cap, v);
}

/** The first stage at which the ramp stops growing, or null if it grows forever. */
export function plateauStage(ramp: Ramp): number | null {
  if (ramp.kind === 'daily') return ramp.daily.length;
  if (ramp.cap === null) return null;
  let stage = 1;
  while (stageVolume(ramp, stage) < ramp.cap && stage < 10_000) stage++;
  return stage;
}

/** True when no sending happens on `date`. */
export function isSkipDay(date: string, skipDays: readonly Weekday[]): boolean {
  return skipDays.length > 0 && skipDays.includes(weekdayOf(date));
}

/** Sending days in [from, until) (until exclusive). */
export function countSendingDays(from: string, until: string, skipDays: readonly Weekday[]): number {
  // Integer weekday arithmetic: status, forecast and plan warnings call this per lane per day,
  // and parsing a date string per day made it the hottest function of `warmup status`.
  const days = daysBetween(from, until);
  if (days <= 0) return 0;
  if (skipDays.length === 0) return days;
  let weekday = WEEK.indexOf(weekdayOf(from));
  let n = 0;
  for (let i = 0; i < days; i++, weekday = (weekday + 1) % 7) if (!skipDays.includes(WEEK[weekday]!)) n++;
  return n;
}

const WEEK: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** A lane's last day as the store has it: its stage and day-end decision (null while open). */
export interface LastLaneDay {
  readonly stage: number;
  readonly decision: string | null;
}

/**
 * The stage of a lane's next sending day. `laneStage` is the lane's stage as
 * its last day-end decision left it (advance +1, hold the same, back-off
 * lower; 0 before its first day); stage 1 is the first sending day. While the
 * lane's last day is still open (not decided yet), that day is assumed to
 * advance: its stage + 1.
 */
export function nextStage(laneStage: number, lastDay?: LastLaneDay | null): number {
  if (lastDay && lastDay.decision === null) return Math.max(1, lastDay.stage + 1);
  return Math.max(1, laneStage);
}

/**
 * The stage a lane whose IP starts on `start` runs at on launch day before any
 * adaptation: one stage per sending day from `start` to launch, launch day
 * itself included (launch is always counted, even on a skipped weekday: it is
 * the day the lane must be ready for). 0 when `start` is after launch.
 */
export function launchStage(plan: Pick<Plan, 'launch' | 'skipDays'>, start: string): number {
  if (daysBetween(start, plan.launch) < 0) return 0;
  return countSendingDays(start, plan.launch, plan.skipDays) + 1;
}

/** The ramp a lane follows: the IP's own, else the one derived from its launch volume, else the provider's. */
export function laneRamp(ip: PlanIp, provider: Provider): Ramp {
  return ip.ramp ?? ip.laneRamps[provider.name] ?? provider.ramp;
}

/**
 * The stage a lane is at on `date` before any adaptation: the count of sending
 * days from the IP's start to `date` inclusive, or 0 if it does not send then.
 */
export function plannedStage(plan: Plan, ip: PlanIp, date: string): number {
  if (daysBetween(ip.start, date) < 0 || isSkipDay(date, plan.skipDays)) return 0;
  return countSendingDays(ip.start, addDays(date, 1), plan.skipDays);
}

export interface PreviewLane {
  readonly ip: string;
  readonly provider: string;
  readonly stage: number;
  readonly volume: number;
}

export interface PreviewDay {
  /** 1-based day of the plan (start = 1). */
  readonly day: number;
  readonly date: string;
  readonly weekday: Weekday;
  /** Launch day: volumes show the capacity each lane is ready for. */
  readonly launch: boolean;
  readonly skip: boolean;
  readonly lanes: readonly PreviewLane[];
  readonly perIp: Readonly<Record<string, number>>;
  readonly perProvider: Readonly<Record<string, number>>;
  readonly total: number;
}

/**
 * The whole schedule from start to launch day inclusive. On launch day each
 * lane shows the next stage's volume: what it is ready to carry.
 */
export function previewPlan(plan: Plan, filter: { ip?: string; provider?: string } = {}): PreviewDay[] {
  return buildDays(plan, filter, (ip, provider, date, launch) => {
    const stage = launch ? launchStage(plan, ip.start) : plannedStage(plan, ip, date);
    return { stage, volume: stageVolume(laneRamp(ip, provider), stage) };
  });
}

/** What happened to a lane so far, for {@link adaptedPlan}. */
export interface LaneProgress {
  readonly ip: string;
  readonly provider: string;
  /** The stage of the lane's first sending day after the days it has run: {@link nextStage}. */
  readonly nextStage: number;
  readonly state: 'active' | 'suspended' | 'paused';
  /** Days the lane has run: their stage and (possibly pro rata) target. */
  readonly days: ReadonlyMap<string, { readonly stage: number; readonly target: number }>;
}

/**
 * The schedule as it now stands: the days already run as they ran, and from
 * `today` on the lane advancing one stage per sending day from where it is.
 * A lane that held or backed off reaches its volumes later than planned: this
 * is where the shifted dates show. A paused lane sends nothing from today on.
 */
export function adaptedPlan(plan: Plan, progress: readonly LaneProgress[], today: string, filter: { ip?: string; provider?: string } = {}): PreviewDay[] {
  const byLane = new Map(progress.map((p) => [`${p.ip}|${p.provider}`, p]));
  return buildDays(plan, filter, (ip, provider, date, launch) => {
    const p = byLane.get(`${ip.address}|${provider.name}`);
    const ramp = laneRamp(ip, provider);
    if (!p) return { stage: 0, volume: 0 };
    const ran = p.days.get(date);
    if (daysBetween(date, today) > 0) return ran ? { stage: ran.stage, volume: ran.target } : { stage: 0, volume: 0 };
    if (ran && date === today) return { stage: ran.stage, volume: ran.target };
    if (p.state === 'paused') return { stage: 0, volume: 0 };
    if (!launch && (daysBetween(ip.start, date) < 0 || isSkipDay(date, plan.skipDays))) return { stage: 0, volume: 0 };
    // From the first day not yet run: one stage per sending day.
    const first = p.days.has(today) ? addDays(today, 1) : today;
    const from = daysBetween(first, ip.start) > 0 ? ip.start : first;
    const stage = p.nextStage + (daysBetween(from, date) > 0 ? countSendingDays(from, date, plan.skipDays) : 0);
    return { stage, volume: stageVolume(ramp, stage) };
  });
}

/** Days from start to launch inclusive, each lane's stage and volume from `laneDay`, summed. */
function buildDays(
  plan: Plan,
  filter: { ip?: string; provider?: string },
  laneDay: (ip: PlanIp, provider: Provider, date: string, launch: boolean) => { stage: number; volume: number },
): PreviewDay[] {
  const ips = plan.ips.filter((i) => !filter.ip || i.address === filter.ip);
  const providers = plan.providers.filter((p) => !filter.provider || p.name === filter.provider);
  const days: PreviewDay[] = [];
  const span = daysBetween(plan.start, plan.launch);
  for (let i = 0; i <= span; i++) {
    const date = addDays(plan.start, i);
    const launch = i === span;
    const skip = !launch && isSkipDay(date, plan.skipDays);
    const lanes: PreviewLane[] = [];
    const perIp: Record<string, number> = {};
    const perProvider: Record<string, number> = {};
    let total = 0;
    for (const ip of ips) {
      for (const provider of providers) {
        const { stage, volume } = laneDay(ip, provider, date, launch);
        lanes.push({ ip: ip.address, provider: provider.name, stage, volume });
        perIp[ip.address] = (perIp[ip.address] ?? 0) + volume;
        perProvider[provider.name] = (perProvider[provider.name] ?? 0) + volume;
        total += volume;
      }
    }
    days.push({ day: i + 1, date, weekday: weekdayOf(date), launch, skip, lanes, perIp, perProvider, total });
  }
  return days;
}
