/**
 * Dispatch: one send -> record -> observers, the pipeline every warm-up
 * message goes through (and, from `record` on, every delivery of real mail
 * that Postfix routed through a lane). Send: one delivery try, never awaited
 * by the tick, so a dead or slow MX holds up only its own lane. Record: the
 * attempt and the message's next state, committed in groups; a write that
 * keeps failing stops sending (fail closed). Observers: the reply-pattern
 * rules and breakers (whose actions `Shaping` carries out), the lane's hourly
 * counters, the debug line.
 */
import type { RuleEngine } from '../policy/rules.js';
import type * as q from '../store/queries.js';
import { WarmupError } from '../util/errors.js';
import type { DaemonOptions } from './daemon.js';
import { attemptRecord, localFailure, messageResult, observation, tokenOf, type SendingMessage } from './attempt.js';
import { deliverOnce, RouteCache, type DeliveryOutcome } from './deliver.js';
import { GroupWriter } from './group-writer.js';
import { hourKey, hourTally } from './hourly.js';
import { rollLaneHour, type Lane, type LaneBook, type OpenDay } from './lanes.js';
import type { Shaping } from './shaping.js';

/** A send due this tick, not yet in the database. */
export interface DueSend {
  readonly lane: Lane;
  readonly day: OpenDay;
  readonly recipient: string;
  readonly token: string;
  readonly messageId: string;
}

/** Tries of a failing attempt write after the first (100 ms doubling: about 3 s in all). */
const WRITE_RETRIES = 5;

export interface DispatchOptions extends Pick<DaemonOptions, 'plan' | 'store' | 'mailer' | 'resolver' | 'clock' | 'log'> {
  readonly lanes: LaneBook;
  readonly rules: RuleEngine;
  readonly shaping: Shaping;
  /** See DaemonOptions.writeGroupMs. */
  readonly writeGroupMs: number;
  /** Attempt writes kept failing: the daemon stops (with 'error'). */
  readonly onWriteFailure: () => void;
  /** Whether this daemon sends from the lane's IP now (in a fleet: holds its lease, renewals not overdue). */
  readonly sendsFrom: (lane: Lane) => boolean;
}

export class Dispatch {
  readonly #o: DispatchOptions;
  readonly #routes: RouteCache;
  /** SMTP results that arrive together are committed together. */
  readonly #attempts: GroupWriter<{ attempt: q.AttemptRecord; result: q.MessageResult }>;
  readonly #inFlight = new Set<Promise<void>>();
  /** Messages dispatched that have not obtained a connection slot yet. */
  readonly #notStarted = new Set<number>();
  /** SIGTERM's drain period is over: no send may open a connection any more. */
  #drainExpired = false;
  /** Attempt writes kept failing: nothing more is sent (fail closed). */
  #writeFailed = false;
  /** Earliest next_attempt_at of a deferred message, or null when none waits (skips idle queries). */
  #nextRetry: number | null = 0;

  constructor(options: DispatchOptions) {
    this.#o = options;
    this.#routes = new RouteCache(options.plan, options.resolver);
    this.#attempts = new GroupWriter((items) => options.store.recordAttempts(items), 256, options.writeGroupMs);
  }

  /** Sends in flight. */
  get size(): number { return this.#inFlight.size; }
  /** True once attempt writes kept failing. */
  get writeFailed(): boolean { return this.#writeFailed; }
  /** True when the last drain ended with sends under way (their sockets may still be open). */
  get drainExpired(): boolean { return this.#drainExpired; }

  /** Messages were queued for retry behind the daemon's back (recovered at start or adoption): look again. */
  wakeRetries(): void { this.#nextRetry = 0; }

  /** True when a deferred message may be due at `now` (false skips the retry query). */
  retryDue(now: number): boolean { return this.#nextRetry !== null && this.#nextRetry <= now; }

  /**
   * Records a tick's sends in one transaction (each in flight and counted as
   * sent) and only then dispatches them: a crash can at worst resend messages
   * that were in flight, never send one the database does not know.
   */
  async sendNew(due: readonly DueSend[], now: number): Promise<void> {
    if (due.length === 0) return;
    const rows = await this.#o.store.createMessages(due.map((d) => ({ laneId: d.lane.row.id, day: d.day.date, recipient: d.recipient, messageId: d.messageId })), now);
    const unsent: number[] = [];
    rows.forEach(({ id, seq }, i) => {
      const d = due[i]!;
      d.day.sent = Math.max(d.day.sent, seq);
      if (this.#o.sendsFrom(d.lane)) this.#send(d.lane, { id, day: d.day.date, seq, recipient: d.recipient, token: d.token, attempts: 0, createdAt: now });
      else unsent.push(id);
    });
    await this.#giveBack(unsent);
  }

  /**
   * Claims the retries due (at most `limits` per lane) and sends them. Expired messages (older
   * than `maxAgeMs`) are expired at claim time, never sent. Claimed messages are dispatched with
   * no await between, so a stop can never find them claimed but not in flight.
   */
  async sendRetries(now: number, limits: ReadonlyArray<{ laneId: number; limit: number }>, maxAgeMs: number): Promise<void> {
    const { claimed, expired } = await this.#o.store.claimDueRetries(now, limits, maxAgeMs);
    const unsent: number[] = [];
    for (const m of claimed) {
      const lane = this.#o.lanes.byId(m.lane_id)!;
      if (this.#o.sendsFrom(lane)) this.#send(lane, { id: m.id, day: m.day, seq: m.seq, recipient: m.recipient, token: tokenOf(m.message_id), attempts: m.attempts, createdAt: m.created_at });
      else unsent.push(m.id);
    }
    await this.#giveBack(unsent);
    if (expired > 0) this.#o.log.warn({ expired }, 'retries past their expiry were expired, not sent');
    // What waits next decides when to look again.
    this.#nextRetry = await this.#o.store.nextRetryDue();
  }

  /**
   * Records the deliveries of real mail that Postfix made through lanes (one
   * batch of its log, with the log position after it, in one transaction),
   * then lets the observers act on each exactly as on a seed send's reply.
   */
  async recordRouted(host: string, ds: readonly q.RoutedDelivery[], position: q.LogPosition, now: number): Promise<q.RoutedRecord[]> {
    const recs = await this.#o.store.recordRoutedDeliveries(this.#o.plan.name, host, ds, position, now);
    for (const [i, d] of ds.entries()) {
      const rec = recs[i]!;
      const lane = this.#o.lanes.byId(d.laneId);
      if (!lane) continue;
      if (rec.counted && lane.day?.date === rec.day) lane.day.sent = Math.max(lane.day.sent, rec.daySent);
      rollLaneHour(lane, hourKey(d.at));
      if (rec.counted) lane.hour.routed++;
      lane.hour[hourTally(d.status === 'sent', d.outcome, d.status === 'bounced')]++;
      lane.log.debug({ queue_id: d.queueId, rcpt: d.recipient, outcome: d.outcome, code: d.code, enhanced: d.enhanced, mx: d.mxHost, status: d.status, counted: rec.counted, reply: d.reply, source: 'routed' }, 'routed attempt');
      await this.#observe(lane, d.recipient, d, d.at, 'routed');
    }
    return recs;
  }

  /** Resolves when every send in flight has been recorded (simulation steps use it). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Lets sends in flight finish within `drainMs` (real time). When they do not, nothing new
   * opens from then on; sends that never got a connection go back to the queue (no attempt:
   * nothing was sent); those under way stay in flight for the next start.
   */
  async drain(drainMs: number): Promise<void> {
    const { store, clock, log } = this.#o;
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.allSettled([...this.#inFlight]).then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), drainMs).unref())),
    ]);
    clearTimeout(timer);
    if (drained) return;
    this.#drainExpired = true;
    const unsent = [...this.#notStarted];
    await store.returnUnsent(unsent, clock.now()).catch((e: unknown) => log.error({ err: e }, 'returning unsent messages failed'));
    log.warn({ in_flight: this.#inFlight.size - unsent.length, returned: unsent.length }, 'drain period over: unsent messages returned to the retry queue; sends under way are recorded as interrupted by the next start');
  }

  /**
   * Messages written for lanes whose IP this daemon no longer sends from go back to the retry
   * queue unsent. The tick chose the lanes before the write, and the write may have waited out a
   * network partition from the database: meanwhile the lease renewals went overdue, and another
   * daemon may have taken the IP over and be sending from it (it, or this daemon once its
   * renewals work again, sends them).
   */
  async #giveBack(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    const { store, clock, log } = this.#o;
    log.warn({ returned: ids.length }, 'messages written for IPs this daemon no longer sends from (lease renewals overdue or taken over meanwhile): returned to the retry queue unsent');
    await store.returnUnsent(ids, clock.now()).catch((e: unknown) => log.error({ err: e }, 'returning unsent messages failed'));
    this.wakeRetries();
  }

  /** Send -> record -> observers for one message, in the background. */
  #send(lane: Lane, m: SendingMessage): void {
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
        if (e instanceof WarmupError && e.code === 'NOT_SENT') return; // back in the queue (see drain)
        local = true;
        out = localFailure(e, clock.now());
      }
      const at = clock.now();
      const result = messageResult(out, m, at, plan.delivery.retry);
      const written = await this.#persist('attempt', () => this.#attempts.write({ attempt: attemptRecord(out, m, lane.row.id, local), result }));
      if (!written) return;
      // After the commit: a tick that read the next due retry before it must not hide this one.
      if (result.status === 'deferred' && result.nextAttemptAt !== null) {
        const next = result.nextAttemptAt;
        this.#nextRetry = this.#nextRetry === null ? next : Math.min(this.#nextRetry, next);
      }
      await this.#observe(lane, m.recipient, out, at, 'seed');
      lane.hour[hourTally(result.status === 'accepted', out.outcome, result.status === 'bounced')]++;
      lane.log.debug({ msg_id: m.id, seq: m.seq, rcpt: m.recipient, outcome: out.outcome, code: out.code, enhanced: out.enhanced, mx: out.mxHost, latency_ms: out.latencyMs, retry: m.attempts, status: result.status, reply: out.reply }, 'attempt');
    })().catch((e) => lane.log.error({ err: e, msg_id: m.id }, 'recording an attempt failed'))
      .finally(() => { lane.inFlight--; this.#inFlight.delete(p); this.#notStarted.delete(m.id); });
    this.#inFlight.add(p);
  }

  /** The rules and breakers read one answer; `Shaping` carries out what they decide. */
  async #observe(lane: Lane, recipient: string, answer: Parameters<typeof observation>[2], at: number, source: 'seed' | 'routed'): Promise<void> {
    const actions = this.#o.rules.observe(observation({ ip: lane.ip.address, provider: lane.provider.name }, recipient, answer), at);
    for (const a of actions) await this.#o.shaping.apply(a, lane, at, source);
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
          this.#o.onWriteFailure();
          return false;
        }
        this.#o.log.error({ err: e, what, retry: i + 1 }, 'a database write failed; retrying');
        await new Promise((r) => setTimeout(r, 100 * 2 ** i));
      }
    }
  }
}
