/**
 * What calls the daemon's tick: the periodic loop (src/util/loop.ts) at a
 * fixed rate. In production the tick is a cron schedule of whole seconds
 * that divide a minute (every 5 s: :00, :05, ... on the wall clock), and
 * croner says when it next falls; other periods (accelerated test runs tick
 * every few ms, which cron cannot express) count from the start. A tick never
 * overlaps the previous one: ticks that would have fallen while one ran are
 * skipped.
 */
import { Cron } from 'croner';
import { atRate, startLoop, type Loop, type LoopOptions } from '../util/loop.js';

export interface Ticker {
  stop(): Promise<void>;
}

export function startTicker(tickMs: number, onTick: () => Promise<void>, onError: (e: unknown) => void, now: () => number = Date.now): Ticker {
  const wallAligned = tickMs >= 1000 && tickMs % 1000 === 0 && tickMs <= 60_000;
  const start = now();
  const delayMs = wallAligned ? cronRate(new Cron(`*/${tickMs / 1000} * * * * *`), tickMs) : atRate(tickMs, start);
  const loop: Loop = startLoop({ run: onTick, delayMs, onError, now, keepAlive: true, firstDelayMs: delayMs({ startedAt: start, endedAt: start }) });
  return loop;
}

/** `delayMs` from a cron schedule: the time from the end of an iteration to the schedule's next run after it. */
export function cronRate(cron: Cron, fallbackMs: number): LoopOptions['delayMs'] {
  return ({ endedAt }) => cron.msToNext(new Date(endedAt)) ?? fallbackMs;
}
