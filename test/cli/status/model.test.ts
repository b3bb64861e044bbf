/** The per-IP and per-provider totals of `warmup status` (src/cli/status/model.ts). */
import { describe, expect, it } from 'vitest';
import { addFigures, totalsBy, zeroFigures, type Figures, type StatusLane } from '../../../src/cli/status/model.js';

describe('status totals', () => {
  it('addFigures adds every figure zeroFigures has, each to itself', () => {
    const keys = Object.keys(zeroFigures()) as (keyof Figures)[];
    const r = zeroFigures();
    keys.forEach((k, i) => { r[k] = 2 ** i; });
    const t = zeroFigures();
    addFigures(t, r);
    addFigures(t, r);
    expect(t).toEqual(Object.fromEntries(keys.map((k, i) => [k, 2 * 2 ** i])));
    expect(Object.keys(t)).toEqual(keys);
  });

  it('totalsBy sums the lanes of each key, in the order keys first appear', () => {
    const lane = (ip: string, provider: string, sent: number) => ({ ...zeroFigures(), ip, provider, sent, target: 10 }) as unknown as StatusLane;
    const rows = [lane('10.0.0.2', 'gmail', 1), lane('10.0.0.1', 'gmail', 2), lane('10.0.0.2', 'yahoo', 4)];
    expect(totalsBy(rows, 'ip')).toEqual({ '10.0.0.2': { ...zeroFigures(), sent: 5, target: 20 }, '10.0.0.1': { ...zeroFigures(), sent: 2, target: 10 } });
    expect(Object.keys(totalsBy(rows, 'provider'))).toEqual(['gmail', 'yahoo']);
    expect(totalsBy(rows, 'provider').gmail).toEqual({ ...zeroFigures(), sent: 3, target: 20 });
  });
});
