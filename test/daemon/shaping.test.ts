import { describe, expect, it } from 'vitest';
import { laneCap, laneTakesMail, retryLimits, sendAllowance, shapingFor, shapingLapsed } from '../../src/daemon/shaping.js';

describe('laneCap: a lane\'s in-flight cap', () => {
  it.each([
    ['no shaping: four connections\' worth per MX connection allowed', null, 1, 10, 40],
    ['one connection', 1, 1, 10, 1],
    ['a rate cut to half', null, 0.5, 10, 20],
    ['one connection and a deep cut: never below one', 1, 0.1, 10, 1],
    ['a cut that rounds down', null, 0.3, 2, 2],
  ])('%s', (_t, maxConnections, rateFactor, perMx, cap) => {
    expect(laneCap({ max_connections: maxConnections, rate_factor: rateFactor }, perMx)).toBe(cap);
  });
});

describe('laneTakesMail: may routed mail use the lane now', () => {
  it.each([
    ['no hold', 'active', null, true],
    ['held until later', 'suspended', 2000, false],
    ['held with no end', 'paused', null, false],
    ['every hold lapsed, not yet removed by a tick', 'suspended', 1000, true],
  ] as const)('%s', (_t, state, until, takes) => {
    expect(laneTakesMail({ state, state_until: until }, 1000)).toBe(takes);
  });
});

describe('shapingLapsed', () => {
  it.each([
    [null, 100, false],
    [200, 100, false],
    [100, 100, true],
    [50, 100, true],
  ])('rate_until %o at %i: %o', (until, now, lapsed) => {
    expect(shapingLapsed({ rate_until: until }, now)).toBe(lapsed);
  });
});

describe('sendAllowance: how many new sends a lane may start now', () => {
  const from = Date.UTC(2026, 11, 2, 8);
  const until = from + 10 * 3_600_000; // 100 messages over 10 hours: one every 6 minutes on average
  const day = { date: '2026-12-02', target: 100, from, until, sent: 0 };
  // A tick covers ten minutes of plan time (an accelerated clock): the bucket holds that many minutes' worth.
  const base = { laneId: 7, day, pace: null, rateFactor: 1, catchUpFactor: 3, tickMs: 600_000, laneRoom: 40, globalRoom: 256 };

  it('allows nothing before the window and leaves the bucket as it was', () => {
    const pace = { tokens: 0.5, at: from - 5000 };
    expect(sendAllowance({ ...base, pace }, from - 1)).toEqual({ allowed: 0, pace });
  });

  it('allows nothing once the day\'s due sends are all sent', () => {
    expect(sendAllowance({ ...base, day: { ...day, sent: 100 } }, until).allowed).toBe(0);
  });

  it('a lane that fell behind catches up at most catch_up_factor times its even rate', () => {
    // Half the window gone, nothing sent: about 50 due. The bucket starts with one send.
    const mid = from + 5 * 3_600_000;
    const first = sendAllowance(base, mid);
    expect(first.allowed).toBe(1);
    // Ten minutes later the bucket refilled 3 x 100/10 h x 10 min = 5 sends.
    const later = sendAllowance({ ...base, day: { ...day, sent: 1 }, pace: first.pace }, mid + 600_000);
    expect(later.allowed).toBe(5);
  });

  it('a rule\'s rate cut replaces the catch-up factor', () => {
    const mid = from + 5 * 3_600_000;
    const first = sendAllowance({ ...base, rateFactor: 0.5 }, mid);
    const later = sendAllowance({ ...base, rateFactor: 0.5, day: { ...day, sent: 1 }, pace: first.pace }, mid + 600_000);
    // 0.5 x 10 per hour over ten minutes: under one send (the bucket kept nothing after the first).
    expect(later.allowed).toBe(0);
    // An hour later it refilled five, but holds only one tick's worth (0.83), at least one send.
    const hourLater = sendAllowance({ ...base, rateFactor: 0.5, day: { ...day, sent: 1 }, pace: first.pace }, mid + 3_600_000);
    expect(hourLater.allowed).toBe(1);
  });

  it.each([
    ['the lane\'s free room', { laneRoom: 2 }, 2],
    ['the daemon\'s free room', { globalRoom: 3 }, 3],
    ['no room at all', { laneRoom: 0 }, 0],
    ['negative room (the cap was lowered under the sends in flight)', { laneRoom: -4 }, 0],
  ])('never more than %s', (_t, room, allowed) => {
    const full = { tokens: 100, at: until };
    expect(sendAllowance({ ...base, ...room, pace: full }, until).allowed).toBe(allowed);
  });
});

describe('retryLimits: what each lane may claim of the retries due', () => {
  it('gives active lanes their room in turn until the daemon\'s room is used up', () => {
    expect(retryLimits([
      { id: 1, active: true, room: 3 },
      { id: 2, active: false, room: 10 }, // held: claims nothing
      { id: 3, active: true, room: 0 }, // full
      { id: 4, active: true, room: 5 },
      { id: 5, active: true, room: 5 },
    ], 6)).toEqual([{ laneId: 1, limit: 3 }, { laneId: 4, limit: 3 }]);
  });
  it('claims nothing without room', () => {
    expect(retryLimits([{ id: 1, active: true, room: 3 }], 0)).toEqual([]);
  });
});

describe('shapingFor: what a rate cut or one-connection rule sets', () => {
  it.each([
    ['a first cut', { action: 'cut_rate', factor: 0.5, until: 2000 }, { rate_factor: 1, rate_until: null }, { rate_factor: 0.5, rate_until: 2000 }],
    ['a milder cut keeps the deeper one and the later end', { action: 'cut_rate', factor: 0.8, until: 1500 }, { rate_factor: 0.25, rate_until: 3000 }, { rate_factor: 0.25, rate_until: 3000 }],
    ['a cut without a factor halves', { action: 'cut_rate', factor: null, until: 2000 }, { rate_factor: 1, rate_until: null }, { rate_factor: 0.5, rate_until: 2000 }],
    ['one connection until the later end', { action: 'one_connection', factor: null, until: 2000 }, { rate_factor: 0.5, rate_until: 2500 }, { max_connections: 1, rate_until: 2500 }],
    ['a rule without an end lasts until now', { action: 'one_connection', factor: null, until: null }, { rate_factor: 1, rate_until: null }, { max_connections: 1, rate_until: 1000 }],
  ] as const)('%s', (_t, a, row, set) => {
    expect(shapingFor(a, row, 1000)).toEqual(set);
  });
});
