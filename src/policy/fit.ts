/**
 * Feasibility before day 1 (`warmup plan --fit`): for each lane, what the ramp
 * can reach by launch under the provider's modelled limits (the same model
 * `warmup simulate` answers with), whether that carries the launch-day
 * target, and what to change when it does not. Pure.
 *
 * The projection is the simulation without randomness, made conservative: a
 * day whose even hourly share would exceed `FIT_MARGIN` of the provider's
 * hourly limit for the IP (at the reputation the IP has then) is counted as a
 * back-off, as the policy would after the provider's rate replies (and the lane
 * is not ready); a day holds with the chance that greylisting and noise push its
 * deferrals over `max_deferral_rate`, and the lane advances by the rest.
 */
import type { Plan, PlanIp, Provider, Ramp, Rule } from '../plan/types.js';
import { addDays, daysBetween } from '../schedule/calendar.js';
import { countSendingDays, isSkipDay, laneRamp, launchStage, previewPlan, stageVolume } from '../schedule/ramp.js';
import type { ProviderModel } from '../simulate/profiles.js';
import { hourlyLimitOf, reputationOf, startingEarned } from '../simulate/receivers.js';
import { parseReply } from '../send/classify.js';
import { stageForVolume } from './day-end.js';
import { effectiveRules } from './rules.js';

/** Share of a modelled limit a plan may use: room for jitter, retries and the rules' reaction to one rate reply. */
export const FIT_MARGIN = 0.8;
/** A daily hold chance under this is left to the slack rather than projected. */
const NOISE = 0.02;
/** How far back the earliest start is looked for. */
const MAX_SHIFT_DAYS = 180;

export interface LaneProjection {
  /** Stage the lane runs at on launch day. */
  readonly launchStage: number;
  /** Days projected to hold or back off before launch. */
  readonly setbacks: number;
  /** What the lane can carry on launch day: its stage's volume, at most what the provider accepts from the IP then. */
  readonly reachable: number;
  /** What the provider accepts from the IP on launch day (its modelled hourly limit x the window, with the margin). */
  readonly providerLimit: number;
  /**
   * The first day the ramp asks more than `FIT_MARGIN` of what the provider lets the IP send
   * (`allowed`: the modelled hourly limit then): it risks rate limits, and ignored deferrals cost
   * reputation; null if none.
   */
  readonly firstTight: { readonly date: string; readonly perHour: number; readonly allowed: number } | null;
}

/**
 * Chance that a day of `volume` first attempts holds on its deferral rate, when
 * greylisting and noise defer `expected` attempts on average (Poisson): the rate
 * is deferrals / (volume + deferrals), each deferral being retried once.
 */
export function holdChance(volume: number, expected: number, maxDeferralRate: number): number {
  if (expected <= 0 || volume <= 0) return 0;
  const over = Math.floor((maxDeferralRate * volume) / (1 - maxDeferralRate)); // at most this many deferrals advance
  let term = Math.exp(-expected);
  let atMost = term;
  for (let k = 1; k <= over; k++) { term *= expected / k; atMost += term; }
  return Math.max(0, Math.min(1, 1 - atMost));
}

/** The rebuilt ramp for a lane that starts with `sendingDays` before launch (derived curves regrow). */
export function rampForDays(ramp: Ramp, sendingDays: number): Ramp {
  if (ramp.kind !== 'curve' || !ramp.reach || ramp.start >= ramp.reach.volume) return ramp;
  const growth = (ramp.reach.volume / ramp.start) ** (1 / Math.max(1, sendingDays - ramp.reach.slack));
  return { ...ramp, growth };
}

/** The same curve aimed at another launch volume. */
function rampWithVolume(ramp: Ramp, volume: number, sendingDays: number): Ramp {
  if (ramp.kind !== 'curve' || !ramp.reach) return ramp;
  const start = Math.min(ramp.start, volume);
  return rampForDays({ ...ramp, start, cap: volume, reach: { volume, slack: ramp.reach.slack } }, sendingDays);
}

/**
 * Projects one lane from `start` to launch under `model`, one day at a time.
 *
 * @example
 * projectLane(plan, '2026-12-01', ramp, PROFILES.gmail, provider.thresholds).reachable
 */
export function projectLane(plan: Plan, start: string, ramp: Ramp, model: ProviderModel, t: Provider['thresholds'], mailboxes: number, suspendMs = 0): LaneProjection {
  const hours = (plan.window.end - plan.window.start) / 60;
  let earned = startingEarned(model);
  let stage = 1;
  // Expected progress: a day that holds with probability p advances by 1 - p (as the forecast's pace).
  let progress = 0;
  let setbacks = 0;
  let seen = 0;
  let firstTight: LaneProjection['firstTight'] = null;
  for (let d = start; daysBetween(d, plan.launch) > 0; d = addDays(d, 1)) {
    if (isSkipDay(d, plan.skipDays)) continue;
    const volume = stageVolume(ramp, stage);
    let accepted = 0;
    let tight = false;
    for (let h = 0; h < hours; h++) {
      const share = (volume / hours) * Math.min(1, hours - h);
      const limit = hourlyLimitOf(reputationOf(earned + accepted, model), model);
      if (share > FIT_MARGIN * limit) {
        tight = true;
        firstTight ??= { date: d, perHour: Math.ceil(volume / hours), allowed: Math.floor(limit) };
      }
      accepted += Math.min(share, limit);
    }
    earned += accepted;
    const fresh = Math.max(0, Math.min(volume, mailboxes - seen));
    seen += fresh;
    if (tight) {
      setbacks++;
      stage = Math.max(1, Math.min(stage - 1, stageForVolume(ramp, Math.floor(volume * t.backOffFactor))));
      progress = 0;
    } else {
      // A stray deferral that a rule answers with a suspension (Yahoo's [TSS04]) late in the window costs the day's target.
      const late = model.randomDeferral * volume * Math.min(1, suspendMs / 3_600_000 / hours);
      const chance = 1 - (1 - holdChance(volume, model.greylist.share * fresh + model.randomDeferral * volume, t.maxDeferralRate)) * Math.exp(-late);
      // Under NOISE a day is counted as advancing: the slack is there for such holds.
      const p = chance < NOISE ? 0 : chance;
      setbacks += p;
      progress += 1 - p;
      const whole = Math.floor(progress + 1e-9);
      stage += whole;
      progress -= whole;
    }
  }
  setbacks = Math.round(setbacks);
  const providerLimit = Math.floor(FIT_MARGIN * hourlyLimitOf(reputationOf(earned, model), model) * hours);
  const launchVolume = stageVolume(ramp, stage);
  if (launchVolume > providerLimit) firstTight ??= { date: plan.launch, perHour: Math.ceil(launchVolume / hours), allowed: Math.floor(hourlyLimitOf(reputationOf(earned, model), model)) };
  return { launchStage: stage, setbacks, reachable: Math.min(launchVolume, providerLimit), providerLimit, firstTight };
}

export interface LaneFit {
  readonly ip: string;
  readonly provider: string;
  readonly ready: boolean;
  /** The unadapted plan's launch-day volume for the lane. */
  readonly launchTarget: number;
  readonly reachable: number;
  readonly launchStage: number;
  readonly setbacks: number;
  /** Hold days the lane can absorb and still be ready (0: a single hold makes it late); null when not ready. */
  readonly slackDays: number | null;
  /** The provider's mailboxes (seeds + opt-in) and how many its launch-day hourly volume needs. */
  readonly mailboxes: { readonly have: number; readonly needed: number };
  /** The latest start date from which this lane's ramp is ready (null: none within 180 days). */
  readonly earliestStart: string | null;
  /** The launch-day volume it can carry by the current launch date. */
  readonly carry: number;
  readonly advice: readonly string[];
}

export interface PlanFit {
  readonly plan: string;
  readonly launch: string;
  readonly start: string;
  readonly windowHours: number;
  readonly ready: boolean;
  /** The latest start date from which the plan as written could be ready (start on or before it); null if none. */
  readonly earliestStart: string | null;
  readonly lanes: readonly LaneFit[];
  /** Per provider: mailboxes available and needed at the launch-day hourly volume. */
  readonly mailboxes: Readonly<Record<string, { readonly have: number; readonly needed: number; readonly perHour: number }>>;
  readonly advice: readonly string[];
}

/**
 * The plan's feasibility: every lane projected under its provider's model.
 *
 * @example
 * const fit = fitPlan(plan, defaultModels(plan));
 * if (!fit.ready) console.log(fit.earliestStart, fit.advice);
 */
export function fitPlan(plan: Plan, models: ReadonlyMap<string, ProviderModel>): PlanFit {
  const hours = (plan.window.end - plan.window.start) / 60;
  const mailboxes = mailboxNeeds(plan, models, hours);
  const memo = new Map<string, { ok: boolean; p: LaneProjection }>();
  const rules = effectiveRules(plan);
  const lanes: LaneFit[] = [];
  for (const ip of plan.ips) {
    for (const provider of plan.providers) {
      const model = models.get(provider.name);
      if (!model) continue;
      lanes.push(fitLane(plan, ip, provider, model, mailboxes[provider.name]!, memo, suspensionMs(rules, provider.name, model)));
    }
  }
  const ready = lanes.every((l) => l.ready);
  // Every IP moves with the plan's start: the plan needs the largest shift any lane needs.
  const shifts = lanes.map((l) => (l.earliestStart === null ? null : daysBetween(plan.ips.find((i) => i.address === l.ip)!.start, l.earliestStart)));
  const earliestStart = shifts.includes(null) || shifts.length === 0 ? null : addDays(plan.start, Math.min(...(shifts as number[])));
  return { plan: plan.name, launch: plan.launch, start: plan.start, windowHours: hours, ready, earliestStart, lanes, mailboxes, advice: planAdvice(plan, lanes, mailboxes, earliestStart) };
}

/** How long the plan's rules suspend a lane when the provider's model answers its stray deferral (0: no rule does). */
function suspensionMs(rules: readonly Rule[], provider: string, model: ProviderModel): number {
  const reply = parseReply(model.replies.random.replaceAll('{ip}', '203.0.113.1').replaceAll('{rcpt}', 'seed@example.com').replaceAll('{domain}', 'example.com').replaceAll('{id}', 'fit'));
  const text = reply.text;
  return Math.max(0, ...rules.filter((r) => (r.provider === null || r.provider === provider) && r.trigger === null && (r.action === 'suspend' || r.action === 'pause') && r.match.test(text)).map((r) => r.durationMs ?? 0));
}

function fitLane(plan: Plan, ip: PlanIp, provider: Provider, model: ProviderModel, boxes: { have: number; needed: number }, memo: Map<string, { ok: boolean; p: LaneProjection }>, suspendMs: number): LaneFit {
  const ramp = laneRamp(ip, provider);
  const days = countSendingDays(ip.start, plan.launch, plan.skipDays);
  const target = stageVolume(ramp, launchStage(plan, ip.start));
  const have = provider.seeds.length + provider.recipients.length;
  // Keyed by everything the projection reads: lanes of identical IPs are computed once.
  const run = (start: string, r: Ramp): { ok: boolean; p: LaneProjection } => {
    const key = `${provider.name}|${start}|${JSON.stringify(r)}`;
    let v = memo.get(key);
    if (!v) {
      const p = projectLane(plan, start, r, model, provider.thresholds, have, suspendMs);
      v = { ok: p.firstTight === null && p.reachable >= stageVolume(r, launchStage(plan, start)), p };
      memo.set(key, v);
    }
    return v;
  };
  const now = run(ip.start, ramp);
  const mailboxesOk = boxes.have >= boxes.needed;
  const ready = now.ok && mailboxesOk;
  const firstReady = firstStageAt(ramp, target);
  const slackDays = now.ok ? Math.max(0, now.p.launchStage - firstReady) : null;

  // The latest start from which the ramp is ready: earlier while it is not, later while it still is.
  let earliestStart: string | null = null;
  const at = (shift: number) => { const s = addDays(ip.start, shift); return run(s, rampForDays(ramp, countSendingDays(s, plan.launch, plan.skipDays))).ok; };
  if (now.ok) {
    let shift = 0;
    while (daysBetween(addDays(ip.start, shift + 1), plan.launch) > 1 && at(shift + 1)) shift++;
    earliestStart = addDays(ip.start, shift);
  } else {
    for (let shift = -1; shift >= -MAX_SHIFT_DAYS; shift--) if (at(shift)) { earliestStart = addDays(ip.start, shift); break; }
  }

  // The most it can carry by the current launch: a derived curve re-aimed; a written curve grown more gently.
  let carry = now.ok ? target : 0;
  let gentler: number | null = null;
  if (!now.ok && ramp.kind === 'curve' && ramp.reach) {
    let lo = 0; let hi = target;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (run(ip.start, rampWithVolume(ramp, mid, days)).ok) lo = mid; else hi = mid;
    }
    carry = lo;
  } else if (!now.ok && ramp.kind === 'curve' && ramp.growth > 1) {
    // The steepest growth the provider takes without a rate limit; what that reaches by launch.
    const clean = (g: number) => run(ip.start, { ...ramp, growth: g }).p.firstTight === null;
    let lo = 1; let hi = ramp.growth;
    for (let i = 0; i < 20; i++) { const mid = (lo + hi) / 2; if (clean(mid)) lo = mid; else hi = mid; }
    gentler = Math.floor(lo * 100) / 100;
    if (gentler > 1) carry = run(ip.start, { ...ramp, growth: gentler }).p.reachable;
  } else if (!now.ok && now.p.firstTight === null) {
    carry = now.p.reachable;
  }

  const advice: string[] = [];
  const n = (x: number) => x.toLocaleString('en-US');
  if (!now.ok) {
    const t = now.p.firstTight;
    if (t) advice.push(`on ${t.date} it needs ${n(t.perHour)}/h, more than ${Math.round(FIT_MARGIN * 100)}% of the ${n(t.allowed)}/h ${provider.name} is modelled to take from this IP then`);
    else advice.push(`its ramp reaches ${n(now.p.reachable)} of ${n(target)} by launch`);
    if (earliestStart) { const d = -daysBetween(ip.start, earliestStart); advice.push(`start by ${earliestStart} (${d} day${d === 1 ? '' : 's'} earlier)`); }
    else if (gentler === null) advice.push(`no start within ${MAX_SHIFT_DAYS} days carries ${n(target)} a day from one IP`);
    if (gentler !== null && gentler > 1) advice.push(`or grow at most ${gentler}x a day: it then reaches ${n(carry)} by launch`);
    else if (carry > 0) advice.push(`or plan ${n(carry)} a day for launch (lower launch_volume or this share)`);
  } else if (slackDays === 0) {
    advice.push('no room for a single hold: its ramp reaches the target on launch day; start earlier or reach it sooner (launch_slack)');
  }
  if (!mailboxesOk) advice.push(`${provider.name} needs at least ${boxes.needed} mailboxes (seeds + opt-in) for its launch-day volume; it has ${boxes.have}`);
  return {
    ip: ip.address, provider: provider.name, ready, launchTarget: target, reachable: now.p.reachable, launchStage: now.p.launchStage,
    setbacks: now.p.setbacks, slackDays, mailboxes: boxes, earliestStart, carry, advice,
  };
}

/** The first stage whose volume reaches `target`. */
function firstStageAt(ramp: Ramp, target: number): number {
  let stage = 1;
  while (stageVolume(ramp, stage) < target && stage < 10_000) stage++;
  return stage;
}

/** Mailboxes each provider needs: its busiest day's hourly volume over every IP, at the per-mailbox limit with the margin. */
function mailboxNeeds(plan: Plan, models: ReadonlyMap<string, ProviderModel>, hours: number): Record<string, { have: number; needed: number; perHour: number }> {
  const days = previewPlan(plan);
  const out: Record<string, { have: number; needed: number; perHour: number }> = {};
  for (const p of plan.providers) {
    const model = models.get(p.name);
    const peak = Math.max(0, ...days.map((d) => d.perProvider[p.name] ?? 0));
    const perHour = peak / hours;
    const needed = model ? Math.ceil(perHour / (FIT_MARGIN * model.mailboxPerHour)) : 0;
    out[p.name] = { have: p.seeds.length + p.recipients.length, needed, perHour: Math.ceil(perHour) };
  }
  return out;
}

function planAdvice(plan: Plan, lanes: readonly LaneFit[], boxes: PlanFit['mailboxes'], earliestStart: string | null): string[] {
  const out: string[] = [];
  if (lanes.every((l) => l.ready)) {
    const tight = lanes.filter((l) => l.slackDays === 0);
    if (tight.length) out.push(`${tight.length} lane${tight.length === 1 ? ' has' : 's have'} no room for a single hold (slack 0)`);
    return out;
  }
  if (earliestStart && daysBetween(earliestStart, plan.start) > 0) out.push(`start: ${earliestStart} (or earlier) instead of ${plan.start}`);
  else if (!earliestStart) out.push('no start date fixes every lane: lower the launch-day volume of the lanes that say so, or add IPs');
  for (const [name, b] of Object.entries(boxes)) if (b.have < b.needed) out.push(`providers.${name}: at least ${b.needed} seeds + opt-in recipients (has ${b.have})`);
  // With the same shares, a launch volume is possible when every lane's part of it is within what the lane carries.
  // IPs that share a launch volume are advised together; the largest group is the top-level launch_volume.
  const groups = new Map<number, { ips: string[]; max: number }>();
  for (const ip of plan.ips) {
    if (ip.launchVolume === null || ip.ramp !== null) continue;
    const g = groups.get(ip.launchVolume) ?? { ips: [], max: Infinity };
    g.ips.push(ip.address);
    for (const l of lanes) {
      if (l.ip !== ip.address || l.ready || !ip.laneRamps[l.provider] || l.launchTarget === 0) continue;
      g.max = Math.min(g.max, Math.floor((l.carry * ip.launchVolume) / l.launchTarget));
    }
    groups.set(ip.launchVolume, g);
  }
  const sorted = [...groups.values()].sort((a, b) => b.ips.length - a.ips.length);
  sorted.forEach((g, i) => {
    if (!Number.isFinite(g.max)) return;
    out.push(i === 0 && sorted.length === 1
      ? `or keep the dates and the shares and set launch_volume to at most ${g.max.toLocaleString('en-US')} per IP`
      : `or keep the dates and the shares and give ${g.ips.length === 1 ? g.ips[0] : `${g.ips[0]} and ${g.ips.length - 1} more`} a launch_volume of at most ${g.max.toLocaleString('en-US')}`);
  });
  return out;
}
