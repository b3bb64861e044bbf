/**
 * Snapshots for the exposition text test (metrics-text.test.ts): every family,
 * label escaping (quote, backslash, newline), a non-ASCII provider, integer,
 * fractional and large values, a lane with no row for today, counts of a lane
 * no longer in the plan, listed and clear DNSBL answers, fleet leases, and a
 * daemon before its first tick. `metrics-text.expected.txt` is the text the
 * string-building writer of main at 7c1bd5a gave for them, kept to hold the
 * output byte for byte across rewrites for speed.
 */
import type { LaneGauge } from '../../src/store/lanes.js';

const zeros = Array<number>(15).fill(0);

export const LANES: LaneGauge[] = [
  { id: 1, ip: '127.0.0.2', provider: 'gmail', stage: 4, state: 'active', rate_factor: 1, day: [120, 118, 100, 9, 4, 5, 0, 7, 1, 0, 3, 2, 1, 0, 0] },
  { id: 2, ip: '127.0.0.2', provider: 'yahoo', stage: 0, state: 'paused', rate_factor: 0.25, day: null },
  { id: 3, ip: '127.0.0.3', provider: 'we"ird\\name\nx', stage: 12, state: 'suspended', rate_factor: 1 / 3, day: zeros },
  { id: 7, ip: '::1', provider: 'poczta-ö', stage: 1, state: 'active', rate_factor: 0.5, day: [2 ** 53 - 1, 10_000_000, 99_999, 100_000, 9, 10, 99, 100, 999, 1000, 1, 0, 0, 0, 123456789] },
];

export const SNAPSHOT = {
  lanes: LANES,
  attempts: [
    { lane_id: 1, outcome: 'accepted', n: 9_800_123 }, { lane_id: 1, outcome: 'deferred', n: 490 }, { lane_id: 1, outcome: 'timeout', n: 1 },
    { lane_id: 2, outcome: 'bounced', n: 0 }, { lane_id: 3, outcome: 'accepted', n: 5 }, { lane_id: 5, outcome: 'accepted', n: 77 },
    { lane_id: 7, outcome: 'interrupted', n: 2 },
  ],
  queues: new Map([[1, { inFlight: 3, retries: 12 }], [7, { inFlight: 0, retries: 1 }], [9, { inFlight: 4, retries: 4 }]]),
  dnsbl: [
    { id: 1, at: 1_765_000_000_123, ip: '127.0.0.2', zone: 'zen.dnsbl.test', status: 'listed', answer: '127.0.0.2', meaning: null, txt: null },
    { id: 2, at: 1_765_000_000_000, ip: '127.0.0.3', zone: 'bl.dnsbl.test', status: 'clear', answer: null, meaning: null, txt: null },
    { id: 3, at: 1_765_000_001_500, ip: '127.0.0.3', zone: 'zen.dnsbl.test', status: 'error', answer: null, meaning: null, txt: null },
  ],
  leases: [
    { ip: '127.0.0.2', host: 'mta-a', pid: 1, acquiredAt: 1_765_000_000_000, heartbeatAt: 1_765_000_009_000, unattendedAt: null, staleMs: 7_500 },
    { ip: '127.0.0.3', host: 'mta "b"', pid: 2, acquiredAt: 1_765_000_000_000, heartbeatAt: 1_765_000_012_000, unattendedAt: 1_765_000_011_000, staleMs: 7_500 },
  ],
  realNow: 1_765_000_010_250,
  now: 1_765_000_020_000,
  lastTick: 1_765_000_018_500,
};

/** Before the daemon's first tick, nothing leased, nothing listed. */
export const FIRST = { ...SNAPSHOT, lanes: LANES.slice(0, 2), attempts: [], queues: new Map(), dnsbl: [], leases: undefined, realNow: undefined, lastTick: Number.NaN };
