/**
 * What calls the daemon's tick. In production croner fires every N seconds
 * (and `protect` stops a slow tick from overlapping the next); accelerated
 * test runs may ask for sub-second ticks, which cron cannot express, so those
 * use a plain timer. Either way a tick never overlaps the previous one.
 */
import { Cron } from 'croner';

export interface Ticker {
  stop(): void;
}

export function startTicker(tickMs: number, onTick: () => Promise<void>, onError: (e: unknown) => void): Ticker {
  let running = false;
  const guarded = async () => {
    if (running) return;
    running = true;
    try { await onTick(); } catch (e) { onError(e); } finally { running = false; }
  };
  if (tickMs >= 1000 && tickMs % 1000 === 0 && tickMs <= 60_000) {
    const job = new Cron(`*/${tickMs / 1000} * * * * *`, { protect: true }, guarded);
    return { stop: () => job.stop() };
  }
  const timer = setInterval(() => void guarded(), tickMs);
  return { stop: () => clearInterval(timer) };
}
