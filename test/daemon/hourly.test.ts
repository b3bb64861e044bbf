import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { emptyHour, hourCarried, hourKey, hourTally, rollHour } from '../../src/daemon/hourly.js';
import { createLogger } from '../../src/util/log.js';

function capture(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
  return { log: createLogger({ level: 'info', destination }), lines };
}

describe('hourTally: how an answer counts in the hour', () => {
  it.each([
    ['accepted', true, 'accepted', false, 'accepted'],
    ['deferred, still waiting', false, 'deferred', false, 'deferred'],
    ['deferred and then expired: still a deferral', false, 'deferred', false, 'deferred'],
    ['bounced', false, 'bounced', true, 'bounced'],
    ['a network failure retried later', false, 'network', false, 'failed'],
    ['a failure that expired the message', false, 'timeout', false, 'failed'],
  ] as const)('%s', (_t, accepted, outcome, bounced, tally) => {
    expect(hourTally(accepted, outcome, bounced)).toBe(tally);
  });
});

describe('hourKey and hourCarried', () => {
  it('keys by the UTC hour', () => {
    expect(hourKey(Date.UTC(2026, 11, 2, 9, 59, 59))).toBe('2026-12-02T09');
    expect(hourKey(Date.UTC(2026, 11, 2, 10))).toBe('2026-12-02T10');
  });
  it('counts seed sends and routed mail of the same hour only', () => {
    const h = { ...emptyHour('2026-12-02T09'), sent: 3, routed: 2, accepted: 4 };
    expect(hourCarried(h, '2026-12-02T09')).toBe(5);
    expect(hourCarried(h, '2026-12-02T10')).toBe(0);
  });
});

describe('rollHour', () => {
  const state = { inFlight: 1, stage: 2, state: 'active' };
  it('keeps the counters within the hour and logs nothing', () => {
    const { log, lines } = capture();
    const h = { ...emptyHour('2026-12-02T09'), sent: 3 };
    expect(rollHour(h, '2026-12-02T09', log, state)).toBe(h);
    expect(lines).toEqual([]);
  });
  it('closes a busy hour with one info line and starts the next at zero', () => {
    const { log, lines } = capture();
    const next = rollHour({ ...emptyHour('2026-12-02T09'), sent: 3, routed: 1, accepted: 2, deferred: 1 }, '2026-12-02T10', log, state);
    expect(next).toEqual(emptyHour('2026-12-02T10'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'hourly', hour: '2026-12-02T09:00Z', sent: 3, routed: 1, accepted: 2, deferred: 1, bounced: 0, failed: 0, in_flight: 1, stage: 2, state: 'active' });
  });
  it('logs no line for an idle hour or before the first', () => {
    const { log, lines } = capture();
    rollHour(emptyHour('2026-12-02T09'), '2026-12-02T10', log, state);
    rollHour(emptyHour(''), '2026-12-02T10', log, state);
    expect(lines).toEqual([]);
  });
});
