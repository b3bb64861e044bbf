/**
 * A lane's day from opening to decision. A day opens at the lane's next
 * stage when its window opens (or, for a run that started after the window
 * opened, with the pro rata rest of the day's volume spread over what is
 * left); it is decided once its retries have settled, or at the plan's retry
 * grace after the window at the latest, also when it ended while no daemon
 * ran (recovery after a restart). The decision, its event and the hold it
 * causes commit together; then the launch forecast is checked. The sums are
 * pure functions; `LaneDays` does the IO.
 */
import type { Plan, PlanIp, Provider } from '../plan/types.js';
import { decideDay, type DayFigures } from '../policy/day-end.js';
import type { ReplySample } from '../policy/evidence.js';
import { launchReadiness } from '../policy/forecast.js';
import { proRataTarget } from '../schedule/due.js';
import { laneRamp, nextStage, stageVolume } from '../schedule/ramp.js';
import type * as q from '../store/queries.js';
import type { Store } from '../store/store.js';
import { addDays, localTime, zonedInstant } from '../schedule/calendar.js';
import type { DayContext } from './day.js';
import { laneEvent, type Lane, type LaneBook, type OpenDay } from './lanes.js';

/**
 * The day a lane opens at `now`: the stage after its current one and that stage's volume. A run
 * that started after the window opened sends the rest of the day's share, spread over what is
 * left; a run that was up at the opening sends the whole day (a late tick only catches up).
 */
export function dayToOpen(
  lane: { readonly ip: PlanIp; readonly provider: Provider; readonly stage: number },
  ctx: Pick<DayContext, 'windowStart' | 'windowEnd'>,
  startedAt: number,
  now: number,
): { stage: number; planned: number; target: number; from: number; until: number } {
  const stage = nextStage(lane.stage);
  const planned = stageVolume(laneRamp(lane.ip, lane.provider), stage);
  const lateStart = startedAt > ctx.windowStart;
  const target = lateStart ? proRataTarget(planned, ctx.windowStart, ctx.windowEnd, now) : planned;
  const from = lateStart ? Math.max(now, ctx.windowStart) : ctx.windowStart;
  return { stage, planned, target, from, until: ctx.windowEnd };
}

/** The open day a lane keeps sending on: undecided, and not past its window by more than `graceMs` (a tick's worth). */
export function keepsDay(day: OpenDay | null, now: number, graceMs: number): day is OpenDay {
  return day !== null && !day.decided && day.until + graceMs > now;
}

/** True when the day `date` is open for mail at `now`: undecided and inside its spread window. */
export function liveDay(day: OpenDay | null, date: string, now: number): day is OpenDay {
  return day !== null && !day.decided && day.date === date && now >= day.from && now < day.until;
}

/** What the day-end policy decides a day by: its stored counts and its replies. */
export function dayFigures(row: q.LaneDayRow, replies: readonly ReplySample[]): DayFigures {
  return {
    stage: row.stage, target: row.target, accepted: row.accepted, deferred: row.deferred, failed: row.failed,
    bounced: row.bounced, attempts: row.sent + row.retries, inbox: row.inbox, spam: row.spam,
    greylisted: row.greylisted, greylistPassed: row.greylist_passed, hygieneBounced: row.hygiene_bounced, replies,
  };
}

/** Plan milliseconds after which the day-end pass looks again even when no window ended (see decideEndedIfDue). */
const RECHECK_MS = 60_000;

/** Opens lane days and decides ended ones. */
export class LaneDays {
  readonly #plan: Plan;
  readonly #store: Store;
  readonly #lanes: LaneBook;
  readonly #graceMs: number;
  /** Plan time from which {@link decideEndedIfDue} looks again (-Infinity: at the next call). */
  #checkAt = -Infinity;
  /** Ended days that waited for their retries at the last look (looked at again every tick). */
  #waiting = 0;

  /** `graceMs`: plan milliseconds one tick covers (a day's last due messages may fall after the last tick inside the window). */
  constructor(plan: Plan, store: Store, lanes: LaneBook, graceMs: number) {
    this.#plan = plan;
    this.#store = store;
    this.#lanes = lanes;
    this.#graceMs = graceMs;
  }

  /**
   * The day a lane sends on at `now`: the open one, or on a sending day inside the window the
   * day opened now (null: none, or the previous day's decision held the lane). `startedAt`: when
   * this run started.
   */
  async current(lane: Lane, ctx: DayContext, now: number, sendingDay: boolean, startedAt: number): Promise<OpenDay | null> {
    if (keepsDay(lane.day, now, this.#graceMs)) return lane.day;
    if (sendingDay && ctx.inWindow) return this.#open(lane, ctx, now, startedAt);
    return null;
  }

  /** Opens (or reloads) the lane's day: decides the previous day first, then the stage and target. */
  async #open(lane: Lane, ctx: DayContext, now: number, startedAt: number): Promise<OpenDay | null> {
    if (lane.day?.date === ctx.date) return lane.day;
    const store = this.#store;
    const existing = await store.getLaneDay(lane.row.id, ctx.date);
    if (existing) {
      this.#expectEnd(existing.spread_until);
      lane.day = { date: ctx.date, stage: existing.stage, target: existing.target, from: existing.spread_from, until: existing.spread_until, sent: existing.sent, decided: existing.decision !== null };
      return lane.day;
    }
    const prev = await store.previousLaneDay(lane.row.id, ctx.date);
    if (prev && prev.decision === null) await this.#decide(lane, prev, now);
    if (lane.row.state !== 'active') return null;
    const { stage, planned, target, from, until } = dayToOpen({ ip: lane.ip, provider: lane.provider, stage: lane.row.stage }, ctx, startedAt, now);
    this.#expectEnd(until);
    await store.openLaneDay({ lane_id: lane.row.id, day: ctx.date, stage, target, spread_from: from, spread_until: until }, now);
    lane.row = { ...lane.row, stage };
    lane.day = { date: ctx.date, stage, target, from, until, sent: 0, decided: false };
    lane.pace = null;
    lane.log.info({ day: ctx.date, stage, target, planned, event: 'day_open' }, `day opened at stage ${stage}: ${target} messages${target !== planned ? ` (pro rata of ${planned})` : ''}`);
    return lane.day;
  }

  /**
   * Decides every undecided lane-day whose window has ended, whenever it
   * ended (also while the daemon was down, also after the last ramp day):
   * once the day's retries have settled, or at the plan's retry grace after
   * the window at the latest. Returns how many ended days still wait.
   */
  async decideEnded(now: number): Promise<number> {
    const store = this.#store;
    let waiting = 0;
    // Looks again at the next window's end (or a day's opened meanwhile, or a minute on) unless some wait.
    this.#checkAt = Math.min(this.#nextWindowEnd(now), now + RECHECK_MS);
    for (const row of await store.undecidedDays(this.#plan.name, now - this.#graceMs)) {
      const lane = this.#lanes.byId(row.lane_id);
      if (!lane) continue; // a lane the plan no longer has: nothing to decide it by
      const settled = now >= row.spread_until + this.#plan.policy.retryGraceMs || (await store.unsettledMessages(row.lane_id, row.day)) === 0;
      if (!settled) { waiting++; continue; }
      await this.#decide(lane, row, now);
      if (lane.day?.date === row.day) lane.day.decided = true;
    }
    this.#waiting = waiting;
    return waiting;
  }

  /**
   * {@link decideEnded} on the ticks where it can find something: while ended days wait for
   * their retries, and once a day may have ended since the last look. Days end at the plan's
   * window end (`until` is the window end of their date), so the next look is the earliest of:
   * the next window end plus the grace, the end of a day opened or loaded since, a minute of
   * plan time after the last look (a day written with another end: the window edited between
   * runs, a fleet member on another plan version), or at once after {@link recheck}. What
   * another process decided meanwhile only leaves less to do. Returns how many ended days wait.
   */
  async decideEndedIfDue(now: number): Promise<number> {
    if (this.#waiting === 0 && now < this.#checkAt) return 0;
    return this.decideEnded(now);
  }

  /** The next {@link decideEndedIfDue} looks (an IP taken over brings its days). */
  recheck(): void {
    this.#checkAt = -Infinity;
  }

  /** A day ending at `until` is looked at once it ended, whatever else is due. */
  #expectEnd(until: number): void {
    this.#checkAt = Math.min(this.#checkAt, until + this.#graceMs);
  }

  /** The first window end plus the grace after `now` (pure calendar; skip days included). */
  #nextWindowEnd(now: number): number {
    const { timezone, window } = this.#plan;
    let date = localTime(now - this.#graceMs, timezone).date;
    let at = zonedInstant(date, window.end, timezone) + this.#graceMs;
    while (at <= now) {
      date = addDays(date, 1);
      at = zonedInstant(date, window.end, timezone) + this.#graceMs;
    }
    return at;
  }

  async #decide(lane: Lane, row: q.LaneDayRow, now: number): Promise<void> {
    const store = this.#store;
    const plan = this.#plan;
    const r = decideDay(dayFigures(row, await store.dayReplies(lane.row.id, row.day)), laneRamp(lane.ip, lane.provider), lane.provider.thresholds, lane.row.holds_in_row);
    // The decision, its event and the hold it causes commit together: a kill -9 leaves all or none.
    const decided = await store.transaction(async (tx) => {
      if (!await tx.decideLaneDay(lane.row.id, row.day, r.decision, r.nextStage, r.holdsInRow, now)) return false;
      await tx.addEvent(laneEvent(plan.name, lane, now, {
        kind: `day_${r.decision}`, from: `stage ${row.stage}`, to: `stage ${r.nextStage}`, actor: 'policy',
        cause: {
          day: row.day, target: row.target, sent: row.sent, accepted: row.accepted, deferred: row.deferred, bounced: row.bounced, failed: row.failed,
          greylisted: row.greylisted, greylistPassed: row.greylist_passed, unknownUsers: row.hygiene_bounced, mailboxDeferred: row.mailbox_deferred,
          ...r.rates, reason: r.reason, flagged: r.flagged, evidence: r.evidence,
        },
      }));
      if (r.decision === 'pause') {
        await tx.addHold(plan.name, { ip: lane.ip.address, provider: lane.provider.name }, {
          kind: 'policy', actor: 'policy', reason: r.reason, until: null, eventKind: 'policy_pause', cause: { day: row.day }, evidence: r.evidence,
        }, now);
      }
      return true;
    });
    if (!decided) return;
    const fresh = (await store.loadLanes(plan.name)).find((l) => l.id === lane.row.id);
    lane.row = fresh ?? { ...lane.row, stage: r.nextStage, holds_in_row: r.holdsInRow, decided_day: row.day };
    lane.log.info({ day: row.day, decision: r.decision, stage: row.stage, nextStage: r.nextStage, reason: r.reason, flagged: r.flagged, evidence: r.evidence, event: 'day_end' }, `day ${row.day}: ${r.decision} (${r.reason})`);
    if (r.decision === 'pause') lane.log.warn({ reason: r.reason, hold: 'policy', evidence: r.evidence }, `lane held by the policy: ${r.reason}`);
    await this.#checkForecast(lane, row.day, now);
  }

  /**
   * After each day-end decision: warn (event + alert) when the lane falls behind for launch. The
   * verdict is kept with the day, with the event, in one transaction and once: in a fleet only the
   * daemon that decided the day forecasts it, and "behind" is announced when the previous day's
   * verdict (whoever made it) was not.
   */
  async #checkForecast(lane: Lane, day: string, now: number): Promise<void> {
    const store = this.#store;
    const plan = this.#plan;
    if (lane.row.state === 'paused') return;
    const history = (await store.laneDecisions(lane.row.id)).map((h) => ({ ip: lane.ip.address, provider: lane.provider.name, ...h }));
    const [f] = launchReadiness(plan, [{ ip: lane.ip.address, provider: lane.provider.name, stage: lane.row.stage, state: lane.row.state }], history, now).lanes;
    if (!f) return;
    const announced = await store.transaction(async (tx) => {
      const prev = await tx.recordForecast(lane.row.id, day, f.verdict);
      if (prev === undefined || f.verdict !== 'behind' || prev === 'behind') return false;
      await tx.addEvent(laneEvent(plan.name, lane, now, {
        kind: 'behind_for_launch', actor: 'policy',
        cause: { reason: `at ${Math.round(f.pace * 100)}% pace it carries ${f.projectedVolume} of ${f.launchTarget} on launch day`, launchTarget: f.launchTarget, projectedVolume: f.projectedVolume, readyOn: f.readyOn, pace: f.pace },
      }));
      return true;
    });
    if (announced) lane.log.warn({ launchTarget: f.launchTarget, projectedVolume: f.projectedVolume, readyOn: f.readyOn }, 'behind for launch');
  }
}
