/**
 * The DNSBL monitor: checks every plan IP in every zone, records each answer,
 * pauses a listed IP at every provider at once, notes de-listings, and (only
 * when the plan asks) resumes a de-listed IP after a cool-down. It changes
 * lanes through the store, so the daemon sees the change on its next tick.
 */
import { formatDuration } from '../plan/duration.js';
import type { Plan } from '../plan/types.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { describeError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { startLoop, type Loop } from '../util/loop.js';
import { DnsblChecker, type DnsblReport, type DnsblResult } from './dnsbl-check.js';
import type { Resolver } from './resolver.js';

/** Options for {@link DnsblMonitor}. */
export interface DnsblMonitorOptions {
  readonly plan: Plan;
  readonly store: Store;
  readonly resolver: Resolver;
  readonly clock: Clock;
  readonly log: Logger;
  /** Default: a checker over `resolver` paced at `plan.dnsbl.queriesPerSecond`. */
  readonly checker?: DnsblChecker;
  /**
   * A fleet: claims a periodic pass (`claimPeriodic` in src/store/lease.ts) so that exactly one
   * daemon makes each one, whichever; false means another daemon has made this period's pass.
   */
  readonly claim?: (now: number, intervalMs: number) => Promise<boolean>;
}

/** What one pass found and did. */
export interface DnsblPass {
  readonly at: number;
  readonly report: DnsblReport;
  /** IPs listed somewhere in a trusted zone. */
  readonly listed: readonly string[];
  /** IPs whose lanes this pass paused (lanes that were not paused for this listing already). */
  readonly paused: readonly string[];
  /** IPs no longer listed anywhere that were listed at the previous definitive answer. */
  readonly cleared: readonly string[];
  /** IPs resumed after the cool-down (`dnsbl.auto_resume_after`). */
  readonly resumed: readonly string[];
  /** Zones whose answers were not trusted this pass (broken, or health unknown). */
  readonly untrustedZones: readonly string[];
}

// Timers never wait longer than this: a machine that sleeps makes long
// timers fire late, and a manual clock is only noticed when we look.
const MAX_TIMER_MS = 30_000;
const MIN_TIMER_MS = 50;

/**
 * @example
 * const monitor = new DnsblMonitor({ plan, store, resolver, clock, log });
 * await monitor.checkAll();            // before the first send: a listed IP is paused
 * monitor.start(plan.dnsbl.intervalMs); // then every interval
 * await monitor.stop();
 */
export class DnsblMonitor {
  readonly #o: DnsblMonitorOptions;
  readonly #checker: DnsblChecker;
  readonly #log: Logger;
  #loop: Loop | null = null;

  constructor(options: DnsblMonitorOptions) {
    this.#o = options;
    this.#checker = options.checker ?? new DnsblChecker({ resolver: options.resolver, queriesPerSecond: options.plan.dnsbl.queriesPerSecond });
    this.#log = options.log.child({ component: 'dnsbl' });
  }

  /**
   * Checks every IP of the plan (or only `only`) in every zone once and acts on the answers.
   * Throws only on a database failure.
   */
  async checkAll(only?: readonly string[]): Promise<DnsblPass> {
    const { plan, store, clock } = this.#o;
    const ips = plan.ips.map((i) => i.address).filter((ip) => !only || only.includes(ip));
    const report = await this.#checker.check(ips, plan.dnsbl.zones);
    const now = clock.now();
    const before = new Map((await store.lastDnsblVerdicts(ips)).map((r) => [`${r.ip} ${r.zone}`, r.status]));
    await store.recordDnsblResults(report.results, now);

    const untrustedZones = report.zones.filter((z) => z.health.status !== 'ok').map((z) => z.zone);
    for (const z of report.zones) {
      if (z.health.status !== 'ok') this.#log.warn({ zone: z.zone, health: z.health.status, reason: z.health.reason }, 'DNSBL zone not trusted: its answers pause nothing');
    }
    const listed: string[] = [];
    const paused: string[] = [];
    const cleared: string[] = [];
    const resumed: string[] = [];
    for (const ip of ips) {
      const mine = report.results.filter((r) => r.ip === ip);
      for (const r of mine) if (r.status === 'error' || r.status === 'unknown') this.#log.debug({ ip, zone: r.zone, status: r.status, meaning: r.meaning }, 'DNSBL answer not usable');
      const listings = mine.filter((r) => r.status === 'listed');
      if (listings.length > 0) {
        listed.push(ip);
        if (await this.#pause(ip, listings, now)) paused.push(ip);
        continue;
      }
      // A zone that listed the IP and now gave no usable answer still counts as listing it.
      const wasListed = mine.filter((r) => before.get(`${ip} ${r.zone}`) === 'listed');
      if (wasListed.some((r) => r.status !== 'clear')) continue;
      if (wasListed.length > 0) {
        cleared.push(ip);
        await store.addEvent({ at: now, plan: plan.name, ip, kind: 'dnsbl_clear', actor: 'dnsbl', cause: { zones: wasListed.map((r) => r.zone) } });
        this.#log.warn({ ip, zones: wasListed.map((r) => r.zone) }, plan.dnsbl.autoResumeAfterMs === null
          ? 'IP de-listed; it stays paused until `warmup resume IP --holds dnsbl`'
          : `IP de-listed; resuming after ${formatDuration(plan.dnsbl.autoResumeAfterMs)} unless listed again`);
      }
      if (plan.dnsbl.autoResumeAfterMs !== null && await this.#autoResume(ip, plan.dnsbl.autoResumeAfterMs, now)) resumed.push(ip);
    }
    return { at: now, report, listed, paused, cleared, resumed, untrustedZones };
  }

  /**
   * Runs {@link checkAll} now and then every `intervalMs` of clock time. The
   * timer converts clock time to real time with `clock.realDelay`, so an
   * accelerated clock checks more often in real time, and a manual clock is
   * followed by polling. A failing pass is logged and retried next interval.
   */
  start(intervalMs: number): void {
    if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be positive (got ${intervalMs})`);
    if (this.#loop) return;
    let due = this.#o.clock.now();
    const real = (clockMs: number) => Math.min(MAX_TIMER_MS, Math.max(MIN_TIMER_MS, this.#o.clock.realDelay(clockMs)));
    this.#loop = startLoop({
      run: async () => {
        const now = this.#o.clock.now();
        // Woken early (a manual clock is followed by polling): wait on.
        if (now < due) return;
        due = now + intervalMs;
        if (this.#o.claim && !await this.#o.claim(now, intervalMs)) return this.#log.debug('DNSBL pass of this period made by another daemon of the fleet');
        const p = await this.checkAll();
        this.#log.debug({ listed: p.listed, paused: p.paused, cleared: p.cleared, resumed: p.resumed }, 'DNSBL pass done');
      },
      delayMs: () => real(Math.max(0, due - this.#o.clock.now())),
      onError: (err) => this.#log.error({ err: describeError(err) }, 'DNSBL pass failed'),
    });
  }

  /** Stops the timer and waits for a pass in progress to finish. */
  async stop(): Promise<void> {
    const loop = this.#loop;
    this.#loop = null;
    await loop?.stop();
  }

  async #pause(ip: string, listings: readonly DnsblResult[], now: number): Promise<boolean> {
    const first = listings[0]!;
    const where = listings.map((l) => `${l.zone} (${l.answer}${l.meaning ? ` ${l.meaning}` : ''})`).join(', ');
    // The DNSBL hold sits beside any other: an operator's pause outlives the listing and its de-listing.
    const changed = await this.#o.store.addHold(this.#o.plan.name, { ip }, {
      kind: 'dnsbl', actor: 'dnsbl', reason: `listed in ${where}`, until: null, eventKind: 'dnsbl_listed',
      evidence: listings.map((l) => ({ zone: l.zone, answer: l.answer, meaning: l.meaning, txt: l.txt })),
      cause: {
        zone: first.zone, answer: first.answer, meaning: first.meaning, txt: first.txt,
        listings: listings.map((l) => ({ zone: l.zone, answer: l.answer, meaning: l.meaning, txt: l.txt })),
      },
    }, now);
    if (changed.length > 0) this.#log.warn({ ip, listings: where, lanes: changed.length, txt: first.txt }, 'IP listed on a DNSBL: paused at every provider');
    return changed.length > 0;
  }

  async #autoResume(ip: string, coolDownMs: number, now: number): Promise<boolean> {
    const { store, plan } = this.#o;
    const clear = await store.lastIpEvent(plan.name, ip, 'dnsbl_clear');
    if (!clear || now - clear.at < coolDownMs) return false;
    // Only the monitor's own holds from before the de-listing; every other hold stays.
    const removed = await store.removeHolds(plan.name, { ip }, {
      kinds: ['dnsbl'], createdUpTo: clear.at, by: 'dnsbl', eventKind: 'dnsbl_resume',
      reason: `de-listed; DNSBL hold removed after the ${formatDuration(coolDownMs)} cool-down`,
    }, now);
    if (removed.length > 0) this.#log.warn({ ip, lanes: removed.length, still_held: removed.filter((c) => c.to !== 'active').length }, 'IP de-listed: its DNSBL hold removed after the cool-down');
    return removed.length > 0;
  }
}
