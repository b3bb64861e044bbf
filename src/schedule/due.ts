/**
 * Which of a lane's messages are due when: pure functions of the day's
 * target, its spread window and `now`.
 *
 * A day's N messages are spread over [from, until) in N equal slots; message
 * k falls at a jittered point inside slot k, so there are no bursts at the top
 * of an hour and two lanes never fire in lockstep. The jitter is a hash of
 * (lane, day, k): a restarted daemon computes the same times.
 */

/** FNV-1a, 32-bit: a fast, stable hash for jitter (not for security). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Jitter in [0, 1) for message `k` of a lane's day. */
export function jitter(key: string, k: number): number {
  return hash32(`${key}#${k}`) / 2 ** 32;
}

/** The instant message `k` (1-based) of `target` is due. */
export function dueAt(target: number, from: number, until: number, key: string, k: number): number {
  const slot = (until - from) / target;
  return Math.ceil(from + (k - 1 + jitter(key, k)) * slot);
}

/** How many of the day's `target` messages are due by `now`. */
export function dueCount(target: number, from: number, until: number, now: number, key: string): number {
  if (target <= 0 || now < from) return 0;
  if (now >= until) return target;
  const slot = (until - from) / target;
  // Every message before slot `whole` is due; decide the two at the edge exactly.
  const whole = Math.floor((now - from) / slot);
  let count = Math.max(0, whole - 1);
  for (let k = count + 1; k <= Math.min(target, whole + 1); k++) {
    if (dueAt(target, from, until, key, k) <= now) count = k;
  }
  return count;
}

/**
 * Pro rata share of a day's target for a lane that starts its day at `now`,
 * after the window opened: the rest of the day's share, not a morning's backlog.
 */
export function proRataTarget(target: number, windowStart: number, windowEnd: number, now: number): number {
  if (now <= windowStart) return target;
  if (now >= windowEnd) return 0;
  return Math.round((target * (windowEnd - now)) / (windowEnd - windowStart));
}

/** A token bucket that caps how fast a lane that fell behind may catch up. */
export interface Pace {
  readonly tokens: number;
  readonly at: number;
}

/**
 * Refills the bucket to `now` and says how many sends it allows, at most `want`.
 * The rate is `catchUpFactor` times the lane's even share (target / window);
 * the bucket holds at least one send and at least one tick's worth, so an
 * accelerated clock is not throttled by tick granularity.
 */
export function pace(
  prev: Pace | null,
  opts: { target: number; windowMs: number; catchUpFactor: number; tickMs: number },
  now: number,
  want: number,
): { allowed: number; next: Pace } {
  const rate = (opts.catchUpFactor * opts.target) / opts.windowMs; // messages per ms
  const capacity = Math.max(1, rate * Math.max(60_000, opts.tickMs));
  const tokens = prev === null ? Math.min(capacity, 1) : Math.min(capacity, prev.tokens + rate * Math.max(0, now - prev.at));
  const allowed = Math.max(0, Math.min(want, Math.floor(tokens)));
  return { allowed, next: { tokens: tokens - allowed, at: now } };
}

/** When a deferred message may be tried again, or null when it has expired. */
export function nextRetryAt(
  createdAt: number,
  attemptsSoFar: number,
  now: number,
  retry: { readonly intervalsMs: readonly number[]; readonly expireMs: number },
): number | null {
  const i = Math.min(attemptsSoFar - 1, retry.intervalsMs.length - 1);
  const at = now + retry.intervalsMs[Math.max(0, i)]!;
  return at - createdAt > retry.expireMs ? null : at;
}
