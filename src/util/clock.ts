/**
 * The only source of "now" in warmup. Pure code takes `now` as an argument;
 * the composition root owns one Clock and hands its readings down.
 */
export interface Clock {
  /** Milliseconds since the epoch, in the clock's own (possibly accelerated) time. */
  now(): number;
  /** Real milliseconds to wait for `ms` of clock time to pass. */
  realDelay(ms: number): number;
}

/** The wall clock. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  realDelay: (ms: number) => ms,
});

/**
 * A clock that starts at `from` (epoch ms) and runs `speed` times faster than
 * real time. `--speed 1440 --from 2026-12-01T00:00:00Z` makes a day last a minute.
 */
export function acceleratedClock(from: number, speed: number, realNow: () => number = Date.now): Clock {
  if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be a positive number (got ${speed})`);
  const realStart = realNow();
  return Object.freeze({
    now: () => from + (realNow() - realStart) * speed,
    realDelay: (ms: number) => ms / speed,
  });
}

/** A clock that moves only when told to: simulations step it, tests pin it. */
export interface ManualClock extends Clock {
  set(ms: number): void;
  advance(ms: number): void;
}

export function manualClock(start: number): ManualClock {
  let t = start;
  return {
    now: () => t,
    realDelay: () => 0,
    set(ms: number) { t = ms; },
    advance(ms: number) { t += ms; },
  };
}
