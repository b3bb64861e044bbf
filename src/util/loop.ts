/**
 * One periodic loop for the background work beside the daemon (the tick, the
 * DNSBL monitor, the placement poller, the alert forwarder): an iteration
 * runs, and only once it has ended is the next one timed, so a slow iteration
 * never overlaps the next. A failing iteration is reported to `onError` and
 * the loop carries on. `stop()` clears the timer and waits for an iteration
 * under way. Timers are injectable, so tests step the loop without sleeping.
 */

/** The part of the timer API a loop needs (default: the global setTimeout/clearTimeout, unref'd). */
export interface LoopTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface LoopOptions {
  /** One iteration. */
  readonly run: () => Promise<void>;
  /**
   * Real milliseconds from the end of an iteration to the start of the next.
   * Gets the real times (from `now`) the iteration started and ended, so a
   * loop can keep a fixed rate (see `atRate`).
   */
  readonly delayMs: (iteration: { readonly startedAt: number; readonly endedAt: number }) => number;
  /** Called with what an iteration threw; the loop goes on. */
  readonly onError: (error: unknown) => void;
  /** Run the first iteration at once (default) or after `firstDelayMs`. */
  readonly firstDelayMs?: number;
  /** Real time (default Date.now). */
  readonly now?: () => number;
  /** Default: the global timers, which do not keep the process alive unless `keepAlive`. */
  readonly timers?: LoopTimers;
  /** The loop alone keeps the process running (the daemon's tick); background loops do not. */
  readonly keepAlive?: boolean;
}

export interface Loop {
  /** Clears the timer and resolves once an iteration under way (if any) has ended. */
  stop(): Promise<void>;
}

const refTimers: LoopTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

const unrefTimers: LoopTimers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms);
    // A background loop never keeps the process alive by itself.
    t.unref?.();
    return t;
  },
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * Starts a loop.
 *
 * @example
 * const loop = startLoop({ run: () => poller.pollOnce(), delayMs: () => 60_000, onError: (e) => log.error({ err: e }, 'poll failed') });
 * await loop.stop();
 */
export function startLoop(o: LoopOptions): Loop {
  const timers = o.timers ?? (o.keepAlive ? refTimers : unrefTimers);
  const now = o.now ?? Date.now;
  let handle: unknown = null;
  let running: Promise<void> | null = null;
  let stopped = false;

  const iterate = (): void => {
    handle = null;
    if (stopped) return;
    const startedAt = now();
    running = (async () => {
      try { await o.run(); } catch (e) { o.onError(e); }
    })().finally(() => {
      running = null;
      if (stopped) return;
      const wait = o.delayMs({ startedAt, endedAt: now() });
      handle = timers.set(iterate, Math.max(0, wait));
    });
  };
  if (o.firstDelayMs === undefined) iterate();
  else handle = timers.set(iterate, Math.max(0, o.firstDelayMs));

  return {
    async stop() {
      stopped = true;
      if (handle !== null) timers.clear(handle);
      handle = null;
      await running;
    },
  };
}

/**
 * `delayMs` for a fixed rate: the next iteration starts at the next multiple
 * of `periodMs` after `anchor` that is later than when the last one ended
 * (iterations that would have fallen while one ran are skipped, not queued).
 */
export function atRate(periodMs: number, anchor: number): LoopOptions['delayMs'] {
  return ({ endedAt }) => periodMs - (((endedAt - anchor) % periodMs) + periodMs) % periodMs;
}
