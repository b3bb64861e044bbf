/**
 * Forwards alertable events to the plan's webhook. It reads the `events`
 * table (so it sees changes made by any process: the daemon, the DNSBL
 * monitor, `warmup pause`), logs every alert at warn, and posts in the
 * background with exponential backoff. Nothing here blocks or throws into
 * the caller: sending mail never waits for a webhook.
 */
import type { Plan } from '../plan/types.js';
import type { EventRow } from '../store/events.js';
import { LateEventIds } from '../store/late-events.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { describeError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { alertPayload, backoffMs, signBody, type AlertPayload } from './alert.js';

/** The part of `fetch` the forwarder uses. */
export type FetchLike = (url: string, init: { method: 'POST'; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<{ ok: boolean; status: number }>;

/** Options for {@link AlertForwarder}. */
export interface AlertForwarderOptions {
  readonly plan: Plan;
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  /** Default: the global fetch. */
  readonly fetch?: FetchLike;
  /** Where `alerts.webhook.secret_env` is looked up. Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Retry policy in real milliseconds. Default: 1 s doubling to 5 min, 12 attempts (about half an hour). */
  readonly retry?: { readonly baseMs?: number; readonly maxMs?: number; readonly attempts?: number };
  /** Per-request timeout in real ms. Default 10 s. */
  readonly timeoutMs?: number;
  /** Forward events from this id on (exclusive); default: events at or after construction time. */
  readonly afterId?: number;
  /**
   * A fleet: the daemons share one cursor in the database (`advanceCursor`), so each event is
   * alerted by exactly one of them. Needs `afterId`.
   */
  readonly fleet?: { readonly host: string };
}

// A dead endpoint must not grow memory without bound.
const MAX_QUEUE = 1000;
const PAGE = 500;

/**
 * @example
 * const alerts = new AlertForwarder({ plan, store, clock, log });
 * setInterval(() => void alerts.poll(), 5_000); // or once per daemon tick
 * // on shutdown:
 * await alerts.idle(5_000); alerts.stop();
 */
export class AlertForwarder {
  readonly #o: AlertForwarderOptions;
  readonly #log: Logger;
  readonly #fetch: FetchLike;
  readonly #secret: string | null;
  readonly #retry: { baseMs: number; maxMs: number; attempts: number };
  readonly #since: number;
  #lastId: number | null;
  /**
   * PostgreSQL only: ids of the ranges this forwarder read (in a fleet: claimed) that were not
   * visible then; one that shows up later is alerted then (see late-events.ts).
   */
  readonly #late: LateEventIds | null;
  #polling: Promise<number> = Promise.resolve(0);
  #queue: AlertPayload[] = [];
  #failures = 0;
  #busy = false;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #waiters: Array<() => void> = [];

  constructor(options: AlertForwarderOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'alerts' });
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#retry = { baseMs: options.retry?.baseMs ?? 1000, maxMs: options.retry?.maxMs ?? 300_000, attempts: options.retry?.attempts ?? 12 };
    this.#since = options.clock.now();
    this.#lastId = options.afterId ?? null;
    this.#late = options.store.kind === 'postgres' ? new LateEventIds(options.store) : null;
    const webhook = options.plan.alerts.webhook;
    const envName = webhook?.secretEnv ?? null;
    this.#secret = envName ? (options.env ?? process.env)[envName] ?? null : null;
    if (envName && !this.#secret) {
      // Delivering unsigned beats losing alerts; receivers that verify will refuse, and this says why.
      this.#log.error({ env: envName }, 'alerts.webhook.secret_env names an unset variable: webhooks go out unsigned');
    }
  }

  /** Alerts waiting to be delivered (including one being retried). */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Reads events added since the last poll, logs the alertable ones at warn
   * and queues them for the webhook. Resolves with how many alerts it found;
   * never rejects (a database error is logged and retried next poll).
   */
  poll(): Promise<number> {
    this.#polling = this.#polling.then(() => this.#poll());
    return this.#polling;
  }

  /** Resolves when every queued alert is delivered or given up, or after `timeoutMs` real ms. */
  idle(timeoutMs = 10_000): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, timeoutMs);
      t.unref?.();
      function done() { clearTimeout(t); resolve(); }
      this.#waiters.push(done);
    });
  }

  /** Stops retrying; alerts still queued are logged as dropped. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#queue.length > 0) this.#log.error({ dropped: this.#queue.map((a) => a.id) }, 'stopped with undelivered alerts');
    this.#queue = [];
    this.#wake();
  }

  async #poll(): Promise<number> {
    let found = 0;
    const alert = (row: EventRow): void => {
      const a = alertPayload(row);
      if (!a) return;
      found++;
      this.#log.warn({ alert: { id: a.id, type: a.type, ip: a.ip, provider: a.provider, actor: a.actor, kind: a.kind } }, a.text);
      if (this.#o.plan.alerts.webhook && !this.#stopped) this.#enqueue(a);
    };
    try {
      if (this.#late && this.#late.size > 0) {
        // Events of a range read before, whose transactions committed after it was read.
        const late = await this.#late.arrived(Date.now());
        if (late.length > 0) {
          const rows = await this.#o.store.eventsAfter(this.#o.plan.name, { id: late[0]! - 1 }, late.at(-1)! - late[0]! + 1);
          for (const row of rows) if (late.includes(row.id)) alert(row);
        }
      }
      for (;;) {
        const fleet = this.#o.fleet && this.#lastId !== null ? this.#o.fleet : null;
        if (fleet) {
          const shared = await this.#o.store.fleetCursor(this.#o.plan.name, 'alerts');
          if (shared !== null && shared > this.#lastId!) this.#lastId = shared;
          // Behind where this daemon starts: events of a time no daemon forwarded (start.ts starts at
          // the shared cursor while another daemon runs), skipped as a lone daemon skips them.
          else if (shared !== null && shared < this.#lastId! && !await this.#o.store.advanceCursor(this.#o.plan.name, 'alerts', shared, this.#lastId!, fleet.host, this.#o.clock.now())) {
            this.#lastId = await this.#o.store.fleetCursor(this.#o.plan.name, 'alerts') ?? this.#lastId;
          }
        }
        const rows = await this.#o.store.eventsAfter(this.#o.plan.name, this.#lastId === null ? { at: this.#since } : { id: this.#lastId }, PAGE);
        if (fleet && rows.length > 0 && !await this.#o.store.advanceCursor(this.#o.plan.name, 'alerts', this.#lastId!, rows.at(-1)!.id, fleet.host, this.#o.clock.now())) {
          // Another daemon took these events (or the cursor stands elsewhere): go on from where it stands.
          this.#lastId = await this.#o.store.fleetCursor(this.#o.plan.name, 'alerts') ?? this.#lastId;
          continue;
        }
        const from = this.#lastId;
        for (const row of rows) {
          this.#lastId = row.id;
          alert(row);
        }
        if (this.#late && from !== null && rows.length > 0) await this.#late.note(from, this.#lastId!, Date.now());
        if (rows.length < PAGE) break;
      }
    } catch (err) {
      this.#log.error({ err: describeError(err) }, 'reading events for alerts failed');
    }
    this.#pump();
    return found;
  }

  #enqueue(alert: AlertPayload): void {
    if (this.#queue.length >= MAX_QUEUE) {
      const dropped = this.#queue.splice(this.#busy || this.#timer ? 1 : 0, 1)[0];
      this.#log.error({ dropped: dropped?.id }, 'alert queue full: dropped the oldest waiting alert');
    }
    this.#queue.push(alert);
  }

  // One delivery at a time, in event order: a failing endpoint fails for every alert alike.
  #pump(): void {
    if (this.#busy || this.#timer || this.#stopped) return;
    const alert = this.#queue[0];
    if (!alert) return this.#wake();
    this.#busy = true;
    void this.#deliver(alert).then((ok) => {
      this.#busy = false;
      if (this.#stopped) return;
      if (ok) {
        this.#queue.shift();
        this.#failures = 0;
        return this.#pump();
      }
      this.#failures++;
      if (this.#failures >= this.#retry.attempts) {
        this.#log.error({ alert: alert.id, attempts: this.#failures }, 'webhook delivery given up');
        this.#queue.shift();
        this.#failures = 0;
        return this.#pump();
      }
      const wait = backoffMs(this.#failures, this.#retry.baseMs, this.#retry.maxMs);
      this.#timer = setTimeout(() => { this.#timer = null; this.#pump(); }, wait);
      this.#timer.unref?.();
    });
  }

  async #deliver(alert: AlertPayload): Promise<boolean> {
    const webhook = this.#o.plan.alerts.webhook!;
    const body = JSON.stringify(alert);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'warmup-alerts',
      'x-warmup-event': alert.type,
      'x-warmup-delivery': String(alert.id),
    };
    if (this.#secret) headers['x-warmup-signature'] = signBody(body, this.#secret);
    try {
      const res = await this.#fetch(webhook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.#o.timeoutMs ?? 10_000) });
      if (res.ok) return true;
      this.#log.warn({ alert: alert.id, status: res.status, failures: this.#failures + 1 }, 'webhook answered with an error; will retry');
    } catch (err) {
      this.#log.warn({ alert: alert.id, err: describeError(err), failures: this.#failures + 1 }, 'webhook delivery failed; will retry');
    }
    return false;
  }

  #wake(): void {
    if (this.#queue.length > 0 && !this.#stopped) return;
    for (const w of this.#waiters.splice(0)) w();
  }
}
