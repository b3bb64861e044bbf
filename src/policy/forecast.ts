/**
 * Launch forecast: for each lane, the stage it will have reached on launch
 * day at the pace it has kept so far (holds and back-offs included), and
 * whether that carries the plan's launch-day volume. Pure.
 */
import type { Plan } from '../plan/types.js';
import { addDays, daysBetween, localTime } from '../schedule/calendar.js';
import { countSendingDays, isSkipDay, laneRamp, launchStage, nextStage, stageVolume } from '../schedule/ramp.js';

export interface LaneState {
  readonly ip: string;
  readonly provider: string;
  /** Stage the lane will run at on its next sending day. */
  readonly stage: number;
  readonly state: 'active' | 'suspended' | 'paused';
}

export interface LaneHistoryDay {
  readonly ip: string;
  readonly provider: string;
  readonly day: string;
  /** advance | hold | back_off | pause, or null while the day is open. */
  readonly decision: string | null;
}

/**
 * What the forecast reads of a lane's history: how many of its days were decided, how
 * many of those advanced, and its last decided day. The store can give these directly
 * (one row per lane, `decisionTallies`) instead of every lane-day.
 */
export interface DecisionTally {
  readonly ip: string;
  readonly provider: string;
  readonly decided: number;
  readonly advanced: number;
  /** The lane's last day with a decision, or null. */
  readonly lastDecided: string | null;
}

/** The tallies of a history, one per lane in the order the lanes first appear. */
export function tallyDecisions(history: readonly LaneHistoryDay[]): DecisionTally[] {
  const byLane = new Map<string, { ip: string; provider: string; decided: number; advanced: number; lastDecided: string | null }>();
  for (const h of history) {
    const key = `${h.ip}|${h.provider}`;
    let t = byLane.get(key);
    if (!t) { t = { ip: h.ip, provider: h.provider, decided: 0, advanced: 0, lastDecided: null }; byLane.set(key, t); }
    if (h.decision === null) continue;
    t.decided++;
    if (h.decision === 'advance') t.advanced++;
    if (t.lastDecided === null || h.day > t.lastDecided) t.lastDecided = h.day;
  }
  return [...byLane.values()];
}

export type Verdict = 'ready' | 'behind' | 'paused';

export interface LaneForecast {
  readonly ip: string;
  readonly provider: string;
  readonly state: LaneState['state'];
  readonly stage: number;
  /** The volume the unadapted plan gives this lane on launch day. */
  readonly launchTarget: number;
  /** Share of decided days that advanced (1 when none decided yet). */
  readonly pace: number;
  readonly projectedStage: number;
  /** What the lane can carry on launch day at its pace. */
  readonly projectedVolume: number;
  readonly verdict: Verdict;
  /** The date the lane reaches its launch target at this pace (may be after launch); null if never. */
  readonly readyOn: string | null;
}

export interface IpForecast {
  readonly ip: string;
  readonly verdict: Verdict;
  /** Launch-day capacity per provider at the projected pace. */
  readonly capacity: Readonly<Record<string, number>>;
}

export interface Forecast {
  /** The day the forecast is made from (plan-local). */
  readonly asOf: string;
  readonly launch: string;
  readonly lanes: readonly LaneForecast[];
  readonly ips: readonly IpForecast[];
  /** Total launch-day capacity per provider: sign-up mail each provider can take on launch day. */
  readonly capacity: Readonly<Record<string, number>>;
}

export function forecastLaunch(plan: Plan, lanes: readonly LaneState[], history: readonly LaneHistoryDay[] | { readonly tallies: readonly DecisionTally[] }, today: string): Forecast {
  const decided = new Map<string, { advanced: number; total: number }>();
  for (const t of 'tallies' in history ? history.tallies : tallyDecisions(history)) {
    if (t.decided > 0) decided.set(`${t.ip}|${t.provider}`, { advanced: t.advanced, total: t.decided });
  }
  // What depends only on the IP, once per IP (status forecasts 512 lanes of 64 IPs in one call).
  const ips = new Map<string, { ip: Plan['ips'][number]; launch: number; from: string; left: number }>();
  for (const ip of plan.ips) {
    if (ips.has(ip.address)) continue; // the first, as a search of the list finds
    // Sending days left before launch, from today (or the IP's start) on.
    const from = daysBetween(today, ip.start) > 0 ? ip.start : today;
    const left = daysBetween(from, plan.launch) > 0 ? countSendingDays(from, plan.launch, plan.skipDays) : 0;
    ips.set(ip.address, { ip, launch: launchStage(plan, ip.start), from, left });
  }
  const providers = new Map<string, Plan['providers'][number]>();
  for (const p of plan.providers) if (!providers.has(p.name)) providers.set(p.name, p);
  const out: LaneForecast[] = [];
  const byIp = new Map<string, LaneForecast[]>();
  for (const lane of lanes) {
    const at = ips.get(lane.ip);
    const provider = providers.get(lane.provider);
    if (!at || !provider) continue;
    const { ip, from, left } = at;
    const ramp = laneRamp(ip, provider);
    const launchTarget = stageVolume(ramp, at.launch);
    const d = decided.get(`${lane.ip}|${lane.provider}`);
    const pace = d && d.total > 0 ? d.advanced / d.total : 1;
    const stage = nextStage(lane.stage);
    const projectedStage = stage + Math.floor(left * pace);
    const projectedVolume = lane.state === 'paused' ? 0 : stageVolume(ramp, projectedStage);
    const verdict: Verdict = lane.state === 'paused' ? 'paused' : projectedVolume >= launchTarget ? 'ready' : 'behind';
    const f: LaneForecast = {
      ip: lane.ip, provider: lane.provider, state: lane.state, stage, launchTarget, pace, projectedStage, projectedVolume, verdict,
      readyOn: lane.state === 'paused' ? null : readyDate(plan, from, stage, pace, launchTarget, ramp),
    };
    out.push(f);
    const mine = byIp.get(lane.ip);
    if (mine) mine.push(f);
    else byIp.set(lane.ip, [f]);
  }
  const perIp: IpForecast[] = [];
  for (const ip of plan.ips) {
    const mine = byIp.get(ip.address);
    if (!mine) continue;
    const verdict: Verdict = mine.every((l) => l.verdict === 'paused') ? 'paused' : mine.some((l) => l.verdict !== 'ready') ? 'behind' : 'ready';
    perIp.push({ ip: ip.address, verdict, capacity: Object.fromEntries(mine.map((l) => [l.provider, l.projectedVolume])) });
  }
  const capacity: Record<string, number> = {};
  for (const l of out) capacity[l.provider] = (capacity[l.provider] ?? 0) + l.projectedVolume;
  return { asOf: today, launch: plan.launch, lanes: out, ips: perIp, capacity };
}

/**
 * The day a forecast made at `now` starts from: the plan-local date of `now`, or the day after the
 * last decided day when that day is already over (decided after its window), never before the
 * plan's start nor after launch. Every view derives its readiness from this one day, so status,
 * report, simulate and the daemon's behind-for-launch warning give the same "ready on" dates.
 */
export function readinessDay(plan: Plan, history: readonly LaneHistoryDay[] | { readonly tallies: readonly DecisionTally[] }, now: number): string {
  let day = localTime(now, plan.timezone).date;
  // The day after the last decided day of any lane, when that is today or later.
  let last: string | null = null;
  for (const t of 'tallies' in history ? history.tallies : tallyDecisions(history)) if (t.lastDecided !== null && (last === null || t.lastDecided > last)) last = t.lastDecided;
  if (last !== null && last >= day) day = addDays(last, 1);
  if (daysBetween(day, plan.start) > 0) day = plan.start;
  if (daysBetween(plan.launch, day) > 0) day = plan.launch;
  return day;
}

/**
 * Launch readiness as of the instant `now` (the database's clock, or --at): the one function every
 * view calls, with the lanes' history or its tallies (`{ tallies }`, what `warmup status` reads).
 *
 * @example
 * const f = launchReadiness(plan, lanes, history, Date.parse('2026-12-05T18:00:00Z'));
 * f.lanes.filter((l) => l.verdict === 'behind').map((l) => `${l.ip} ${l.provider} ready on ${l.readyOn}`);
 */
export function launchReadiness(plan: Plan, lanes: readonly LaneState[], history: readonly LaneHistoryDay[] | { readonly tallies: readonly DecisionTally[] }, now: number): Forecast {
  return forecastLaunch(plan, lanes, history, readinessDay(plan, history, now));
}

/** First date on which the lane, advancing at `pace`, runs at or above `target`. */
function readyDate(plan: Plan, from: string, stage: number, pace: number, target: number, ramp: ReturnType<typeof laneRamp>): string | null {
  if (stageVolume(ramp, stage) >= target) return from;
  if (pace <= 0) return null;
  let progress = stage;
  for (let d = from, i = 0; i < 366; d = addDays(d, 1), i++) {
    if (isSkipDay(d, plan.skipDays)) continue;
    progress += pace;
    if (stageVolume(ramp, Math.floor(progress)) >= target) return addDays(d, 1);
  }
  return null;
}
