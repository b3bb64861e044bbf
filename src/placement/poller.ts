/**
 * Reads the seed mailboxes over IMAP on its own timer and records where each
 * warm-up message landed (inbox, spam, another folder, or missing), how long
 * it took to arrive, and optionally engages with it. Nothing here can stop or
 * slow sending: every fault is caught, recorded and retried with backoff.
 */
import type { Plan, Provider, Seed } from '../plan/types.js';
import type * as q from '../store/queries.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { engagementActions, engagementDue, jitteredPause, type Random } from './engage.js';
import { startLoop, type Loop } from '../util/loop.js';
import { backoffMs, classifyImapError, type ImapFault } from './faults.js';
import { searchOrder } from './folders.js';
import { connectImap, readImapPassword, type ImapConnect, type ImapSession, type ImapTimeouts } from './imap.js';

export interface PlacementPollerOptions {
  readonly plan: Plan;
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  /** Opens IMAP sessions (default: imapflow). */
  readonly connect?: ImapConnect;
  /** Engagement choices (default Math.random; pass `seededRandom(n)` to replay). */
  readonly random?: Random;
  /** Where `password_env` is looked up (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** The wall clock that the IMAP servers' INTERNALDATE follows (default Date.now). */
  readonly wallClock?: () => number;
  readonly timeouts?: Partial<ImapTimeouts>;
  /** Mailboxes polled at the same time (default 4). */
  readonly concurrency?: number;
  /** Longest backoff after repeated failures, plan time (default 1h; never under the poll interval). */
  readonly maxBackoffMs?: number;
  /**
   * Least real time between two polls (default 1 s): a manual clock has no real
   * delays and a fast simulation very short ones; IMAP servers should not feel that.
   */
  readonly minRealGapMs?: number;
}

export interface PlacementCounts {
  inbox: number;
  spam: number;
  other: number;
  missing: number;
}

/** What one poll did to one mailbox. */
export interface MailboxPoll {
  readonly address: string;
  readonly provider: string;
  /** ok: searched; idle: nothing to look for; backoff: skipped after failures; error: this poll failed. */
  readonly status: 'ok' | 'idle' | 'backoff' | 'error';
  /** Messages looked for. */
  readonly pending: number;
  readonly placed: PlacementCounts;
  readonly engaged: number;
  readonly error: ImapFault | null;
  /** Failures in a row (0 after a success). */
  readonly failures: number;
  /** Plan time of the next try when backing off. */
  readonly retryAt: number | null;
}

export interface PollSummary {
  readonly at: number;
  readonly mailboxes: readonly MailboxPoll[];
  readonly placed: PlacementCounts;
  /** Lane-days whose spam placement rate went above the threshold in this poll (each has an event). */
  readonly crossings: readonly q.SpamCrossing[];
}

interface MailboxState {
  failures: number;
  retryAt: number | null;
  lastCode: string | null;
}

/** Searched before the oldest pending message's creation: IMAP's SINCE is a date without time or zone. */
const SINCE_MARGIN_MS = 86_400_000;

const DEFAULT_TIMEOUTS: ImapTimeouts = { connectMs: 30_000, greetingMs: 16_000, socketMs: 120_000 };

/**
 * Polls every seed mailbox that has IMAP access.
 *
 * @example
 * const poller = new PlacementPoller({ plan, store, clock, log });
 * poller.start();          // polls now, then every plan.imap.pollIntervalMs (plan time)
 * await poller.stop();     // waits for a poll in progress, dropping its connections
 */
export class PlacementPoller {
  readonly #o: PlacementPollerOptions;
  readonly #log: Logger;
  readonly #connect: ImapConnect;
  readonly #random: Random;
  readonly #timeouts: ImapTimeouts;
  readonly #mailboxes: ReadonlyArray<{ seed: Seed; provider: Provider }>;
  readonly #state = new Map<string, MailboxState>();
  readonly #sessions = new Set<ImapSession>();
  #loop: Loop | null = null;
  /** Set by stop(): a poll in progress ends at the next mailbox / message. */
  #aborting = false;
  #wake: (() => void) | null = null;
  #abort = new AbortController();

  constructor(options: PlacementPollerOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'placement' });
    this.#connect = options.connect ?? connectImap;
    this.#random = options.random ?? Math.random;
    this.#timeouts = Object.freeze({ ...DEFAULT_TIMEOUTS, ...options.timeouts });
    this.#mailboxes = Object.freeze(options.plan.providers.flatMap((provider) => provider.seeds.filter((s) => s.imap !== null).map((seed) => ({ seed, provider }))));
  }

  /** Seed mailboxes with IMAP access; the daemon creates a poller only when this is non-zero. */
  get mailboxCount(): number {
    return this.#mailboxes.length;
  }

  /** Polls now and then every `imap.poll_interval` of plan time, until stop(). Errors are logged, never thrown. */
  start(): void {
    if (this.#loop) return;
    this.#aborting = false;
    if (this.#abort.signal.aborted) this.#abort = new AbortController();
    this.#loop = startLoop({
      run: async () => { await this.pollOnce(); },
      delayMs: () => Math.max(this.#o.minRealGapMs ?? 1000, this.#o.clock.realDelay(this.#o.plan.imap.pollIntervalMs)),
      onError: (e) => this.#log.error({ err: e }, 'placement poll failed'),
    });
  }

  /** Stops the timer, drops open IMAP connections and waits for a poll in progress to end. */
  async stop(): Promise<void> {
    const loop = this.#loop;
    this.#loop = null;
    this.#aborting = true;
    this.#wake?.();
    this.#abort.abort();
    for (const s of this.#sessions) s.abort();
    await loop?.stop();
  }

  /** One pass over every mailbox. Never rejects for an IMAP fault (those are in the summary). */
  async pollOnce(): Promise<PollSummary> {
    const { store, plan, clock } = this.#o;
    const at = clock.now();
    // A mailbox backing off is not searched this poll: its messages are not read either.
    const due = this.#mailboxes.filter((m) => !this.#backingOff(m.seed.address, at));
    const pending = await store.pendingPlacements(plan.name, due.map((m) => m.seed.address));
    const byMailbox = new Map<string, q.PendingPlacement[]>();
    for (const p of pending) byMailbox.set(p.recipient, [...(byMailbox.get(p.recipient) ?? []), p]);

    const results: MailboxPoll[] = [];
    const crossings: q.SpamCrossing[] = [];
    const queue = [...this.#mailboxes];
    const worker = async (): Promise<void> => {
      for (let m = queue.shift(); m; m = queue.shift()) {
        if (this.#aborting) break;
        const r = await this.#pollMailbox(m.seed, m.provider, byMailbox.get(m.seed.address) ?? [], at);
        results.push(r.poll);
        crossings.push(...r.crossings);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.#o.concurrency ?? 4) }, worker));
    const placed = zero();
    for (const r of results) for (const k of Object.keys(placed) as Array<keyof PlacementCounts>) placed[k] += r.placed[k];
    const order = new Map(this.#mailboxes.map((m, i) => [m.seed.address, i]));
    results.sort((a, b) => order.get(a.address)! - order.get(b.address)!);
    return { at, mailboxes: results, placed, crossings };
  }

  /** Whether a mailbox is waiting out its backoff at `at` (the poll's start). */
  #backingOff(address: string, at: number): boolean {
    const retryAt = this.#state.get(address)?.retryAt ?? null;
    return retryAt !== null && at < retryAt;
  }

  async #pollMailbox(seed: Seed, provider: Provider, pending: q.PendingPlacement[], at: number): Promise<{ poll: MailboxPoll; crossings: q.SpamCrossing[] }> {
    const { store, plan, clock } = this.#o;
    const access = seed.imap!;
    const log = this.#log.child({ mailbox: seed.address, provider: provider.name });
    const state = this.#state.get(seed.address) ?? { failures: 0, retryAt: null, lastCode: null };
    this.#state.set(seed.address, state);
    const now = clock.now();
    const base = { address: seed.address, provider: provider.name, pending: pending.length, placed: zero(), engaged: 0 };
    const poll = (status: MailboxPoll['status'], extra: Partial<MailboxPoll> = {}): MailboxPoll => ({
      ...base, status, error: null, failures: state.failures, retryAt: state.retryAt, ...extra,
    });
    if (this.#backingOff(seed.address, at)) return { poll: poll('backoff'), crossings: [] };
    const engagement = provider.engagement;
    const dueFirst = engagement ? await store.dueEngagements([seed.address], now, 1) : [];
    if (pending.length === 0 && dueFirst.length === 0) return { poll: poll('idle'), crossings: [] };

    let session: ImapSession | null = null;
    try {
      const password = await readImapPassword(access, this.#o.env);
      session = await this.#connect(access, password, this.#timeouts, this.#abort.signal);
      this.#sessions.add(session);
      const folders = searchOrder(await session.folders());
      const inboxPath = folders.find((f) => f.kind === 'inbox')?.path ?? 'INBOX';

      // Look for each message in INBOX, then spam, then the rest; stop looking once found.
      const left = new Map(pending.map((p) => [p.message_id, p]));
      const records: q.PlacementRecord[] = [];
      const checkedAt = clock.now();
      const since = this.#searchSince(pending, checkedAt);
      for (const folder of folders) {
        if (left.size === 0) break;
        for (const f of await session.find(folder.path, [...left.keys()], since)) {
          const p = left.get(f.messageId);
          if (!p) continue;
          left.delete(f.messageId);
          records.push({
            messageId: p.id, laneId: p.lane_id, day: p.day, mailbox: seed.address, folder: folder.path, placement: folder.kind,
            arrivedAfterMs: this.#arrivedAfter(f.arrivedAt, p.created_at, checkedAt), checkedAt,
            engageAt: engagementDue(engagement, folder.kind, checkedAt, this.#random),
          });
        }
      }
      // Missing counts from acceptance: a message deferred for hours is not late in the mailbox.
      for (const p of left.values()) {
        if (checkedAt - (p.finished_at ?? p.created_at) < plan.imap.missingAfterMs) continue;
        records.push({ messageId: p.id, laneId: p.lane_id, day: p.day, mailbox: seed.address, folder: null, placement: 'missing', arrivedAfterMs: null, checkedAt, engageAt: null });
      }
      const thresholds = new Map(plan.providers.map((pr) => [pr.name, pr.thresholds.maxSpamRate]));
      const { crossings } = await store.recordPlacements(plan.name, records, (name) => thresholds.get(name) ?? plan.policy.thresholds.maxSpamRate);
      for (const r of records) base.placed[r.placement]++;
      for (const c of crossings) {
        log.warn({ ip: c.ip, day: c.day, inbox: c.inbox, spam: c.spam, spamRate: c.rate, maxSpamRate: c.threshold, event: 'placement_spam' },
          `spam placement ${(c.rate * 100).toFixed(1)}% on ${c.ip} -> ${c.provider} (${c.day}) above ${(c.threshold * 100).toFixed(1)}%`);
      }
      if (records.length > 0) log.info({ ...base.placed, pending: pending.length, event: 'placement' }, `placed ${records.length} of ${pending.length} message(s)`);

      if (engagement) base.engaged = await this.#engage(session, seed.address, folders, inboxPath, log);
      await this.#recovered(state, seed, provider, log);
      return { poll: poll('ok'), crossings };
    } catch (e) {
      const fault = classifyImapError(e);
      // Dropped by stop(): not the mailbox's fault, no backoff.
      if (this.#aborting) return { poll: poll('error', { error: fault }), crossings: [] };
      await this.#failed(state, fault, seed, provider, log);
      return { poll: poll('error', { error: fault }), crossings: [] };
    } finally {
      if (session) {
        this.#sessions.delete(session);
        await session.close().catch(() => undefined);
      }
    }
  }

  /** Engages with due placements of one mailbox, paced: one message at a time, a random pause between. */
  async #engage(session: ImapSession, mailbox: string, folders: ReturnType<typeof searchOrder>, inboxPath: string, log: Logger): Promise<number> {
    const { store, clock } = this.#o;
    const provider = this.#mailboxes.find((m) => m.seed.address === mailbox)!.provider;
    const e = provider.engagement!;
    const due = await store.dueEngagements([mailbox], clock.now(), e.maxPerPoll);
    let engaged = 0;
    for (const [i, d] of due.entries()) {
      if (this.#aborting) break;
      if (i > 0) await this.#sleep(clock.realDelay(jitteredPause(e.paceMs, this.#random)));
      const kind = folders.find((f) => f.path === d.folder)?.kind ?? d.placement;
      const done = await session.engage(d.folder, d.message_id, engagementActions(e, kind, session.canMove), inboxPath);
      await store.markEngaged(d.id, done.length > 0 ? done.join(',') : 'none: not in the folder any more', clock.now());
      if (done.length > 0) engaged++;
      log.info({ messageId: d.message_id, folder: d.folder, done, event: 'engaged' }, `engaged: ${done.join(', ') || 'message gone'}`);
    }
    return engaged;
  }

  async #failed(state: MailboxState, fault: ImapFault, seed: Seed, provider: Provider, log: Logger): Promise<void> {
    const { store, plan, clock } = this.#o;
    const now = clock.now();
    state.failures++;
    const wait = backoffMs(state.failures, plan.imap.pollIntervalMs, this.#o.maxBackoffMs ?? 3_600_000, fault.retryAfterMs);
    state.retryAt = now + wait;
    log.warn({ code: fault.code, error: fault.message, failures: state.failures, retryInMs: wait, event: 'imap_error' },
      `IMAP ${seed.imap!.host}:${seed.imap!.port} failed (${fault.code}): ${fault.message}; retry in ${Math.round(wait / 1000)}s`);
    // One event per streak (and per change of cause), not one per retry.
    if (state.failures === 1 || state.lastCode !== fault.code) {
      await store.addEvent({
        at: now, plan: plan.name, provider: provider.name, kind: 'imap_error', actor: 'placement',
        cause: { mailbox: seed.address, host: seed.imap!.host, port: seed.imap!.port, code: fault.code, error: fault.message, failures: state.failures, retryAt: state.retryAt },
      }).catch((err: unknown) => log.error({ err }, 'could not record the IMAP failure'));
    }
    state.lastCode = fault.code;
  }

  async #recovered(state: MailboxState, seed: Seed, provider: Provider, log: Logger): Promise<void> {
    if (state.failures === 0) return;
    const { store, plan, clock } = this.#o;
    log.info({ failures: state.failures, event: 'imap_recovered' }, `IMAP mailbox reachable again after ${state.failures} failure(s)`);
    await store.addEvent({ at: clock.now(), plan: plan.name, provider: provider.name, kind: 'imap_recovered', actor: 'placement', cause: { mailbox: seed.address, failures: state.failures } });
    state.failures = 0;
    state.retryAt = null;
    state.lastCode = null;
  }

  /**
   * The date from which a mailbox's folders are searched: none of our pending messages can
   * have arrived before the oldest of them was created. Its plan time is taken to the
   * servers' wall clock (as in #arrivedAfter), less a day for the date-only, time-zone-free
   * SINCE of IMAP and for clock skew. Undefined when nothing is pending (nothing is searched).
   */
  #searchSince(pending: readonly q.PendingPlacement[], now: number): Date | undefined {
    if (pending.length === 0) return undefined;
    const oldest = Math.min(...pending.map((p) => p.created_at));
    return new Date(this.#wallOf(oldest, now) - SINCE_MARGIN_MS);
  }

  /** Plan time `t` on the wall clock the IMAP servers stamp arrivals with. */
  #wallOf(t: number, now: number): number {
    return (this.#o.wallClock ?? Date.now)() - (now - t) / this.#speed();
  }

  /** How many times faster than real time plan time runs (1 for a manual clock). */
  #speed(): number {
    const real = this.#o.clock.realDelay(1000);
    return real > 0 ? 1000 / real : 1;
  }

  /**
   * Arrival delay in plan time. The server stamps arrival on the wall clock, the
   * message's created_at is plan time: the wall-clock age of the arrival is
   * scaled by the clock's speed and taken back from plan "now", so an
   * accelerated simulation still gets its delays in plan time.
   */
  #arrivedAfter(arrivedAt: number | null, createdAt: number, now: number): number | null {
    if (arrivedAt === null) return null;
    const wall = (this.#o.wallClock ?? Date.now)();
    return Math.max(0, Math.round(now - (wall - arrivedAt) * this.#speed() - createdAt));
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.#aborting) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.#wake = null; resolve(); }, ms);
      this.#wake = () => { clearTimeout(t); this.#wake = null; resolve(); };
    });
  }
}

function zero(): PlacementCounts {
  return { inbox: 0, spam: 0, other: 0, missing: 0 };
}
