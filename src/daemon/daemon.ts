/**
 * The composition root of `warmup start`: each tick reads the clock once,
 * opens lane days, sends what is due from each lane's IP, retries what is
 * due, closes days with the day-end decision, and records everything.
 *
 * Sends run concurrently and are never awaited by the tick, so a dead or slow
 * MX holds up only its own lane (bounded by the lane's in-flight cap).
 */
import { randomHex } from '../util/token.js';
import { hostname } from 'node:os';
import type { Plan, PlanIp, Provider } from '../plan/types.js';
import { decideDay } from '../policy/day-end.js';
import { launchReadiness } from '../policy/forecast.js';
import { effectiveRules, RuleEngine, type RuleAction } from '../policy/rules.js';
import { addDays } from '../schedule/calendar.js';
import { dueCount, nextRetryAt, pace, proRataTarget, type Pace } from '../schedule/due.js';
import { laneRamp, nextStage, stageVolume } from '../schedule/ramp.js';
import type { Mailer } from '../send/mailer.js';
import type * as q from '../store/queries.js';
import type { Store } from '../store/store.js';
import { WarmupError } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { Resolver } from '../dns/resolver.js';
import { dayContext, isSendingDay, type DayContext } from './day.js';
import { laneTakesMail } from './lane-gate.js';
import { deliverOnce, RouteCache, type DeliveryOutcome } from './deliver.js';
import { recipientFor } from './recipients.js';
import { GroupWriter } from './group-writer.js';
import { startTicker, type Ticker } from './ticker.js';

export interface DaemonOptions {
  readonly plan: Plan;
  readonly store: Store;
  readonly mailer: Mailer;
  readonly resolver: Resolver;
  readonly clock: Clock;
  readonly log: Logger;
  /** Real milliseconds between ticks (default 1000). */
  readonly tickMs?: number;
  /** Messages in flight at once over all lanes (default 256). */
  readonly maxInFlight?: number;
  /** Real milliseconds SIGTERM waits for sends in flight (default 30 s). */
  readonly drainMs?: number;
  /** Clock speed, recorded with the run. */
  readonly speed?: number;
  /**
   * A fleet (src/daemon/fleet.ts): the IPs this daemon holds a lease on, the only ones it sends
   * from and recovers messages of. Null: every IP of the plan (simulation, one daemon in tests).
   */
  readonly fleet?: { readonly held: ReadonlySet<string>; readonly host: string } | null;
  /**
   * Real milliseconds results wait to be committed together (default 2): one transaction per
   * group instead of one per answer. 0 commits what arrived in the same turn of the event loop
   * (the simulation, whose answers all arrive in one turn per step).
   */
  readonly writeGroupMs?: number;
}

interface OpenDay {
  readonly date: string;
  readonly stage: number;
  readonly target: number;
  readonly from: number;
  readonly until: number;
  sent: number;
  decided: boolean;
}

/** A send due this tick, not yet in the database. */
interface DueSend {
  readonly lane: Lane;
  readonly day: OpenDay;
  readonly recipient: string;
  readonly token: string;
  readonly messageId: string;
}

interface Lane {
  row: q.LaneRow;
  readonly ip: PlanIp;
  readonly provider: Provider;
  readonly log: Logger;
  day: OpenDay | null;
  pace: Pace | null;
  inFlight: number;
  hour: { key: string; sent: number; routed: number; accepted: number; deferred: number; bounced: number; failed: number };
}

/** What routing real mail needs to know about one lane at an instant (see src/postfix). */
export interface RoutableLane {
  readonly laneId: number;
  readonly ip: string;
  /** Nothing holds the lane and its day is open, inside the send window. */
  readonly open: boolean;
  /** The day's target (0 when no day is open). */
  readonly target: number;
  /** Messages carried today: seed sends and routed mail counted from the log. */
  readonly carried: number;
  /** Length of the day's spread window (its hourly share is target over this). */
  readonly windowMs: number;
  /** A rule's rate cut in force (1: none). */
  readonly rateFactor: number;
  /** Messages (seed and routed) carried in the current clock hour. */
  readonly hourCarried: number;
}

const hourKey = (now: number): string => new Date(now).toISOString().slice(0, 13);

/** Tries of a failing attempt write after the first (100 ms doubling: about 3 s in all). */
const WRITE_RETRIES = 5;

export type StopReason = 'SIGTERM' | 'SIGINT' | 'plan complete' | 'error';

export class Daemon {
  readonly #o: Required<Omit<DaemonOptions, 'speed' | 'fleet'>> & { speed: number; fleet: DaemonOptions['fleet'] };
  /** Messages dispatched that have not obtained a connection slot yet. */
  readonly #notStarted = new Set<number>();
  /** SIGTERM's drain period is over: no send may open a connection any more. */
  #drainExpired = false;
  /** Attempt writes kept failing: nothing more is sent (fail closed). */
  #writeFailed = false;
  /** SMTP results that arrive together are committed together. */
  readonly #attempts: GroupWriter<{ attempt: q.AttemptRecord; result: q.MessageResult }>;
  readonly #lanes: Lane[] = [];
  readonly #byId = new Map<number, Lane>();
  readonly #byProvider = new Map<string, Lane[]>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #routes: RouteCache;
  readonly #rules: RuleEngine;
  /** Seed mailboxes resting after a per-mailbox deferral, until when (plan time). */
  readonly #resting = new Map<string, number>();
  #ticker: Ticker | null = null;
  #runId = 0;
  /** Clock reading when this run started: pro rata applies only to a window that opened before it. */
  #startedAt = 0;
  #stopping: Promise<void> | null = null;
  #done!: (reason: StopReason) => void;
  /** Resolves with the reason once the daemon has stopped. */
  readonly stopped: Promise<StopReason>;
  lastTickAt = 0;
  /** Newest event id seen: lanes are re-read only when it moves. */
  #eventsSeen = -1;
  /** Real time lanes were last re-read (routing lookups re-read them when older than 50 ms). */
  #lanesReadAt = 0;
  /** Earliest next_attempt_at of a deferred message, or null when none waits (skips idle queries). */
  #nextRetry: number | null = 0;

  constructor(options: DaemonOptions) {
    this.#o = { tickMs: 1000, maxInFlight: 256, drainMs: 30_000, speed: 1, fleet: null, writeGroupMs: 2, ...options };
    this.#attempts = new GroupWriter((items) => this.#o.store.recordAttempts(items), 256, this.#o.writeGroupMs);
    this.#routes = new RouteCache(options.plan, options.resolver);
    const byName = new Map(options.plan.providers.map((p) => [p.name, p]));
    this.#rules = new RuleEngine(effectiveRules(options.plan), options.plan.policy.breaker, (name) => byName.get(name)?.thresholds.rejectionBreaker ?? null);
    this.stopped = new Promise((resolve) => { this.#done = resolve; });
  }

  get plan(): Plan { return this.#o.plan; }
  get inFlight(): number { return this.#inFlight.size; }
  /** False when the last stop left sends under way at the drain deadline (their sockets may still be open). */
  get drained(): boolean { return !this.#drainExpired; }

  /** Recovers a crashed run's in-flight messages, creates lanes, and starts ticking. */
  /**
   * `firstTick` runs one tick before returning (lane days open), so that
   * routing real mail, started next, never answers before the lanes are ready.
   */
  async start(options: { ticker?: boolean; firstTick?: boolean } = {}): Promise<void> {
    const { plan, store, clock, log } = this.#o;
    const now = clock.now();
    this.#startedAt = now;
    await this.adopt(this.#o.fleet ? [...this.#o.fleet.held] : null);
    const rows = await store.ensureLanes(plan.name, plan.ips.flatMap((ip) => plan.providers.map((p) => ({ ip: ip.address, provider: p.name }))), now);
    for (const row of rows) {
      const ip = plan.ips.find((i) => i.address === row.ip);
      const provider = plan.providers.find((p) => p.name === row.provider);
      if (!ip || !provider) continue; // a lane from an earlier version of the plan
      const lane: Lane = {
        row, ip, provider, log: log.child({ ip: row.ip, provider: row.provider }), day: null, pace: null, inFlight: 0,
        hour: { key: '', sent: 0, routed: 0, accepted: 0, deferred: 0, bounced: 0, failed: 0 },
      };
      this.#lanes.push(lane);
      this.#byId.set(row.id, lane);
      this.#byProvider.set(provider.name, [...(this.#byProvider.get(provider.name) ?? []), lane]);
    }
    this.#runId = await store.startRun({ plan: plan.name, planFile: plan.file, host: this.#o.fleet?.host ?? hostname(), pid: process.pid, now, speed: this.#o.speed, realNow: Date.now() });
    // Days whose window ended while no daemon ran are decided now, not when the next one opens.
    await this.#decideEnded(now);
    log.info({ run: this.#runId, lanes: this.#lanes.length, at: new Date(now).toISOString(), speed: this.#o.speed }, 'warmup started');
    if (options.firstTick) await this.tick();
    if (options.ticker !== false) this.#ticker = startTicker(this.#o.tickMs, () => this.tick(), (e) => log.error({ err: e }, 'tick failed'));
  }

  /**
   * Recovers the messages left in flight on these IPs (all of the plan's when null) by a daemon
   * that stopped: each gets an `interrupted` attempt and is queued for retry. Called at start for
   * the IPs this daemon holds, and for IPs it takes over from a silent daemon of its fleet.
   */
  async adopt(ips: readonly string[] | null): Promise<void> {
    const recovered = await this.#o.store.recoverInFlight(this.#o.plan.name, this.#o.clock.now(), ips ?? undefined);
    if (recovered > 0) {
      this.#nextRetry = 0;
      this.#o.log.warn({ recovered, ...(ips ? { ips } : {}) }, 'messages were in flight when the last run stopped; recorded as interrupted and queued for retry');
    }
  }

  /** Whether this daemon sends from the lane's IP (in a fleet: holds its lease). */
  #mine(lane: Lane): boolean {
    return !this.#o.fleet || this.#o.fleet.held.has(lane.ip.address);
  }

  /** One pass over every lane at the clock's current reading. */
  async tick(): Promise<void> {
    if (this.#stopping || this.#writeFailed) return;
    const now = this.#o.clock.now();
    // How late this pass is after the last one (a loaded machine, a huge speed): retries claimed
    // that late are not expired for the lateness alone.
    const sinceLastTick = this.lastTickAt > 0 ? Math.max(0, now - this.lastTickAt) : 0;
    this.lastTickAt = now;
    const ctx = dayContext(this.#o.plan, now);
    // Suspensions and timed pauses end by themselves: each lapse removes only its own hold.
    await this.#o.store.lapseHolds(this.#o.plan.name, now);
    await this.#reloadLanes();
    const hour = hourKey(now);
    const sendingIps = new Set(this.#o.plan.ips.filter((ip) => isSendingDay(this.#o.plan, ip, ctx.date)).map((ip) => ip.address));
    const due: DueSend[] = [];
    for (const lane of this.#lanes) {
      if (!this.#mine(lane)) continue;
      due.push(...await this.#sendDue(lane, ctx, now, sendingIps.has(lane.ip.address), due.length));
      this.#logHour(lane, hour);
    }
    await this.#sendAll(due, now);
    await this.#sendRetries(now, sinceLastTick);
    const undecided = await this.#decideEnded(now);
    const mine = this.#lanes.filter((l) => this.#mine(l)).map((l) => l.row.id);
    if (ctx.afterRamp && this.#inFlight.size === 0 && undecided === 0 && (await this.#o.store.pendingRetries(this.#o.plan.name, mine)) === 0) {
      this.#o.log.info({ launch: this.#o.plan.launch }, 'launch day reached and nothing left to retry: the warm-up is complete');
      void this.stop('plan complete');
    }
  }

  /** Plan milliseconds one tick covers: a day's last due messages may fall after the last tick inside the window. */
  get #graceMs(): number {
    return Math.max(1000, 2 * this.#o.tickMs * this.#o.speed);
  }

  /**
   * The lanes of a provider as routing real mail sees them at `now` (plan-local `date`). The
   * lanes' state is re-read first when another process may have changed it
   * (at most every 50 ms of real time), so a hold stops new mail at the next lookup.
   */
  async routableLanes(provider: string, now: number, date: string): Promise<RoutableLane[]> {
    if (Date.now() - this.#lanesReadAt > 50) await this.#reloadLanes();
    const key = hourKey(now);
    const out: RoutableLane[] = [];
    for (const lane of this.#byProvider.get(provider) ?? []) {
      const day = lane.day;
      const live = day !== null && !day.decided && day.date === date && now >= day.from && now < day.until;
      out.push({
        laneId: lane.row.id, ip: lane.ip.address, open: live && laneTakesMail(lane.row, now),
        target: live ? day.target : 0, carried: live ? day.sent : 0, windowMs: day ? day.until - day.from : 0,
        rateFactor: lane.row.rate_factor, hourCarried: lane.hour.key === key ? lane.hour.sent + lane.hour.routed : 0,
      });
    }
    return out;
  }

  /** The lane id of (ip, provider), or null when the plan has no such lane. */
  laneIdOf(ip: string, provider: string): number | null {
    return this.#lanes.find((l) => l.ip.address === ip && l.provider.name === provider)?.row.id ?? null;
  }

  /**
   * Records the deliveries of real mail that Postfix made through lanes (one
   * batch of its log, with the log position after it, in one transaction),
   * then lets the reply-pattern rules and the circuit breaker act on each
   * exactly as on a seed send's reply.
   */
  async recordRouted(ds: readonly q.RoutedDelivery[], position: q.LogPosition, now: number): Promise<q.RoutedRecord[]> {
    const recs = await this.#o.store.recordRoutedDeliveries(this.#o.plan.name, ds, position, now);
    for (const [i, d] of ds.entries()) {
      const rec = recs[i]!;
      const lane = this.#byId.get(d.laneId);
      if (!lane) continue;
      if (rec.counted && lane.day?.date === rec.day) lane.day.sent = Math.max(lane.day.sent, rec.daySent);
      if (lane.hour.key !== hourKey(d.at)) this.#logHour(lane, hourKey(d.at));
      const h = lane.hour;
      if (rec.counted) h.routed++;
      if (d.status === 'sent') h.accepted++;
      else if (d.outcome === 'deferred') h.deferred++;
      else if (d.status === 'bounced') h.bounced++;
      else h.failed++;
      lane.log.debug({ queue_id: d.queueId, rcpt: d.recipient, outcome: d.outcome, code: d.code, enhanced: d.enhanced, mx: d.mxHost, status: d.status, counted: rec.counted, reply: d.reply, source: 'routed' }, 'routed attempt');
      const actions = this.#rules.observe({
        ip: lane.ip.address, provider: lane.provider.name, recipient: d.recipient, outcome: d.outcome, text: d.reply, mailboxSignal: d.mailboxSignal,
        code: d.code, enhanced: d.enhanced, greylisting: d.greylisting ?? null, rejection: d.rejection ?? null,
      }, d.at);
      for (const a of actions) await this.#apply(a, lane, d.at, 'routed');
    }
    return recs;
  }

  /**
   * Holds may be changed by other processes (warmup pause/resume, the DNSBL
   * monitor): re-read lanes every tick so a change takes effect within one.
   * An operator's resume also clears what the rule engine remembers about
   * those lanes, so a rule muted by its earlier firing acts again.
   */
  async #reloadLanes(): Promise<void> {
    this.#lanesReadAt = Date.now();
    const { store, plan } = this.#o;
    const seen = await store.lastEventId();
    if (seen === this.#eventsSeen) return;
    if (this.#eventsSeen >= 0) {
      for (const e of await store.eventsAfter(plan.name, { id: this.#eventsSeen }, 10_000)) {
        if (e.kind === 'operator_resume' && e.ip && e.provider) this.#rules.forget({ ip: e.ip, provider: e.provider });
      }
    }
    this.#eventsSeen = seen;
    for (const row of await store.loadLanes(plan.name)) {
      const lane = this.#byId.get(row.id);
      if (!lane) continue;
      if (lane.row.state !== 'active' && row.state === 'active') lane.pace = null;
      lane.row = row;
    }
  }

  /** Resolves when every send in flight has been recorded (simulation steps use it). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * The sends a lane has due now (`planned`: those other lanes already have
   * this tick, which count against the global in-flight cap).
   */
  async #sendDue(lane: Lane, ctx: DayContext, now: number, sendingDay: boolean, planned: number): Promise<DueSend[]> {
    // A lane sends only while no hold is on it.
    if (lane.row.state !== 'active') return [];
    let day: OpenDay | null = null;
    if (lane.day && !lane.day.decided && now < lane.day.until + this.#graceMs) day = lane.day;
    else if (sendingDay && ctx.inWindow) day = await this.#openDay(lane, ctx, now);
    // A provider without seeds warms up on routed real mail only: its day is open, nothing is sent here.
    if (!day || day.target === 0 || lane.provider.seeds.length + lane.provider.recipients.length === 0) return [];
    if (lane.row.rate_until !== null && lane.row.rate_until <= now) await this.#endShaping(lane, now);
    const key = `${lane.row.id}|${day.date}`;
    const behind = dueCount(day.target, day.from, day.until, now, key) - day.sent;
    if (behind <= 0) return [];
    const laneCap = this.#laneCap(lane) - lane.inFlight;
    const globalCap = this.#o.maxInFlight - this.#inFlight.size - planned;
    const paced = pace(lane.pace, {
      // A rule that cut the rate also forbids catching up until it lapses.
      target: day.target, windowMs: day.until - day.from,
      catchUpFactor: lane.row.rate_factor < 1 ? lane.row.rate_factor : this.#o.plan.delivery.catchUpFactor,
      tickMs: this.#o.clock.realDelay(1) > 0 ? this.#o.tickMs / this.#o.clock.realDelay(1) : this.#o.tickMs,
    }, now, Math.max(0, Math.min(behind, laneCap, globalCap)));
    lane.pace = paced.next;
    const domain = this.#o.plan.sender.from.address.split('@')[1]!.toLowerCase();
    const out: DueSend[] = [];
    for (let i = 0; i < paced.allowed; i++) {
      const seq = day.sent + 1 + i;
      const token = `wu-${lane.row.id}-${day.date.replaceAll('-', '')}-${seq}-${randomHex(4)}`;
      const recipient = recipientFor(lane.provider, lane.ip.address, day.date, seq, (a) => (this.#resting.get(a) ?? 0) > now);
      out.push({ lane, day, recipient, token, messageId: `${token}@${domain}` });
      lane.hour.sent++;
    }
    return out;
  }

  /**
   * Records a tick's sends in one transaction (each in flight and counted as
   * sent) and only then dispatches them: a crash can at worst resend messages
   * that were in flight, never send one the database does not know.
   */
  async #sendAll(due: readonly DueSend[], now: number): Promise<void> {
    if (due.length === 0) return;
    const rows = await this.#o.store.createMessages(due.map((d) => ({ laneId: d.lane.row.id, day: d.day.date, recipient: d.recipient, messageId: d.messageId })), now);
    rows.forEach(({ id, seq }, i) => {
      const d = due[i]!;
      d.day.sent = Math.max(d.day.sent, seq);
      this.#dispatch(d.lane, { id, day: d.day.date, seq, recipient: d.recipient, token: d.token, attempts: 0, createdAt: now });
    });
  }

  /** Opens (or reloads) the lane's day: decides the previous day first, then the stage and target. */
  async #openDay(lane: Lane, ctx: DayContext, now: number): Promise<OpenDay | null> {
    if (lane.day?.date === ctx.date) return lane.day;
    const { store, plan } = this.#o;
    const existing = await store.getLaneDay(lane.row.id, ctx.date);
    if (existing) {
      lane.day = { date: ctx.date, stage: existing.stage, target: existing.target, from: existing.spread_from, until: existing.spread_until, sent: existing.sent, decided: existing.decision !== null };
      return lane.day;
    }
    const prev = await store.previousLaneDay(lane.row.id, ctx.date);
    if (prev && prev.decision === null) await this.#decide(lane, prev, now);
    if (lane.row.state !== 'active') return null;
    const stage = nextStage(lane.row.stage);
    const planned = stageVolume(laneRamp(lane.ip, lane.provider), stage);
    // A run that started after the window opened sends the rest of the day's share, spread over
    // what is left; a run that was up at the opening sends the whole day (a late tick only catches up).
    const lateStart = this.#startedAt > ctx.windowStart;
    const target = lateStart ? proRataTarget(planned, ctx.windowStart, ctx.windowEnd, now) : planned;
    const from = lateStart ? Math.max(now, ctx.windowStart) : ctx.windowStart;
    await store.openLaneDay({ lane_id: lane.row.id, day: ctx.date, stage, target, spread_from: from, spread_until: ctx.windowEnd }, now);
    lane.row = { ...lane.row, stage };
    lane.day = { date: ctx.date, stage, target, from, until: ctx.windowEnd, sent: 0, decided: false };
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
  async #decideEnded(now: number): Promise<number> {
    const { store, plan } = this.#o;
    let waiting = 0;
    for (const row of await store.undecidedDays(plan.name, now - this.#graceMs)) {
      const lane = this.#byId.get(row.lane_id);
      if (!lane) continue; // a lane the plan no longer has: nothing to decide it by
      const settled = now >= row.spread_until + plan.policy.retryGraceMs || (await store.unsettledMessages(row.lane_id, row.day)) === 0;
      if (!settled) { waiting++; continue; }
      await this.#decide(lane, row, now);
      if (lane.day?.date === row.day) lane.day.decided = true;
    }
    return waiting;
  }

  async #decide(lane: Lane, row: q.LaneDayRow, now: number): Promise<void> {
    const { store, plan } = this.#o;
    const r = decideDay({
      stage: row.stage, target: row.target, accepted: row.accepted, deferred: row.deferred, failed: row.failed,
      bounced: row.bounced, attempts: row.sent + row.retries, inbox: row.inbox, spam: row.spam,
      greylisted: row.greylisted, greylistPassed: row.greylist_passed, hygieneBounced: row.hygiene_bounced,
      replies: await store.dayReplies(lane.row.id, row.day),
    }, laneRamp(lane.ip, lane.provider), lane.provider.thresholds, lane.row.holds_in_row);
    // The decision, its event and the hold it causes commit together: a kill -9 leaves all or none.
    const decided = await store.transaction(async (tx) => {
      if (!await tx.decideLaneDay(lane.row.id, row.day, r.decision, r.nextStage, r.holdsInRow, now)) return false;
      await tx.addEvent({
        at: now, plan: plan.name, laneId: lane.row.id, ip: lane.ip.address, provider: lane.provider.name, kind: `day_${r.decision}`,
        from: `stage ${row.stage}`, to: `stage ${r.nextStage}`, actor: 'policy',
        cause: {
          day: row.day, target: row.target, sent: row.sent, accepted: row.accepted, deferred: row.deferred, bounced: row.bounced, failed: row.failed,
          greylisted: row.greylisted, greylistPassed: row.greylist_passed, unknownUsers: row.hygiene_bounced, mailboxDeferred: row.mailbox_deferred,
          ...r.rates, reason: r.reason, flagged: r.flagged, evidence: r.evidence,
        },
      });
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
    const { store, plan } = this.#o;
    if (lane.row.state === 'paused') return;
    const history = (await store.laneDecisions(lane.row.id)).map((h) => ({ ip: lane.ip.address, provider: lane.provider.name, ...h }));
    const [f] = launchReadiness(plan, [{ ip: lane.ip.address, provider: lane.provider.name, stage: lane.row.stage, state: lane.row.state }], history, now).lanes;
    if (!f) return;
    const announced = await store.transaction(async (tx) => {
      const prev = await tx.recordForecast(lane.row.id, day, f.verdict);
      if (prev === undefined || f.verdict !== 'behind' || prev === 'behind') return false;
      await tx.addEvent({
        at: now, plan: plan.name, laneId: lane.row.id, ip: lane.ip.address, provider: lane.provider.name, kind: 'behind_for_launch', actor: 'policy',
        cause: { reason: `at ${Math.round(f.pace * 100)}% pace it carries ${f.projectedVolume} of ${f.launchTarget} on launch day`, launchTarget: f.launchTarget, projectedVolume: f.projectedVolume, readyOn: f.readyOn, pace: f.pace },
      });
      return true;
    });
    if (announced) lane.log.warn({ launchTarget: f.launchTarget, projectedVolume: f.projectedVolume, readyOn: f.readyOn }, 'behind for launch');
  }

  /**
   * Retries go through the same limits as new sends: each lane's in-flight
   * cap (one connection's worth under `one_connection`, scaled down under
   * `cut_rate`) and the global cap. Expired messages are expired at claim
   * time, never sent. Claimed messages are dispatched with no await between,
   * so a stop can never find them claimed but not in flight.
   */
  async #sendRetries(now: number, lateness: number): Promise<void> {
    let room = this.#o.maxInFlight - this.#inFlight.size;
    if (room <= 0 || this.#nextRetry === null || this.#nextRetry > now) return;
    const lanes: Array<{ laneId: number; limit: number }> = [];
    for (const l of this.#lanes) {
      if (l.row.state !== 'active' || room <= 0 || !this.#mine(l)) continue;
      const limit = Math.min(room, this.#laneCap(l) - l.inFlight);
      if (limit <= 0) continue;
      lanes.push({ laneId: l.row.id, limit });
      room -= limit;
    }
    // A retry scheduled just inside the expiry and claimed a (slow) tick late still goes out;
    // one that waited through days of downtime does not.
    const { claimed, expired } = await this.#o.store.claimDueRetries(now, lanes, this.#o.plan.delivery.retry.expireMs + this.#graceMs + lateness);
    for (const m of claimed) {
      this.#dispatch(this.#byId.get(m.lane_id)!, { id: m.id, day: m.day, seq: m.seq, recipient: m.recipient, token: m.message_id.split('@')[0]!, attempts: m.attempts, createdAt: m.created_at });
    }
    if (expired > 0) this.#o.log.warn({ expired }, 'retries past their expiry were expired, not sent');
    // What waits next decides when to look again.
    this.#nextRetry = await this.#o.store.nextRetryDue();
  }

  /**
   * Writes an attempt, retrying a failing write (a locked or full disk) a few
   * times. When it keeps failing the daemon fails closed: it stops sending
   * and stops with 'error' (exit 1, so systemd restarts it); the message stays
   * in flight and the next start records it as interrupted and retries it.
   */
  async #persist(what: string, write: () => Promise<void>): Promise<boolean> {
    for (let i = 0; ; i++) {
      try {
        await write();
        return true;
      } catch (e) {
        if (i >= WRITE_RETRIES) {
          this.#o.log.fatal({ err: e, what }, 'the database refuses writes: stopping sending (fail closed)');
          this.#writeFailed = true;
          void this.stop('error');
          return false;
        }
        this.#o.log.error({ err: e, what, retry: i + 1 }, 'a database write failed; retrying');
        await new Promise((r) => setTimeout(r, 100 * 2 ** i));
      }
    }
  }

  #dispatch(lane: Lane, m: { id: number; day: string; seq: number; recipient: string; token: string; attempts: number; createdAt: number }): void {
    lane.inFlight++;
    this.#notStarted.add(m.id);
    // After the drain deadline nothing new opens: a send still waiting for a slot gives up.
    const mayStart = (): boolean => {
      if (this.#drainExpired) return false;
      this.#notStarted.delete(m.id);
      return true;
    };
    const p = (async () => {
      const { clock, plan, mailer } = this.#o;
      let out: DeliveryOutcome;
      let local = false;
      try {
        out = await deliverOnce({ plan, mailer, routes: this.#routes, now: () => clock.now(), mayStart }, {
          provider: lane.provider, ip: lane.ip, recipient: m.recipient, seq: m.seq, token: m.token,
        });
      } catch (e) {
        if (e instanceof WarmupError && e.code === 'NOT_SENT') return; // back in the queue (see stop)
        // A bug or a bad template: record it as a protocol failure rather than lose the message.
        local = true;
        out = { outcome: 'protocol', code: null, enhanced: null, reply: `local error: ${(e as Error).message}`, stage: null, final: true, mailboxSignal: false, greylisting: null, rejection: null, mxHost: null, mxAddress: null, startedAt: clock.now(), latencyMs: null };
      }
      const at = clock.now();
      let result: q.MessageResult;
      if (out.outcome === 'accepted') result = { status: 'accepted', at };
      else if (out.final) result = { status: 'bounced', at };
      else {
        const next = nextRetryAt(m.createdAt, m.attempts + 1, at, plan.delivery.retry);
        result = next === null ? { status: 'expired', at } : { status: 'deferred', nextAttemptAt: next };
      }
      const attempt: q.AttemptRecord = {
        messageId: m.id, laneId: lane.row.id, day: m.day, startedAt: out.startedAt, latencyMs: out.latencyMs, mxHost: out.mxHost,
        mxAddress: out.mxAddress, outcome: out.outcome, code: out.code, enhanced: out.enhanced, reply: out.reply, stage: out.stage, retry: m.attempts,
        mailboxSignal: out.mailboxSignal, greylisting: out.greylisting, local,
      };
      const written = await this.#persist('attempt', () => this.#attempts.write({ attempt, result }));
      if (!written) return;
      // After the commit: a tick that read the next due retry before it must not hide this one.
      if (result.status === 'deferred' && result.nextAttemptAt !== null) {
        const next = result.nextAttemptAt;
        this.#nextRetry = this.#nextRetry === null ? next : Math.min(this.#nextRetry, next);
      }
      const actions = this.#rules.observe({
        ip: lane.ip.address, provider: lane.provider.name, recipient: m.recipient, outcome: out.outcome, text: out.reply, mailboxSignal: out.mailboxSignal,
        code: out.code, enhanced: out.enhanced, greylisting: out.greylisting, rejection: out.rejection,
      }, at);
      for (const a of actions) await this.#apply(a, lane, at);
      const h = lane.hour;
      if (result.status === 'accepted') h.accepted++;
      else if (out.outcome === 'deferred') h.deferred++;
      else if (result.status === 'bounced') h.bounced++;
      else h.failed++;
      lane.log.debug({ msg_id: m.id, seq: m.seq, rcpt: m.recipient, outcome: out.outcome, code: out.code, enhanced: out.enhanced, mx: out.mxHost, latency_ms: out.latencyMs, retry: m.attempts, status: result.status, reply: out.reply }, 'attempt');
    })().catch((e) => lane.log.error({ err: e, msg_id: m.id }, 'recording an attempt failed'))
      .finally(() => { lane.inFlight--; this.#inFlight.delete(p); this.#notStarted.delete(m.id); });
    this.#inFlight.add(p);
  }

  /** In-flight cap of a lane: one connection's worth when a rule asked for one connection, scaled down by a rate cut. */
  #laneCap(lane: Lane): number {
    const cap = lane.row.max_connections ?? this.#o.plan.delivery.maxConnectionsPerMx * 4;
    return lane.row.rate_factor < 1 ? Math.max(1, Math.floor(cap * lane.row.rate_factor)) : cap;
  }

  /**
   * Carries out what a reply-pattern rule or a breaker decided; every event names the replies behind it
   * and their `source` (seed, or routed: real mail through Postfix), so alerts say which traffic it was.
   */
  async #apply(a: RuleAction, lane: Lane, now: number, source: 'seed' | 'routed' = 'seed'): Promise<void> {
    const { store, plan } = this.#o;
    const breaker = a.rule === 'circuit-breaker' || a.rule === 'rejection-breaker';
    const actor = breaker ? `policy:${a.rule}` : `rule:${a.rule}`;
    const cause = { rule: a.rule, reply: a.reply, ip: lane.ip.address, provider: lane.provider.name, evidence: a.evidence, source };
    const reason = `${a.rule}: ${a.reply.slice(0, 240)}`;
    const log = lane.log.child({ rule: a.rule, action: a.action });
    switch (a.action) {
      case 'suspend': case 'pause': case 'pause_ip': case 'pause_provider': case 'stop_all': {
        // A rule or a breaker adds or extends its own hold, with the replies behind it; it never replaces another actor's.
        const changed = await store.addHold(plan.name, a.scope, {
          kind: breaker ? 'breaker' : 'rule', actor, reason, until: a.until,
          eventKind: a.rule === 'rejection-breaker' ? 'rejection_breaker' : `rule_${a.action}`, cause, evidence: a.evidence,
        }, now);
        const rows = new Map((await store.loadLanes(plan.name)).map((r) => [r.id, r]));
        for (const c of changed) { const l = this.#byId.get(c.laneId); const row = rows.get(c.laneId); if (l && row) l.row = row; }
        log.warn({ lanes: changed.length, until: a.until, reply: a.reply, evidence: a.evidence }, `${a.action} by ${breaker ? '' : 'rule '}${a.rule}`);
        return;
      }
      case 'cut_rate': case 'one_connection': {
        const set = a.action === 'cut_rate'
          ? { rate_factor: Math.min(lane.row.rate_factor, a.factor ?? 0.5), rate_until: Math.max(lane.row.rate_until ?? 0, a.until ?? now) }
          : { max_connections: 1, rate_until: Math.max(lane.row.rate_until ?? 0, a.until ?? now) };
        await store.setLaneShaping(lane.row.id, set, now);
        lane.row = { ...lane.row, ...set };
        await store.addEvent({ at: now, plan: plan.name, laneId: lane.row.id, ip: lane.ip.address, provider: lane.provider.name, kind: `rule_${a.action}`, actor, cause: { ...cause, factor: a.factor, until: a.until } });
        log.warn({ until: a.until, factor: a.factor, reply: a.reply }, `${a.action} by rule ${a.rule}`);
        return;
      }
      case 'slow_mailbox': {
        if (a.mailbox) this.#resting.set(a.mailbox, a.until ?? now);
        await store.addEvent({ at: now, plan: plan.name, laneId: lane.row.id, ip: lane.ip.address, provider: lane.provider.name, kind: 'rule_slow_mailbox', actor, cause: { ...cause, mailbox: a.mailbox, until: a.until } });
        log.info({ mailbox: a.mailbox, until: a.until }, `mailbox ${a.mailbox} rests (rule ${a.rule})`);
        return;
      }
    }
  }

  async #endShaping(lane: Lane, now: number): Promise<void> {
    const set = { rate_factor: 1, max_connections: null, rate_until: null };
    await this.#o.store.setLaneShaping(lane.row.id, set, now);
    await this.#o.store.addEvent({ at: now, plan: this.#o.plan.name, laneId: lane.row.id, ip: lane.ip.address, provider: lane.provider.name, kind: 'shaping_lapsed', actor: 'daemon', cause: { rate_factor: lane.row.rate_factor, max_connections: lane.row.max_connections } });
    lane.row = { ...lane.row, ...set };
    lane.pace = null;
  }

  /** An info line per lane per hour of plan time. */
  #logHour(lane: Lane, key: string): void {
    const h = lane.hour;
    if (h.key === key) return;
    if (h.key !== '' && h.sent + h.routed + h.accepted + h.deferred + h.bounced + h.failed > 0) {
      lane.log.info({ hour: `${h.key}:00Z`, sent: h.sent, routed: h.routed, accepted: h.accepted, deferred: h.deferred, bounced: h.bounced, failed: h.failed, in_flight: lane.inFlight, stage: lane.row.stage, state: lane.row.state }, 'hourly');
    }
    lane.hour = { key, sent: 0, routed: 0, accepted: 0, deferred: 0, bounced: 0, failed: 0 };
  }

  /**
   * Stops ticking, lets sends in flight finish within drainMs, records the
   * run's end. Sends still in flight after that stay marked in flight and are
   * recorded as interrupted by the next start.
   */
  stop(reason: StopReason): Promise<void> {
    this.#stopping ??= (async () => {
      const { log, store, clock, drainMs, mailer } = this.#o;
      void this.#ticker?.stop();
      log.info({ reason, in_flight: this.#inFlight.size }, 'stopping');
      const drained = await Promise.race([
        Promise.allSettled([...this.#inFlight]).then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), drainMs).unref()),
      ]);
      if (!drained) {
        // Nothing new opens from now on; sends that never got a connection go back to the queue
        // (no attempt: nothing was sent); those under way stay in flight for the next start.
        this.#drainExpired = true;
        const unsent = [...this.#notStarted];
        await store.returnUnsent(unsent, clock.now()).catch((e: unknown) => log.error({ err: e }, 'returning unsent messages failed'));
        log.warn({ in_flight: this.#inFlight.size - unsent.length, returned: unsent.length }, 'drain period over: unsent messages returned to the retry queue; sends under way are recorded as interrupted by the next start');
      }
      // The database may be what failed: stopping must not depend on it.
      if (this.#runId) await store.endRun(this.#runId, clock.now(), reason).catch((e: unknown) => log.error({ err: e }, 'recording the end of the run failed'));
      await mailer.close();
      log.info({ reason }, 'stopped');
      this.#done(reason);
    })();
    return this.#stopping;
  }
}
