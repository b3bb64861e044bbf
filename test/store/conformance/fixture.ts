/**
 * Shared setup of the conformance tests: a plan's lanes and an open day,
 * attempts with defaults, all through the `Store` interface only.
 */
import type { AttemptRecord } from '../../../src/store/messages.js';
import type { Store } from '../../../src/store/store.js';
import type { LaneRow } from '../../../src/store/schema.js';

export const PLAN = 'p';
export const DAY = '2026-12-01';

/** Runs `fn` on a fresh store from `open`, closing it afterwards. */
export async function withStore(open: () => Promise<Store>, fn: (s: Store) => Promise<void>): Promise<void> {
  const s = await open();
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

/** Lanes 127.0.0.2 and 127.0.0.3 x gmail and yahoo (ids 1-4 in that order). */
export async function fourLanes(s: Store, now = 1): Promise<LaneRow[]> {
  return s.ensureLanes(PLAN, [
    { ip: '127.0.0.2', provider: 'gmail' }, { ip: '127.0.0.2', provider: 'yahoo' },
    { ip: '127.0.0.3', provider: 'gmail' }, { ip: '127.0.0.3', provider: 'yahoo' },
  ], now);
}

/** Opens `day` on a lane (stage 1, target 10, window 0..1000). */
export function openDay(s: Store, laneId: number, day = DAY, extra: { stage?: number; target?: number; from?: number; until?: number } = {}): Promise<void> {
  return s.openLaneDay({ lane_id: laneId, day, stage: extra.stage ?? 1, target: extra.target ?? 10, spread_from: extra.from ?? 0, spread_until: extra.until ?? 1000 }, 1);
}

/** An attempt of message `messageId` on lane `laneId`, accepted unless overridden. */
export function attempt(messageId: number, laneId: number, over: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    messageId, laneId, day: DAY, startedAt: 10, latencyMs: 5, mxHost: 'mx.test', mxAddress: '127.0.0.9',
    outcome: 'accepted', code: 250, enhanced: '2.0.0', reply: '250 2.0.0 ok', stage: 'dot', retry: 0, ...over,
  };
}

/** A deferral attempt. */
export function deferral(messageId: number, laneId: number, reply = '421 4.7.0 try again later', over: Partial<AttemptRecord> = {}): AttemptRecord {
  return attempt(messageId, laneId, { outcome: 'deferred', code: 421, enhanced: '4.7.0', reply, ...over });
}

/** Creates `n` messages on a lane's day (Message-IDs m<lane>-<i>@x.test). */
export function messages(s: Store, laneId: number, n: number, now = 5, day = DAY, from = 1) {
  return s.createMessages(Array.from({ length: n }, (_, i) => ({ laneId, day, recipient: `r${i + from}@${laneId}.test`, messageId: `m${laneId}-${i + from}-${day}@x.test` })), now);
}
