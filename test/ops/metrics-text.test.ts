import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MetricsWriter, warmupMetricsText } from '../../src/ops/metrics-text.js';
import { FIRST, LANES, SNAPSHOT } from './text-fixture.js';

const expected = readFileSync(new URL('./metrics-text.expected.txt', import.meta.url), 'utf8');

describe('metrics exposition text', () => {
  it('is byte for byte the text of the string-building writer it replaced', () => {
    expect(`${warmupMetricsText(SNAPSHOT)}---\n${warmupMetricsText(FIRST)}`).toBe(expected);
  });

  it('stays the same across scrapes with its kept prefixes, and follows a lane whose labels change', () => {
    const w = new MetricsWriter();
    const [one, two] = expected.split('---\n') as [string, string];
    expect(w.write(SNAPSHOT, '# tail\n').toString()).toBe(`${one}# tail\n`);
    expect(w.write(SNAPSHOT).toString()).toBe(one);
    expect(w.write(FIRST).toString()).toBe(two);
    const moved = { ...SNAPSHOT, lanes: SNAPSHOT.lanes.map((l) => (l.id === 2 ? { ...l, provider: 'outlook' } : l)) };
    const text = w.write(moved).toString();
    expect(text).toBe(one.replaceAll('ip="127.0.0.2",provider="yahoo"', 'ip="127.0.0.2",provider="outlook"'));
    expect(text).toContain('warmup_attempts_total{ip="127.0.0.2",provider="outlook",outcome="bounced"} 0\n');
  });

  it('leaves out the counts of a lane it saw before but no longer has', () => {
    const w = new MetricsWriter();
    w.write(SNAPSHOT);
    const text = w.write({ ...SNAPSHOT, lanes: LANES.filter((l) => l.id !== 1) }).toString();
    expect(text).not.toContain('provider="gmail"');
    expect(text).toContain('warmup_attempts_total{ip="::1",provider="poczta-ö",outcome="interrupted"} 2\n');
  });

  it('writes values as Prometheus reads them: integers, fractions, NaN and infinities', () => {
    const values = [0, 7, 10, 999_999, 1e15, 2 ** 53, 1e21, -3, 0.1, 1 / 3, Number.NaN, Infinity, -Infinity];
    const lanes = values.map((v, i) => ({ ...LANES[0]!, id: i + 1, ip: `127.0.0.${i + 1}`, stage: v, day: null }));
    const text = warmupMetricsText({ ...SNAPSHOT, lanes, attempts: [] });
    const stages = text.split('\n').filter((l) => l.startsWith('warmup_lane_stage{')).map((l) => l.slice(l.indexOf('} ') + 2));
    expect(stages).toEqual(['0', '7', '10', '999999', '1000000000000000', '9007199254740992', '1e+21', '-3', '0.1', String(1 / 3), 'NaN', '+Inf', '-Inf']);
  });
});
