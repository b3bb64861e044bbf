/**
 * `simulatePlan`: the daemon itself (scheduler, policy, rules, store) run in
 * stepped time against the modelled receivers. Only the mailer, the resolver
 * and the clock are swapped; everything the daemon decides is recorded in the
 * given store exactly as in a real run.
 */
import type { StopReason } from '../daemon/daemon.js';
import { createRuntime } from '../daemon/runtime.js';
import { dayContext } from '../daemon/day.js';
import type { Plan } from '../plan/types.js';
import { launchReadiness, type Forecast } from '../policy/forecast.js';
import { addDays, daysBetween, zonedInstant } from '../schedule/calendar.js';
import { laneRamp, launchStage, stageVolume } from '../schedule/ramp.js';
import { eventView, type EventView } from '../store/event-view.js';
import type { Store } from '../store/store.js';
import { manualClock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { createModelMailer, createModelResolver, type AnswerCounts } from './mailer.js';
import type { ProviderModel } from './profiles.js';
import { ModelledReceivers, type IpStanding } from './receivers.js';

export interface SimulateOptions {
  readonly plan: Plan;
  /** Model per plan provider name (see `defaultModels`, `loadModel`). */
  readonly models: ReadonlyMap<string, ProviderModel>;
  readonly seed: number;
  /** Simulate only the first N plan days (default: up to launch). */
  readonly days?: number;
  /** An opened, migrated store; never the plan's real database. */
  readonly store: Store;
  readonly log: Logger;
  /** Plan milliseconds per step inside the send window (default: 1-5 minutes, from the plan's peak rate). */
  readonly stepMs?: number;
  /** Called once per plan day reached (progress). */
  readonly onDay?: (date: string) => void;
  /** Called on every step with the share of the simulated time done (0..1): progress bars. */
  readonly onTime?: (fraction: number) => void;
}

/** One lane's day, as the daemon recorded it. */
export interface LaneDayOutcome {
  readonly day: string;
  readonly dayNumber: number;
  readonly ip: string;
  readonly provider: string;
  readonly stage: number;
  readonly target: number;
  readonly sent: number;
  readonly accepted: number;
  readonly deferred: number;
  readonly mailboxDeferred: number;
  /** Greylisting answers: 4xx too, but kept out of `deferred` and the day-end rates. */
  readonly greylisted: number;
  readonly bounced: number;
  readonly failed: number;
  readonly expired: number;
  readonly retries: number;
  readonly decision: string | null;
}

export type SimulatedEvent = EventView;

/** Everything a simulation produced; the same seed gives the same result. */
export interface SimulationResult {
  readonly plan: string;
  readonly seed: number;
  /** First and last plan day simulated. */
  readonly from: string;
  readonly until: string;
  readonly launch: string;
  readonly stepMs: number;
  /** 'plan complete' when the daemon reached launch; 'days' when --days ended it first. */
  readonly ended: 'plan complete' | 'days';
  readonly profiles: Readonly<Record<string, string>>;
  readonly days: readonly LaneDayOutcome[];
  readonly events: readonly SimulatedEvent[];
  readonly lanes: ReadonlyArray<{ ip: string; provider: string; stage: number; state: string; reason: string | null }>;
  readonly standings: readonly IpStanding[];
  readonly answers: Readonly<AnswerCounts>;
  readonly totals: { readonly messages: number; readonly attempts: number; readonly accepted: number; readonly deferred: number; readonly mailboxDeferred: number; readonly greylisted: number; readonly bounced: number; readonly failed: number; readonly expired: number };
  readonly forecast: Forecast;
}

const MIN = 60_000;

/**
 * Plan time per step inside the window: as long as possible (5 minutes at
 * most) while the busiest lane's even share per step stays under the
 * daemon's per-lane in-flight cap, which bounds what one tick can send.
 */
export function stepFor(plan: Plan): number {
  const windowMin = Math.max(1, plan.window.end - plan.window.start);
  let peak = 1;
  for (const ip of plan.ips) {
    const stage = launchStage(plan, ip.start);
    for (const p of plan.providers) peak = Math.max(peak, stageVolume(laneRamp(ip, p), stage));
  }
  const laneCap = plan.delivery.maxConnectionsPerMx * 4;
  return Math.min(5, Math.max(1, Math.floor(laneCap / (peak / windowMin)))) * MIN;
}

/**
 * Runs the plan against the modelled receivers and returns what happened.
 *
 * @example
 * const store = await openStore(join(tmp, 'sim.db'));
 * const result = await simulatePlan({ plan, models: defaultModels(plan), seed: 1, store, log });
 * result.forecast.lanes.filter((l) => l.verdict !== 'ready');
 */
export async function simulatePlan(o: SimulateOptions): Promise<SimulationResult> {
  const { plan, store } = o;
  const stepMs = o.stepMs ?? stepFor(plan);
  const start = zonedInstant(plan.start, 0, plan.timezone);
  const totalDays = daysBetween(plan.start, plan.launch);
  const days = o.days === undefined ? totalDays : Math.min(o.days, totalDays);
  const end = o.days === undefined || days >= totalDays
    // After launch the daemon stops by itself once retries are done; this is only a backstop.
    ? zonedInstant(plan.launch, 0, plan.timezone) + plan.delivery.retry.expireMs + 86_400_000
    : zonedInstant(addDays(plan.start, days), 0, plan.timezone);

  const clock = manualClock(start);
  const receivers = new ModelledReceivers(o.models, o.seed);
  const mailer = createModelMailer({ plan, receivers, clock });
  // tickMs = stepMs: the daemon sizes its catch-up bucket and day-close grace by what one tick covers.
  const runtime = createRuntime({ plan, store, mailer, resolver: createModelResolver(plan), clock, log: o.log, tickMs: stepMs, drainMs: 1000, writeGroupMs: 0 });
  let stopped: StopReason | null = null;
  const { daemon } = runtime;
  void daemon.stopped.then((r) => { stopped = r; });
  // Stepped by the loop below, not by a timer.
  await runtime.start({ ticker: false });

  let lastDay = '';
  while (stopped === null && clock.now() < end) {
    const ctx = dayContext(plan, clock.now());
    if (ctx.date !== lastDay) { lastDay = ctx.date; o.onDay?.(ctx.date); }
    o.onTime?.((clock.now() - start) / (end - start));
    // Outside the window only retries and day closes happen: bigger steps.
    clock.advance(ctx.inWindow || clock.now() + stepMs >= ctx.windowStart && clock.now() < ctx.windowStart ? stepMs : Math.max(stepMs, 10 * MIN));
    await daemon.tick();
    await daemon.settle();
    await Promise.resolve();
  }
  const ended = stopped === 'plan complete' ? 'plan complete' : 'days';
  if (stopped === null) await runtime.stop('SIGTERM');
  await runtime.done;
  return collect(o, { stepMs, ended, until: addDays(plan.start, days - 1), now: clock.now(), receivers, answers: mailer.counts });
}

async function collect(
  o: SimulateOptions,
  r: { stepMs: number; ended: SimulationResult['ended']; until: string; now: number; receivers: ModelledReceivers; answers: AnswerCounts },
): Promise<SimulationResult> {
  const { plan, store } = o;
  const rows = await store.laneDays(plan.name);
  const days: LaneDayOutcome[] = rows.map((d) => ({
    day: d.day, dayNumber: daysBetween(plan.start, d.day) + 1, ip: d.ip, provider: d.provider, stage: d.stage, target: d.target, sent: d.sent,
    accepted: d.accepted, deferred: d.deferred, mailboxDeferred: d.mailbox_deferred, greylisted: d.greylisted,
    bounced: d.bounced, failed: d.failed, expired: d.expired, retries: d.retries, decision: d.decision,
  }));
  const events = (await store.listEvents(plan.name)).map(eventView);
  const laneRows = await store.loadLanes(plan.name);
  const forecast = launchReadiness(
    plan,
    laneRows.map((l) => ({ ip: l.ip, provider: l.provider, stage: l.stage, state: l.state })),
    rows.map((d) => ({ ip: d.ip, provider: d.provider, day: d.day, decision: d.decision })),
    r.now,
  );
  const sum = (f: (d: LaneDayOutcome) => number) => days.reduce((a, d) => a + f(d), 0);
  return {
    plan: plan.name, seed: o.seed, from: plan.start, until: r.until, launch: plan.launch, stepMs: r.stepMs, ended: r.ended,
    profiles: Object.fromEntries([...o.models].map(([name, m]) => [name, m.profile])),
    days, events,
    lanes: laneRows.map((l) => ({ ip: l.ip, provider: l.provider, stage: l.stage, state: l.state, reason: l.state_reason })),
    standings: r.receivers.standings().sort((a, b) => a.provider.localeCompare(b.provider) || a.ip.localeCompare(b.ip, 'en', { numeric: true })),
    answers: { ...r.answers },
    totals: {
      messages: sum((d) => d.sent), attempts: sum((d) => d.sent + d.retries), accepted: sum((d) => d.accepted),
      deferred: sum((d) => d.deferred + d.mailboxDeferred), mailboxDeferred: sum((d) => d.mailboxDeferred), greylisted: sum((d) => d.greylisted),
      bounced: sum((d) => d.bounced), failed: sum((d) => d.failed), expired: sum((d) => d.expired),
    },
    forecast,
  };
}
