/**
 * A daemon's membership of a fleet: several `warmup start` processes run one
 * plan against one database, each sending from the IPs it holds a lease on.
 *
 * Which IPs a daemon wants: those the plan assigns to its host (`ips[].host`),
 * and those assigned to no host that it can bind (floating addresses). It
 * takes each with a lease (host, pid, heartbeat) and renews them every
 * heartbeat on a timer of its own (a slow tick never delays it). Every
 * quarter heartbeat it also looks for leases whose heartbeat stopped: it
 * reports them unattended (one event per silent daemon, once across the
 * fleet) and takes over those it wants. Times here are wall-clock: leases are
 * about real processes, not the (possibly accelerated) plan clock.
 */
import type { Plan } from '../plan/types.js';
import type { Store } from '../store/store.js';
import type { IpLeaseResult, IpLeaseView } from '../store/lease.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';

export interface FleetOptions {
  readonly store: Store;
  readonly plan: Plan;
  /** This daemon's host name in the fleet (`warmup start --host`, default the machine's). */
  readonly host: string;
  readonly pid: number;
  /** Random per process: only this daemon renews or releases its leases. */
  readonly token: string;
  /** The IPs this daemon wants (see {@link wantedIps}). */
  readonly wanted: readonly string[];
  /** Real ms between heartbeats. */
  readonly heartbeatMs: number;
  /** Whether a pid of this machine runs (a dead pid's leases of this host are taken at once). */
  readonly alive: (pid: number) => boolean;
  readonly clock: Clock;
  readonly log: Logger;
  /** Default Date.now. */
  readonly realNow?: () => number;
}

/** A lease whose heartbeat is older than this many heartbeats is stale (reported unattended, taken over). */
export const STALE_HEARTBEATS = 1.5;

/**
 * A daemon whose last renewal is older than this many heartbeats sends from none of its IPs until
 * one succeeds: before the others may take them over (STALE_HEARTBEATS), with a quarter of a
 * heartbeat to spare for the hosts' clocks.
 */
export const OVERDUE_HEARTBEATS = 1.25;

const NONE: ReadonlySet<string> = new Set();

/**
 * The IPs a host sends from: those the plan assigns to it, and the floating
 * ones (no `host`) it can bind. Host names compare case-insensitively.
 */
export async function wantedIps(plan: Plan, host: string, canBind: (ip: string) => Promise<boolean>): Promise<string[]> {
  const me = host.toLowerCase();
  const out: string[] = [];
  for (const ip of plan.ips) {
    if (ip.hosts ? ip.hosts.includes(me) : await canBind(ip.address)) out.push(ip.address);
  }
  return out;
}

/** Who holds the IPs a refused start wanted: `host mta1 as pid 4242 (last heartbeat 2s ago)`, one per holder. */
export function describeHolders(held: IpLeaseResult['held'], realNow: number): string {
  const by = new Map<string, { h: IpLeaseView; ips: string[] }>();
  for (const { ip, holder } of held) {
    const key = `${holder.host} ${holder.pid}`;
    const e = by.get(key) ?? { h: holder, ips: [] };
    e.ips.push(ip);
    by.set(key, e);
  }
  return [...by.values()].map(({ h, ips }) => `host ${h.host} as pid ${h.pid} (last heartbeat ${Math.round((realNow - h.heartbeatAt) / 1000)}s ago${by.size > 1 ? `: ${ips.join(', ')}` : ''})`).join('; ');
}

export class FleetMember {
  readonly #o: FleetOptions;
  readonly #now: () => number;
  readonly #held = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #beating: Promise<void> | null = null;
  #renewedAt = 0;
  #onGain: (ips: string[]) => Promise<void> = async () => {};
  #onLoseAll: () => void = () => {};

  constructor(options: FleetOptions) {
    this.#o = options;
    this.#now = options.realNow ?? Date.now;
  }

  get host(): string { return this.#o.host; }
  /**
   * The IPs this daemon sends from now: none while its last successful renewal is overdue (the
   * database failed or hung, the process stalled), since the others may soon take them over.
   */
  get held(): ReadonlySet<string> { return this.overdue ? NONE : this.#held; }
  /** The IPs this daemon holds a lease on (as of its last renewal), overdue or not. */
  get leased(): ReadonlySet<string> { return this.#held; }
  /** Whether the last successful renewal is older than {@link OVERDUE_HEARTBEATS} heartbeats. */
  get overdue(): boolean { return this.#now() - this.#renewedAt > this.#o.heartbeatMs * OVERDUE_HEARTBEATS; }
  get staleMs(): number { return this.#o.heartbeatMs * STALE_HEARTBEATS; }

  /** Takes the leases of the wanted IPs no live daemon holds (before anything is sent). */
  async join(): Promise<IpLeaseResult> {
    const r = await this.#acquire(this.#o.wanted);
    this.#renewedAt = this.#now();
    return r;
  }

  /**
   * Starts the heartbeat, or gives a running one its hooks. `onGain` runs for
   * IPs taken over later (before any is sent from: the daemon recovers their
   * messages left in flight); `onLoseAll` when another daemon took every IP
   * of this one over. `warmup start` starts it hookless right after
   * {@link join}, so the leases stay renewed through its start-up (DNSBL
   * checks may take seconds); IPs gained before the hooks are adopted by the
   * daemon's start with the others.
   */
  start(hooks: { onGain: (ips: string[]) => Promise<void>; onLoseAll: () => void } = { onGain: async () => {}, onLoseAll: () => {} }): void {
    this.#onGain = hooks.onGain;
    this.#onLoseAll = hooks.onLoseAll;
    if (this.#timer) return;
    this.#timer = setInterval(() => { void this.beat(); }, Math.max(10, Math.floor(this.#o.heartbeatMs / 4)));
    this.#timer.unref?.();
  }

  /**
   * One pass: renew (every heartbeat), report silent daemons, take over what
   * this daemon wants and nobody attends. Passes never overlap; a failing one
   * is logged and the next one tries again.
   */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().catch((e: unknown) => this.#o.log.error({ err: e }, 'fleet heartbeat failed')).finally(() => { this.#beating = null; });
    return this.#beating;
  }

  /** Stops the heartbeat and gives the leases up (a clean stop). */
  async leave(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#beating;
    await this.#o.store.releaseIpLeases(this.#o.plan.name, this.#o.token);
    this.#held.clear();
  }

  async #beat(): Promise<void> {
    const { store, plan, log, heartbeatMs } = this.#o;
    const now = this.#now();
    if (now - this.#renewedAt >= heartbeatMs) {
      let renewed: string[];
      try {
        renewed = await store.renewIpLeases(plan.name, this.#o.token, now);
      } catch (e) {
        const overdue = this.#now() - this.#renewedAt > heartbeatMs * OVERDUE_HEARTBEATS;
        log.error({ err: e, ips: [...this.#held], lastRenewedAgoMs: this.#now() - this.#renewedAt },
          overdue ? 'IP lease renewal failed: not sending from these IPs until it succeeds (the fleet may take them over)' : 'IP lease renewal failed: retrying');
        return;
      }
      const still = new Set(renewed);
      if (this.overdue && still.size > 0) log.info({ ips: [...still] }, 'IP leases renewed again: sending from these IPs again');
      this.#renewedAt = now;
      const lost = [...this.#held].filter((ip) => !still.has(ip));
      for (const ip of lost) this.#held.delete(ip);
      if (lost.length > 0) log.error({ ips: lost }, 'another daemon took over IPs of this one (its heartbeat was late): no longer sending from them');
      if (this.#held.size === 0 && lost.length > 0) { this.#onLoseAll(); return; }
    }
    const reported = await store.reportUnattended(plan.name, now, this.staleMs, this.#o.clock.now(), this.#o.host);
    if (reported.length > 0) log.warn({ ips: reported }, 'IPs unattended: their daemon stopped heartbeating');
    const missing = this.#o.wanted.filter((ip) => !this.#held.has(ip));
    if (missing.length > 0) await this.#acquire(missing);
  }

  async #acquire(ips: readonly string[]): Promise<IpLeaseResult> {
    const { store, plan, log } = this.#o;
    const now = this.#now();
    const r = await store.acquireIpLeases(plan.name, ips, {
      host: this.#o.host, pid: this.#o.pid, token: this.#o.token, now, staleMs: this.staleMs, alive: this.#o.alive, clockNow: this.#o.clock.now(),
    });
    const gained = r.taken.map((t) => t.ip).filter((ip) => !this.#held.has(ip));
    if (gained.length === 0) return r;
    const from = r.taken.filter((t) => t.from !== null);
    if (from.length > 0) log.warn({ ips: from.map((t) => t.ip), from: from.map((t) => `${t.from!.host}/${t.from!.pid}`) }, 'took over IPs whose daemon stopped heartbeating');
    // Only after its messages left in flight are recovered does an IP send again.
    if (this.#timer) await this.#onGain(gained);
    for (const ip of gained) this.#held.add(ip);
    return r;
  }
}
