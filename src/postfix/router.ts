/**
 * Routing real mail: answers Postfix's transport lookups (which IP each
 * recipient leaves from) and turns Postfix's delivery lines into attempts of
 * the right lane. Lookups are not deliveries: a lookup answered with a lane
 * only reserves a unit of its room until the delivery shows in the log (or
 * the reservation lapses), and only logged deliveries are counted.
 */
import type { RoutableLane } from '../daemon/daemon.js';
import { addDays, localTime, zonedInstant } from '../schedule/calendar.js';
import type { Resolver } from '../dns/resolver.js';
import type { Plan, PostfixSettings } from '../plan/types.js';
import type { LogPosition, RoutedDelivery, RoutedRecord } from '../store/routed.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { transportName } from './config.js';
import { isTransportMapsFailure, parseDeliveryLine } from './log-line.js';
import { ProviderFinder } from './providers.js';
import { answerFor, chooseRoute, hourCap, type LaneRoom, type RouteDecision } from './route-policy.js';

/**
 * The daemon's side of routing: its lanes (in a fleet, only those of the IPs it holds a lease on), and
 * recording what its host's Postfix delivered.
 */
export interface LaneSource {
  /** The host whose Postfix this daemon answers and whose log it reads (a fleet keeps one log position per host). */
  readonly host: string;
  routableLanes(provider: string, now: number, date: string): Promise<RoutableLane[]>;
  laneIdOf(ip: string, provider: string): number | null;
  recordRouted(ds: readonly RoutedDelivery[], position: LogPosition, now: number): Promise<RoutedRecord[]>;
}

interface Reservation {
  readonly laneId: number;
  readonly key: string;
  readonly day: string;
  readonly expires: number;
  live: boolean;
}

/** Counters for status lines and metrics. */
export interface RouterCounters {
  lookups: number;
  lanes: number;
  overflow: number;
  deferred: number;
  notFound: number;
  temp: number;
  deliveries: number;
  /** Lines of trivial-rewrite failing to ask transport_maps (Postfix could not reach warmup). */
  resolverFailures: number;
}

/** Real milliseconds between two error lines about Postfix not reaching warmup (the count in between goes in the next). */
const RESOLVER_FAILURE_LOG_MS = 60_000;

export interface RouterOptions {
  readonly plan: Plan;
  readonly settings: PostfixSettings;
  readonly lanes: LaneSource;
  readonly resolver: Resolver;
  readonly clock: Clock;
  /** Real time, for reservations (Postfix's pace is real time even when the plan's clock is accelerated). */
  readonly realNow?: () => number;
  readonly log: Logger;
}

export class Router {
  readonly #o: RouterOptions;
  readonly #realNow: () => number;
  readonly #providers: ProviderFinder;
  readonly #reserved = new Map<number, number>();
  readonly #byKey = new Map<string, Reservation[]>();
  readonly #queue: Reservation[] = [];
  /** Recipients whose routed message waits deferred in Postfix, and its lane: the retry is not new volume. */
  readonly #deferred = new Map<string, number>();
  /** The plan-local date and the instants it spans: time-zone arithmetic once a day, not per lookup. */
  #day = { date: '', from: 0, until: 0 };
  readonly counters: RouterCounters = { lookups: 0, lanes: 0, overflow: 0, deferred: 0, notFound: 0, temp: 0, deliveries: 0, resolverFailures: 0 };
  /** When the last error line about resolver failures went out (real time), and the failures since. */
  #resolverLogged = { at: -Infinity, unsaid: 0 };

  constructor(options: RouterOptions) {
    this.#o = options;
    this.#realNow = options.realNow ?? Date.now;
    this.#providers = new ProviderFinder(options.plan, options.resolver);
  }

  /** Recipients with a deferred routed message (from the store, after a restart). */
  rememberDeferred(rows: ReadonlyArray<{ recipient: string; lane_id: number }>): void {
    for (const r of rows) this.#deferred.set(r.recipient, r.lane_id);
  }

  /** The plan-local date at `now`. */
  dateAt(now: number): string {
    const d = this.#day;
    if (now >= d.from && now < d.until) return d.date;
    const tz = this.#o.plan.timezone;
    const date = localTime(now, tz).date;
    this.#day = { date, from: zonedInstant(date, 0, tz), until: zonedInstant(addDays(date, 1), 0, tz) };
    return date;
  }

  /** Room units held by lookups not yet seen in the log, per lane. */
  reservedOf(laneId: number): number {
    this.#expire();
    return this.#reserved.get(laneId) ?? 0;
  }

  /** Answers one socketmap request (`NAME KEY`) with the whole reply text. */
  async lookup(name: string, key: string): Promise<string> {
    if (name !== this.#o.settings.mapName) return 'NOTFOUND ';
    const rcpt = key.trim().toLowerCase();
    const at = rcpt.lastIndexOf('@');
    // Domain-only keys, `*`, and bare local parts: warmup routes per recipient address only.
    if (at <= 0 || at === rcpt.length - 1) { this.counters.notFound++; return 'NOTFOUND '; }
    this.counters.lookups++;
    const now = this.#o.clock.now();
    let provider;
    try {
      provider = await this.#providers.find(rcpt.slice(at + 1), now);
    } catch (e) {
      this.counters.temp++;
      this.#o.log.warn({ err: e, rcpt }, 'MX roll-up lookup failed; Postfix will ask again');
      return `TEMP warmup: DNS lookup for ${rcpt.slice(at + 1)} failed`;
    }
    if (!provider) { this.counters.notFound++; return 'NOTFOUND '; }
    const decision = await this.decide(provider.name, rcpt, now);
    return answerFor(decision);
  }

  /** The routing decision for a recipient of `provider` at `now`, with its reservation. */
  async decide(provider: string, rcpt: string, now: number): Promise<RouteDecision> {
    this.#expire();
    const date = this.dateAt(now);
    const lanes = await this.#o.lanes.routableLanes(provider, now, date);
    const rooms: LaneRoom[] = lanes.map((l) => ({
      laneId: l.laneId, ip: l.ip, transport: transportName(this.#o.settings, l.ip), open: l.open, target: l.target, carried: l.carried,
      reserved: this.#reserved.get(l.laneId) ?? 0, hourCap: hourCap(l.target, l.windowMs, this.#o.plan.delivery.catchUpFactor, l.rateFactor), hourCarried: l.hourCarried,
    }));
    const prefer = this.#deferred.get(rcpt);
    const d = chooseRoute(rooms, this.#o.settings.overflow, prefer);
    if (d.kind === 'lane') {
      this.counters.lanes++;
      if (d.laneId !== prefer) this.#reserve(d.laneId, rcpt, date);
    } else if (d.kind === 'overflow') this.counters.overflow++;
    else this.counters.deferred++;
    return d;
  }

  /**
   * Postfix's rewrite service could not ask transport_maps: while that lasts every recipient waits
   * deferred ("address resolver failure"), so it is said at error level, once a minute at most.
   */
  #resolverFailure(): void {
    this.counters.resolverFailures++;
    const r = this.#resolverLogged;
    r.unsaid++;
    const now = this.#realNow();
    if (now - r.at < RESOLVER_FAILURE_LOG_MS) return;
    this.#o.log.error({ failures: r.unsaid, total: this.counters.resolverFailures, socketmap: this.#o.settings.listen },
      'Postfix could not ask warmup for transports (trivial-rewrite: "transport_maps lookup failure"): its mail waits deferred with "address resolver failure" until it can. '
      + 'Check that transport_maps names the address warmup listens on (warmup postfix PLAN --main) and, on a unix socket, that the rewrite service is not chrooted. '
      + 'Lines from while warmup was down say the same.');
    r.at = now;
    r.unsaid = 0;
  }

  /**
   * Handles one batch of Postfix's log lines: each delivery of a warmup
   * transport becomes an attempt of its lane; trivial-rewrite failing to ask
   * transport_maps is counted and reported; every other line is ignored.
   * The deliveries and the position after the batch are recorded together.
   */
  async onLogLines(lines: readonly string[], position: LogPosition): Promise<number> {
    const now = this.#o.clock.now();
    const ds: RoutedDelivery[] = [];
    for (const line of lines) {
      const d = parseDeliveryLine(line, this.#o.settings.syslogPrefix);
      if (!d) {
        if (isTransportMapsFailure(line)) this.#resolverFailure();
        continue;
      }
      const domain = d.recipient.slice(d.recipient.lastIndexOf('@') + 1);
      let provider;
      try {
        provider = await this.#providers.find(domain, now);
      } catch (e) {
        // The delivery happened; without its provider it cannot be put on a lane. Say so rather than guess.
        this.#o.log.warn({ err: e, rcpt: d.recipient, queue_id: d.queueId }, 'delivery of a warmup transport not recorded: provider of the domain unknown (DNS failed)');
        continue;
      }
      const laneId = provider ? this.#o.lanes.laneIdOf(d.ip, provider.name) : null;
      if (laneId === null) {
        this.#o.log.warn({ ip: d.ip, rcpt: d.recipient, queue_id: d.queueId }, 'delivery through a warmup transport for a recipient of no lane of the plan: not recorded');
        continue;
      }
      const res = this.#take(laneId, d.recipient);
      const r = d.result;
      ds.push({
        laneId, day: res?.day ?? this.dateAt(now), queueId: d.queueId, recipient: d.recipient, at: now,
        mxHost: d.relayHost, mxAddress: d.relayAddress, outcome: r.outcome, code: r.code, enhanced: r.enhanced, reply: r.text, stage: r.stage,
        status: d.status, mailboxSignal: r.mailboxSignal, greylisting: r.greylisting, rejection: r.rejection,
      });
      if (d.status === 'deferred') this.#deferred.set(d.recipient, laneId);
      else this.#deferred.delete(d.recipient);
    }
    await this.#o.lanes.recordRouted(ds, position, now);
    this.counters.deliveries += ds.length;
    return ds.length;
  }

  #reserve(laneId: number, rcpt: string, day: string): void {
    const r: Reservation = { laneId, key: `${laneId}|${rcpt}`, day, expires: this.#realNow() + this.#o.settings.reservationTtlMs, live: true };
    this.#queue.push(r);
    const list = this.#byKey.get(r.key);
    if (list) list.push(r); else this.#byKey.set(r.key, [r]);
    this.#reserved.set(laneId, (this.#reserved.get(laneId) ?? 0) + 1);
  }

  /** Consumes the oldest live reservation of (lane, recipient), if any. */
  #take(laneId: number, rcpt: string): Reservation | null {
    const key = `${laneId}|${rcpt}`;
    const list = this.#byKey.get(key);
    const r = list?.shift();
    if (!r) return null;
    if (list!.length === 0) this.#byKey.delete(key);
    r.live = false;
    this.#reserved.set(laneId, Math.max(0, (this.#reserved.get(laneId) ?? 0) - 1));
    return r;
  }

  /** Drops lapsed reservations (their lookup never became a delivery: queue manager deferral, message deleted). */
  #expire(): void {
    const now = this.#realNow();
    while (this.#queue.length > 0 && this.#queue[0]!.expires <= now) {
      const r = this.#queue.shift()!;
      if (!r.live) continue;
      r.live = false;
      const list = this.#byKey.get(r.key);
      if (list) {
        const i = list.indexOf(r);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.#byKey.delete(r.key);
      }
      this.#reserved.set(r.laneId, Math.max(0, (this.#reserved.get(r.laneId) ?? 0) - 1));
    }
    // Consumed reservations stay in the queue until they reach its head; bound its size.
    if (this.#queue.length > 100_000) this.#queue.splice(0, this.#queue.findIndex((r) => r.live) >>> 0);
  }
}
