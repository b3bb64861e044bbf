/**
 * A bounded queries-per-second limiter: each caller waits for its own slot,
 * slots are 1/rate apart. DNSBLs grant free use per resolver and per day;
 * pacing keeps dozens of IPs x several zones from arriving as one burst.
 */
import { WarmupError } from '../util/errors.js';

/** Hands out start slots at most `perSecond` a second. */
export interface Pacer {
  /** Resolves when the caller may send its next query. */
  wait(): Promise<void>;
}

/** Options for {@link createPacer}; `now` and `sleep` are injectable so the slot arithmetic can be tested without waiting. */
export interface PacerOptions {
  readonly perSecond: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * @example
 * const pacer = createPacer({ perSecond: 5 });
 * for (const name of names) { await pacer.wait(); void resolver.resolve4(name); }
 * @throws WarmupError `DNSBL_CONFIG` for a rate that is not a positive number
 */
export function createPacer(options: PacerOptions): Pacer {
  if (!(options.perSecond > 0) || !Number.isFinite(options.perSecond)) {
    throw new WarmupError('DNSBL_CONFIG', `queries per second must be a positive number (got ${options.perSecond})`);
  }
  const gap = 1000 / options.perSecond;
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  // The next free slot; reserved synchronously so concurrent callers never share one.
  let next = -Infinity;
  return Object.freeze({
    async wait(): Promise<void> {
      const t = now();
      const slot = Math.max(t, next);
      next = slot + gap;
      if (slot > t) await sleep(slot - t);
    },
  });
}
