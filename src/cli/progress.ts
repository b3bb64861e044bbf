/**
 * Progress of long commands on stderr, so stdout stays the result: a bar redrawn in place on a
 * terminal, otherwise one line per step (a simulated day), which reads well in CI logs and
 * journald. `--quiet` gives the silent one.
 */
import type { CliIo } from './io.js';

export interface Progress {
  /** A new step began (e.g. simulated day 6 of 14): a line when not on a terminal. */
  step(index: number, total: number, label: string): void;
  /** Fraction of the whole work done (0..1), for the bar; ignored when not on a terminal. */
  fraction(done: number): void;
  /** The work is over: clears the bar. */
  finish(): void;
}

const SILENT: Progress = Object.freeze({ step() {}, fraction() {}, finish() {} });

/**
 * @example
 * const p = createProgress(io, { quiet: values.quiet, command: 'simulate', now: () => performance.now() });
 * p.step(6, 14, '2026-12-06'); p.fraction(0.4); p.finish();
 */
export function createProgress(io: CliIo, o: { quiet?: boolean | undefined; command: string; now: () => number }): Progress {
  if (o.quiet) return SILENT;
  const began = o.now();
  const elapsed = () => {
    const s = Math.round((o.now() - began) / 1000);
    return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  };
  const draw = io.stderrIsTTY && io.progress ? io.progress.bind(io) : null;
  let label = '';
  let lastDraw = 0;
  let drawn = false;
  let done = 0;
  const redraw = (force: boolean) => {
    if (!draw) return;
    const t = o.now();
    if (!force && t - lastDraw < 200) return;
    lastDraw = t;
    const width = 30;
    const full = Math.round(Math.min(1, Math.max(0, done)) * width);
    draw(`\r\x1b[K[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.floor(done * 100)).padStart(3)}% ${label} ${elapsed()}`);
    drawn = true;
  };
  return {
    step(index, total, text) {
      label = `${o.command}: day ${index} of ${total} (${text})`;
      if (draw) redraw(true);
      else io.err(`warmup ${label}, ${elapsed()} elapsed`);
    },
    fraction(x) {
      done = x;
      redraw(false);
    },
    finish() {
      if (draw && drawn) draw('\r\x1b[K');
      else if (!draw) io.err(`warmup ${o.command}: done in ${elapsed()}`);
    },
  };
}
