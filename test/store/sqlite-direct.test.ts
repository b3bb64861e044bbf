import { describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/store/open.js';
import * as q from '../../src/store/queries.js';

/** A store with one lane and its day open. */
async function oneLane() {
  const store = await openSqlite(':memory:');
  const [lane] = await q.ensureLanes(store.db, 'p', [{ ip: '127.0.0.2', provider: 'gmail' }], 1);
  await q.openLaneDay(store.db, { lane_id: lane!.id, day: '2026-12-01', stage: 1, target: 9, spread_from: 0, spread_until: 10 }, 1);
  return { store, laneId: lane!.id };
}

/** A transaction that creates one message, then holds the connection ~30 ms and rolls back; resolves `entered` once it has written. */
function heldTransaction(store: Awaited<ReturnType<typeof oneLane>>['store'], laneId: number, messageId: string) {
  let inside!: () => void;
  const entered = new Promise<void>((r) => (inside = r));
  const done = store.store.transaction(async (t) => {
    await t.createMessages([{ laneId, day: '2026-12-01', recipient: 'b@gmail.com', messageId }], 2);
    inside();
    await new Promise((r) => setTimeout(r, 30));
    throw new Error('rolled back');
  });
  return { entered, done };
}

describe('fixed SQL on better-sqlite3 directly (src/store/sqlite-direct.ts)', () => {
  it('a read outside a transaction waits for a transaction under way instead of seeing its uncommitted rows', async () => {
    const { store, laneId } = await oneLane();
    const { entered, done: tx } = heldTransaction(store, laneId, 'm1@x.test');
    await entered;
    // Both fixed SQL (queueCounts) and the builder's (getLaneDay) run after the rollback.
    const [queue, day] = await Promise.all([store.store.queueCounts('p'), store.store.getLaneDay(laneId, '2026-12-01')]);
    await expect(tx).rejects.toThrow('rolled back');
    expect(queue).toEqual(new Map());
    expect(day!.sent).toBe(0);
    await store.close();
  });

  it('a write outside a transaction does not join one under way (it waits, and survives the rollback)', async () => {
    const { store, laneId } = await oneLane();
    const [m] = await store.store.createMessages([{ laneId, day: '2026-12-01', recipient: 'a@gmail.com', messageId: 'm1@x.test' }], 2);
    const { entered, done: tx } = heldTransaction(store, laneId, 'm2@x.test');
    await entered;
    const written = store.store.recordAttempts([{
      attempt: { messageId: m!.id, laneId, day: '2026-12-01', startedAt: 3, latencyMs: 1, mxHost: null, mxAddress: null, outcome: 'accepted', code: 250, enhanced: null, reply: '250 ok', stage: 'dot', retry: 0 },
      result: { status: 'accepted', at: 3 },
    }]);
    await expect(tx).rejects.toThrow('rolled back');
    await written;
    const day = await store.store.getLaneDay(laneId, '2026-12-01');
    expect([day!.sent, day!.accepted]).toEqual([1, 1]);
    expect(await store.store.queueCounts('p')).toEqual(new Map());
    await store.close();
  });

  it('a failing statement rejects (and rolls its transaction back) as through kysely', async () => {
    const { store, laneId } = await oneLane();
    await expect(store.store.createMessages([
      { laneId, day: '2026-12-01', recipient: 'a@gmail.com', messageId: 'same@x.test' }, { laneId, day: '2026-12-01', recipient: 'b@gmail.com', messageId: 'same@x.test' },
    ], 2)).rejects.toThrow(/UNIQUE/);
    expect((await store.store.getLaneDay(laneId, '2026-12-01'))!.sent).toBe(0);
    await store.close();
  });
});
