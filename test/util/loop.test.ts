import { describe, expect, it } from 'vitest';
import { atRate, startLoop, type LoopTimers } from '../../src/util/loop.js';

/** Timers fired by hand: `fire()` runs the one pending callback. */
function manualTimers() {
  const pending: Array<{ fn: () => void; ms: number; id: number }> = [];
  let n = 0;
  const timers: LoopTimers = {
    set: (fn, ms) => { pending.push({ fn, ms, id: ++n }); return n; },
    clear: (id) => { const i = pending.findIndex((p) => p.id === id); if (i >= 0) pending.splice(i, 1); },
  };
  return { timers, pending, fire: () => pending.shift()!.fn() };
}
const settle = () => new Promise((r) => setImmediate(r));

describe('startLoop', () => {
  it('times the next iteration only once the last has ended: a slow one never overlaps the next', async () => {
    const t = manualTimers();
    let active = 0; let most = 0; let runs = 0;
    let release!: () => void;
    const loop = startLoop({
      run: async () => { runs++; active++; most = Math.max(most, active); await new Promise<void>((r) => { release = r; }); active--; },
      delayMs: () => 10, onError: () => {}, timers: t.timers,
    });
    expect(runs).toBe(1);
    expect(t.pending).toHaveLength(0);
    release(); await settle();
    expect(t.pending.map((p) => p.ms)).toEqual([10]);
    t.fire(); release(); await settle();
    expect([runs, most]).toEqual([2, 1]);
    await loop.stop();
  });

  it('reports an iteration that throws and goes on', async () => {
    const t = manualTimers();
    const errors: unknown[] = [];
    let runs = 0;
    const loop = startLoop({ run: async () => { runs++; if (runs === 1) throw new Error('boom'); }, delayMs: () => 5, onError: (e) => errors.push(e), timers: t.timers });
    await settle();
    t.fire(); await settle();
    expect(runs).toBe(2);
    expect(errors.map((e) => (e as Error).message)).toEqual(['boom']);
    await loop.stop();
  });

  it('stop waits for the iteration under way and times no other', async () => {
    const t = manualTimers();
    let release!: () => void; let ended = false;
    const loop = startLoop({ run: async () => { await new Promise<void>((r) => { release = r; }); ended = true; }, delayMs: () => 5, onError: () => {}, timers: t.timers });
    const stopped = loop.stop();
    release(); await stopped;
    expect(ended).toBe(true);
    expect(t.pending).toHaveLength(0);
  });

  it('starts after firstDelayMs when given', async () => {
    const t = manualTimers();
    let runs = 0;
    const loop = startLoop({ run: async () => { runs++; }, delayMs: () => 5, firstDelayMs: 7, onError: () => {}, timers: t.timers });
    expect([runs, t.pending[0]!.ms]).toEqual([0, 7]);
    t.fire(); await settle();
    expect(runs).toBe(1);
    await loop.stop();
  });
});

describe('atRate', () => {
  it.each([
    ['ended on a boundary: a whole period', 0, 10_000, 5000],
    ['ended mid-period: the rest of it', 0, 12_000, 3000],
    ['ran over two periods: the next boundary, the missed ones skipped', 1000, 12_500, 3500],
  ])('%s', (_t, anchor, endedAt, wait) => {
    expect(atRate(5000, anchor)({ startedAt: 0, endedAt })).toBe(wait);
  });
});
