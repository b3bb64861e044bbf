/**
 * Asks DNSBL zones about IPs through a Resolver, paced, with retries for
 * temporary failures. Judges every zone by its RFC 5782 test entries first so
 * that a broken zone's answers never reach the caller as listings.
 */
import { WarmupError } from '../util/errors.js';
import { createPacer, type Pacer } from './pacer.js';
import { CONTROL_ENTRY, TEST_ENTRY, decodeDnsblAnswer, dnsblQueryName, judgeZone, type DnsblStatus, type DnsblVerdict, type ZoneHealth } from './dnsbl.js';
import type { Resolver } from './resolver.js';

/** One IP in one zone, as the checker saw it. */
export interface DnsblResult {
  readonly ip: string;
  readonly zone: string;
  readonly status: DnsblStatus;
  readonly answer: string | null;
  readonly meaning: string | null;
  /** The zone's TXT reason for a listing (often a removal URL), when it gave one. */
  readonly txt: string | null;
}

/** Every zone's health and every IP x zone result of one pass. */
export interface DnsblReport {
  readonly zones: ReadonlyArray<{ readonly zone: string; readonly health: ZoneHealth }>;
  readonly results: readonly DnsblResult[];
}

/** Options for {@link DnsblChecker}. */
export interface DnsblCheckerOptions {
  /** Use the operator's own recursive resolver: Spamhaus refuses public ones (127.255.255.254). */
  readonly resolver: Resolver;
  /** Queries per second at most, across every zone. */
  readonly queriesPerSecond: number;
  /** Tries per query when the answer is a timeout or SERVFAIL. Default 2. */
  readonly attempts?: number;
  /** A shared pacer (e.g. one per process); default: one of this checker's own. */
  readonly pacer?: Pacer;
}

type Lookup = { readonly ok: true; readonly verdict: DnsblVerdict } | { readonly ok: false; readonly reason: string };

/**
 * @example
 * const checker = new DnsblChecker({ resolver, queriesPerSecond: 5 });
 * const report = await checker.check(['203.0.113.10'], ['zen.spamhaus.org']);
 */
export class DnsblChecker {
  readonly #resolver: Resolver;
  readonly #pacer: Pacer;
  readonly #attempts: number;

  constructor(options: DnsblCheckerOptions) {
    this.#resolver = options.resolver;
    this.#pacer = options.pacer ?? createPacer({ perSecond: options.queriesPerSecond });
    this.#attempts = options.attempts ?? 2;
    if (!(Number.isInteger(this.#attempts) && this.#attempts > 0)) throw new WarmupError('DNSBL_CONFIG', `attempts must be a positive integer (got ${this.#attempts})`);
  }

  /** Judges a zone by its test entry (must be listed) and control entry (must not be). Never throws. */
  async zoneHealth(zone: string): Promise<ZoneHealth> {
    const [test, control] = await Promise.all([this.#lookup(TEST_ENTRY, zone), this.#lookup(CONTROL_ENTRY, zone)]);
    return judgeZone(test.ok ? test.verdict : 'unknown', control.ok ? control.verdict : 'unknown');
  }

  /**
   * Checks every IP in every zone. A zone whose health is not `ok` is not asked
   * about the IPs: each gets `error` (broken zone) or `unknown` (health unknown)
   * with the reason as meaning. Never throws.
   */
  async check(ips: readonly string[], zones: readonly string[]): Promise<DnsblReport> {
    const healths = await Promise.all(zones.map(async (zone) => ({ zone, health: await this.zoneHealth(zone) })));
    const jobs: Array<Promise<DnsblResult>> = [];
    for (const { zone, health } of healths) {
      for (const ip of ips) {
        if (health.status !== 'ok') {
          const status = health.status === 'broken' ? 'error' : 'unknown';
          jobs.push(Promise.resolve({ ip, zone, status, answer: null, meaning: `zone ${health.status}: ${health.reason}`, txt: null }));
        } else {
          jobs.push(this.checkOne(ip, zone));
        }
      }
    }
    return { zones: healths, results: await Promise.all(jobs) };
  }

  /** One IP in one (trusted) zone, with the TXT reason when listed. Never throws. */
  async checkOne(ip: string, zone: string): Promise<DnsblResult> {
    const v = await this.#lookup(ip, zone);
    if (!v.ok) return { ip, zone, status: 'unknown', answer: null, meaning: v.reason, txt: null };
    const { verdict } = v;
    const txt = verdict.status === 'listed' ? await this.#txt(dnsblQueryName(ip, zone)) : null;
    return { ip, zone, status: verdict.status, answer: verdict.answer, meaning: verdict.meaning, txt };
  }

  async #lookup(ip: string, zone: string): Promise<Lookup> {
    let name: string;
    try {
      name = dnsblQueryName(ip, zone);
    } catch (err) {
      return { ok: true, verdict: { status: 'error', answer: null, meaning: (err as Error).message } };
    }
    let last = '';
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      await this.#pacer.wait();
      try {
        return { ok: true, verdict: decodeDnsblAnswer(zone, await this.#resolver.resolve4(name)) };
      } catch (err) {
        const code = err instanceof WarmupError ? err.code : '';
        if (code === 'NO_SUCH_DOMAIN') return { ok: true, verdict: decodeDnsblAnswer(zone, []) };
        last = err instanceof Error ? err.message : String(err);
        // Only a temporary failure is worth asking again; a malformed answer will not change.
        if (code !== 'DNS_TEMPFAIL') break;
      }
    }
    return { ok: false, reason: `lookup failed: ${last}` };
  }

  async #txt(name: string): Promise<string | null> {
    await this.#pacer.wait();
    try {
      const records = await this.#resolver.resolveTxt(name);
      const text = records.map((r) => r.join('')).join(' | ');
      return text === '' ? null : text;
    } catch {
      // The reason is a courtesy: a listing stands without it.
      return null;
    }
  }
}
