import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { createProgress } from '../../src/cli/progress.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('progress of long commands on stderr', () => {
  it('simulate prints a line per simulated day when stderr is not a terminal, stdout untouched', async () => {
    const io = memoryIo({}, root);
    expect(await main(['simulate', 'plans/small.yaml', '--days', '2', '--json'], io)).toBe(0);
    expect(io.stderr).toMatch(/^warmup simulate: day 1 of 2 \(2026-12-01\), \d+s elapsed\nwarmup simulate: day 2 of 2 \(2026-12-02\), \d+s elapsed\nwarmup simulate: done in \d+s\n$/);
    expect(() => JSON.parse(io.stdout)).not.toThrow();
  });

  it('--quiet silences it', async () => {
    const io = memoryIo({}, root);
    expect(await main(['simulate', 'plans/small.yaml', '--days', '1', '--quiet'], io)).toBe(0);
    expect(io.stderr).toBe('');
  });

  it('draws a bar in place on a terminal and clears it at the end', () => {
    let t = 0;
    let drawn = '';
    const io = { ...memoryIo(), stderrIsTTY: true, progress: (s: string) => { drawn += s; } };
    const p = createProgress(io, { command: 'simulate', now: () => t });
    p.step(1, 4, '2026-12-01');
    t = 1000; p.fraction(0.5);
    t = 1100; p.fraction(0.6); // within 200 ms of the last draw: not redrawn
    p.finish();
    const frames = drawn.split('\r\x1b[K').filter(Boolean);
    expect(frames).toEqual([
      '[..............................]   0% simulate: day 1 of 4 (2026-12-01) 0s',
      '[###############...............]  50% simulate: day 1 of 4 (2026-12-01) 1s',
    ]);
    expect(drawn.endsWith('\r\x1b[K')).toBe(true);
    expect(io.stderr).toBe('');
  });
});
