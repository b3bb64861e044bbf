import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import * as q from '../../src/store/queries.js';

describe('attempt counters', () => {
  it.each([
    ['a final DNS answer (no such domain) is a bounce only', { outcome: 'dns' as const }, { bounced: 1, failed: 0 }],
    ['a local error (nothing sent) is a failure only', { outcome: 'protocol' as const, local: true }, { bounced: 0, failed: 1 }],
    ['a 5xx answer is a bounce only', { outcome: 'bounced' as const }, { bounced: 1, failed: 0 }],
  ])('%s', async (_t, attempt, expected) => {
    const store = await openStore(':memory:');
    const [lane] = await q.ensureLanes(store.db, 'p', [{ ip: '127.0.0.2', provider: 'gmail' }], 1);
    await q.openLaneDay(store.db, { lane_id: lane!.id, day: '2026-12-01', stage: 1, target: 1, spread_from: 0, spread_until: 10 }, 1);
    const { id } = await q.createMessage(store.db, { laneId: lane!.id, day: '2026-12-01', recipient: 'a@gmail.com', messageId: 'm1@x.test', now: 1 });
    await q.recordAttempt(store.db, {
      messageId: id, laneId: lane!.id, day: '2026-12-01', startedAt: 2, latencyMs: null, mxHost: null, mxAddress: null,
      code: null, enhanced: null, reply: 'x', stage: null, retry: 0, ...attempt,
    }, { status: 'bounced', at: 3 });
    expect(await q.getLaneDay(store.db, lane!.id, '2026-12-01')).toMatchObject(expected);
    await store.close();
  });
});
