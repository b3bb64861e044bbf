/**
 * The composition root of `warmup start`: each tick reads the clock once,
 * opens lane days, sends what is due from each lane's IP, retries what is
 * due, closes days with the day-end decision, and records everything.
 *
 * The parts: `LaneBook` (lanes.ts) holds the lanes; `LaneDays` (lane-day.ts)
 * opens and decides their days; `Shaping` (shaping.ts) says how much a lane
 * may send now and carries out rule actions; `Dispatch` (dispatch.ts) runs
 * each send -> record -> observers. Sends run concurrently and are never
 * awaited by the tick, so a dead or slow MX holds up only its own lane
 * (bounded by the lane's in-flight cap).
 */
import { randomHex } from '../util/token.js';
import { hostname } from 'node:os';
import type { Plan } from '../plan/types.js';
import { effectiveRules, RuleEngine } from '../policy/rules.js';
import type { Mailer } from '../send/mailer.js';
import type * as q from '../store/queries.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { Resolver } from '../dns/resolver.js';
import { PlanCalendar, type DayContext } from './day.js';
import { Dispatch, type DueSend } from './dispatch.js';
import { hourCarried, hourKey } from './hourly.js';
import { LaneDays, liveDay } from './lane-day.js';
import { LaneBook, rollLaneHour, type Lane } from './lanes.js';
import { recipientFor } from './recipients.js';
import { laneTakesMail, retryLimits, sendAllowance, Shaping } from './shaping.js';
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
   * A fleet (src/daemon/fleet.ts): `held`, the IPs this daemon sends from now (none while its
   * lease renewals are overdue); `leased`, those it holds a lease on, whose messages it recovers
   * at start. Null: every IP of the plan (simulation, one daemon in tests).
   */
  readonly fleet?: { readonly held: ReadonlySet<string>; readonly leased: ReadonlySet<string>; readonly host: string } | null;
  /**
   * Real milliseconds results wait to be committed together (default 2): one transaction per
   * group instead of one per answer. 0 commits what arrived in the same turn of the event loop
   * (the simulation, whose answers all arrive in one turn per step).
   */
  readonly writeGroupMs?: number;
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

export type StopReason = 'SIGTERM' | 'SIGINT' | 'plan complete' | 'error';

export class Daemon {
  readonly #o: Required<Omit<DaemonOptions, 'speed' | 'fleet'>> & { speed: number; fleet: DaemonOptions['fleet'] };
  readonly #lanes: LaneBook;
  readonly #days: LaneDays;
  readonly #shaping: Shaping;
  readonly #dispatch: Dispatch;
  readonly #rules: RuleEngine;
  readonly #calendar: PlanCalendar;
  /** The domain of the plan's From address (Message-IDs end in it). */
  readonly #domain: string;
  #ticker: Ticker | null = null;
  #runId = 0;
  /** Clock reading when this run started: pro rata applies only to a window that opened before it. */
  #startedAt = 0;
  #stopping: Promise<void> | null = null;
  #done!: (reason: StopReason) => void;
  /** Resolves with the reason once the daemon has stopped. */
  readonly stopped: Promise<StopReason>;
  lastTickAt = 0;

  constructor(options: DaemonOptions) {
    this.#o = { tickMs: 1000, maxInFlight: 256, drainMs: 30_000, speed: 1, fleet: null, writeGroupMs: 2, ...options };
    const { plan, store } = options;
    const byName = new Map(plan.providers.map((p) => [p.name, p]));
    this.#rules = new RuleEngine(effectiveRules(plan), plan.policy.breaker, (name) => byName.get(name)?.thresholds.rejectionBreaker ?? null);
    this.#lanes = new LaneBook(plan, store, (lane) => this.#rules.forget(lane));
    this.#days = new LaneDays(plan, store, this.#lanes, this.#graceMs);
    this.#shaping = new Shaping(plan, store, this.#lanes);
    this.#calendar = new PlanCalendar(plan);
    this.#domain = plan.sender.from.address.split('@')[1]!.toLowerCase();
    this.#dispatch = new Dispatch({
      plan, store, mailer: options.mailer, resolver: options.resolver, clock: options.clock, log: options.log,
      lanes: this.#lanes, rules: this.#rules, shaping: this.#shaping, writeGroupMs: this.#o.writeGroupMs,
      onWriteFailure: () => void this.stop('error'),
      sendsFrom: (lane) => this.#mine(lane),
    });
    this.stopped = new Promise((resolve) => { this.#done = resolve; });
  }

  get plan(): Plan { return this.#o.plan; }
  /** This daemon's host name (in a fleet: `--host`); what routing keys its Postfix log position by. */
  get host(): string { return (this.#o.fleet?.host ?? hostname()).toLowerCase(); }
  get inFlight(): number { return this.#dispatch.size; }
  /** False when the last stop left sends under way at the drain deadline (their sockets may still be open). */
  get drained(): boolean { return !this.#dispatch.drainExpired; }

  /**
   * Recovers a crashed run's in-flight messages, creates lanes, and starts ticking.
   * `firstTick` runs one tick before returning (lane days open), so that
   * routing real mail, started next, never answers before the lanes are ready.
   */
  async start(options: { ticker?: boolean; firstTick?: boolean } = {}): Promise<void> {
    const { plan, store, clock, log } = this.#o;
    const now = clock.now();
    this.#startedAt = now;
    await this.adopt(this.#o.fleet ? [...this.#o.fleet.leased] : null);
    this.#lanes.add(await store.ensureLanes(plan.name, plan.ips.flatMap((ip) => plan.providers.map((p) => ({ ip: ip.address, provider: p.name }))), now), log);
    this.#runId = await store.startRun({ plan: plan.name, planFile: plan.file, host: this.host, pid: process.pid, now, speed: this.#o.speed, realNow: Date.now() });
    // Days whose window ended while no daemon ran are decided now, not when the next one opens.
    await this.#days.decideEnded(now);
    log.info({ run: this.#runId, lanes: this.#lanes.all.length, at: new Date(now).toISOString(), speed: this.#o.speed }, 'warmup started');
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
    if (ips) {
      // An IP this daemon held before (then lost) may have carried another daemon's sends and routed mail
      // since: its day is read again from the store, which counts every host's, before it sends or routes.
      const gained = new Set(ips);
      for (const lane of this.#lanes.all) if (gained.has(lane.ip.address)) { lane.day = null; lane.pace = null; }
    }
    // Days of IPs taken over are looked at by the next tick's day-end pass.
    this.#days.recheck();
    if (recovered > 0) {
      this.#dispatch.wakeRetries();
      this.#o.log.warn({ recovered, ...(ips ? { ips } : {}) }, 'messages were in flight when the last run stopped; recorded as interrupted and queued for retry');
    }
  }

  /** Whether this daemon sends from the lane's IP (in a fleet: holds its lease). */
  #mine(lane: Lane): boolean {
    return !this.#o.fleet || this.#o.fleet.held.has(lane.ip.address);
  }

  /** One pass over every lane at the clock's current reading. */
  async tick(): Promise<void> {
    if (this.#stopping || this.#dispatch.writeFailed) return;
    const now = this.#o.clock.now();
    // How late this pass is after the last one (a loaded machine, a huge speed): retries claimed
    // that late are not expired for the lateness alone.
    const sinceLastTick = this.lastTickAt > 0 ? Math.max(0, now - this.lastTickAt) : 0;
    this.lastTickAt = now;
    const { ctx, sendingIps } = this.#calendar.at(now);
    // Timed holds lapse, and what another process changed is read (see LaneBook.sync).
    await this.#lanes.sync(now);
    const hour = hourKey(now);
    const due: DueSend[] = [];
    for (const lane of this.#lanes.all) {
      if (!this.#mine(lane)) continue;
      // The hour moves on before this tick's sends are counted in it.
      rollLaneHour(lane, hour);
      due.push(...await this.#sendDue(lane, ctx, now, sendingIps.has(lane.ip.address), due.length));
    }
    await this.#dispatch.sendNew(due, now);
    await this.#sendRetries(now, sinceLastTick);
    const undecided = await this.#days.decideEndedIfDue(now);
    // Its lanes here are those it holds a lease on, sending now or not (renewals overdue): the warm-up is not complete for a pause.
    const leased = this.#lanes.all.filter((l) => !this.#o.fleet || this.#o.fleet.leased.has(l.ip.address));
    if (ctx.afterRamp && this.#dispatch.size === 0 && undecided === 0 && (await this.#o.store.pendingRetries(this.#o.plan.name, leased.map((l) => l.row.id))) === 0) {
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
   * In a fleet, only the lanes of the IPs this daemon holds a lease on: this host's Postfix
   * cannot bind another host's IP, and a lease lost stops routing through its IP at the next lookup.
   */
  async routableLanes(provider: string, now: number, date: string): Promise<RoutableLane[]> {
    if (this.#lanes.readAgoMs > 50) await this.#lanes.reload();
    const key = hourKey(now);
    const out: RoutableLane[] = [];
    for (const lane of this.#lanes.ofProvider(provider)) {
      if (!this.#mine(lane)) continue;
      const day = lane.day;
      const live = liveDay(day, date, now);
      out.push({
        laneId: lane.row.id, ip: lane.ip.address, open: live && laneTakesMail(lane.row, now),
        target: live ? day.target : 0, carried: live ? day.sent : 0, windowMs: day ? day.until - day.from : 0,
        rateFactor: lane.row.rate_factor, hourCarried: hourCarried(lane.hour, key),
      });
    }
    return out;
  }

  /** The lane id of (ip, provider), or null when the plan has no such lane. */
  laneIdOf(ip: string, provider: string): number | null {
    return this.#lanes.find(ip, provider)?.row.id ?? null;
  }

  /**
   * Records the deliveries of real mail that Postfix made through lanes (one
   * batch of its log, with the log position after it, in one transaction),
   * then lets the reply-pattern rules and the circuit breaker act on each
   * exactly as on a seed send's reply.
   */
  recordRouted(ds: readonly q.RoutedDelivery[], position: q.LogPosition, now: number): Promise<q.RoutedRecord[]> {
    return this.#dispatch.recordRouted(this.host, ds, position, now);
  }

  /** Resolves when every send in flight has been recorded (simulation steps use it). */
  settle(): Promise<void> {
    return this.#dispatch.settle();
  }

  /**
   * The sends a lane has due now (`planned`: those other lanes already have
   * this tick, which count against the global in-flight cap).
   */
  async #sendDue(lane: Lane, ctx: DayContext, now: number, sendingDay: boolean, planned: number): Promise<DueSend[]> {
    // A lane sends only while no hold is on it.
    if (lane.row.state !== 'active') return [];
    const day = await this.#days.current(lane, ctx, now, sendingDay, this.#startedAt);
    // A provider without seeds warms up on routed real mail only: its day is open, nothing is sent here.
    if (!day || day.target === 0 || lane.provider.seeds.length + lane.provider.recipients.length === 0) return [];
    await this.#shaping.endLapsed(lane, now);
    const { plan, clock, tickMs } = this.#o;
    const allowance = sendAllowance({
      laneId: lane.row.id, day, pace: lane.pace, rateFactor: lane.row.rate_factor, catchUpFactor: plan.delivery.catchUpFactor,
      tickMs: clock.realDelay(1) > 0 ? tickMs / clock.realDelay(1) : tickMs,
      laneRoom: this.#shaping.cap(lane) - lane.inFlight, globalRoom: this.#o.maxInFlight - this.#dispatch.size - planned,
    }, now);
    lane.pace = allowance.pace;
    const domain = this.#domain;
    const out: DueSend[] = [];
    for (let i = 0; i < allowance.allowed; i++) {
      const seq = day.sent + 1 + i;
      const token = `wu-${lane.row.id}-${day.date.replaceAll('-', '')}-${seq}-${randomHex(4)}`;
      const recipient = recipientFor(lane.provider, lane.ip.address, day.date, seq, (a) => this.#shaping.resting(a, now));
      out.push({ lane, day, recipient, token, messageId: `${token}@${domain}` });
      lane.hour.sent++;
    }
    return out;
  }

  /**
   * Retries go through the same limits as new sends: each lane's in-flight
   * cap (one connection's worth under `one_connection`, scaled down under
   * `cut_rate`) and the global cap.
   */
  async #sendRetries(now: number, lateness: number): Promise<void> {
    const room = this.#o.maxInFlight - this.#dispatch.size;
    if (room <= 0 || !this.#dispatch.retryDue(now)) return;
    const lanes = this.#lanes.all.filter((l) => this.#mine(l)).map((l) => ({ id: l.row.id, active: l.row.state === 'active', room: this.#shaping.cap(l) - l.inFlight }));
    const limits = retryLimits(lanes, room);
    // No lane has room (new sends filled them): nothing can be claimed, and the retry stays due for the next tick.
    if (limits.length === 0) return;
    // A retry scheduled just inside the expiry and claimed a (slow) tick late still goes out;
    // one that waited through days of downtime does not.
    await this.#dispatch.sendRetries(now, limits, this.#o.plan.delivery.retry.expireMs + this.#graceMs + lateness);
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
      log.info({ reason, in_flight: this.#dispatch.size }, 'stopping');
      await this.#dispatch.drain(drainMs);
      // The database may be what failed: stopping must not depend on it.
      if (this.#runId) await store.endRun(this.#runId, clock.now(), reason).catch((e: unknown) => log.error({ err: e }, 'recording the end of the run failed'));
      await mailer.close();
      log.info({ reason }, 'stopped');
      this.#done(reason);
    })();
    return this.#stopping;
  }
}
