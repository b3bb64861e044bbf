/**
 * What calls the daemon's tick: the periodic loop (src/util/loop.ts) at a
 * fixed rate. Ticks of whole seconds that divide a minute fall on those
 * seconds of the wall clock (every 5 s: :00, :05, ...), as a cron schedule
 * would; other periods (accelerated test runs tick every few ms) count from
 * the start. A tick never overlaps the previous one: ticks that would have
 * fallen while one ran are skipped.
 */
import { atRate, startLoop, type Loop } from '../util/loop.js';

export interface Ticker {
  stop(): Promise<void>;
}

export function startTicker(tickMs: number, onTick: () => Promise<void>, onError: (e: unknown) => void, now: () => number = Date.now): Ticker {
  const wallAligned = tickMs >= 1000 && tickMs % 1000 === 0 && tickMs <= 60_000;
  const start = now();
  const delayMs = atRate(tickMs, wallAligned ? 0 : start);
  const loop: Loop = startLoop({ run: onTick, delayMs, onError, now, keepAlive: true, firstDelayMs: delayMs({ startedAt: start, endedAt: start }) });
  return loop;
}
