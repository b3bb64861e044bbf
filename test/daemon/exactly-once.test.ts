/**
 * Day-end decisions exactly once across restarts, on the real daemon against
 * the smtp-sink peer: a day whose window ended while no daemon ran is decided
 * at the next start, even when no later sending day would open.
 */
import { describe, expect, it } from 'vitest';
import { load, startDaemon, until, writePlan } from './harness.js';

describe('day-end decisions across restarts', () => {
  it('decides at start a day whose window ended while the daemon was down, after the last ramp day, exactly once', async () => {
    const { file } = writePlan({
      name: 'decide-late', ips: ['127.0.0.151'], ramp: '{ daily: [6] }', launch: '2026-12-02',
      providers: { sink: { domains: ['sink.test'], seeds: ['late-a@sink.test'] } },
    });
    const plan = load(file);
    // 10 min of plan time a real second: stop mid-window with a few sent.
    const first = await startDaemon(plan, { from: '2026-12-01T09:00:00Z', speed: 600 });
    await until('a message accepted', 20_000, async () => {
      const d = await first.db.selectFrom('lane_days').select('accepted').executeTakeFirst();
      return d && d.accepted >= 1 ? d : undefined;
    });
    await first.stop();
    // Back up at 23:00: the window (08:00-20:00) and the retry grace (2 h) are over; day 2 is launch day, when nothing sends.
    const second = await startDaemon(plan, { from: '2026-12-01T23:00:00Z', speed: 1 });
    const days = await second.db.selectFrom('lane_days').select(['day', 'decision', 'decided_at']).execute();
    const events = await second.db.selectFrom('events').select(['kind']).where('kind', 'like', 'day_%').execute();
    // Another pass (a tick) decides nothing twice.
    await second.daemon.tick();
    const again = await second.db.selectFrom('events').select(['kind']).where('kind', 'like', 'day_%').execute();
    await second.stop();
    expect(days).toHaveLength(1);
    expect(days[0]!.decision).not.toBeNull();
    expect(days[0]!.decided_at).toBeGreaterThanOrEqual(Date.parse('2026-12-01T23:00:00Z'));
    expect(events).toHaveLength(1);
    expect(again).toHaveLength(1);
  }, 60_000);
});

describe('deciding after the retries settle', () => {
  it('waits while a message of the day is still deferred, then decides at the retry grace (default 2 h after the window)', async () => {
    const { openSqlite } = await import('../../src/store/open.js');
    const q = await import('../../src/store/queries.js');
    const { file } = writePlan({
      name: 'decide-grace', ips: ['127.0.0.166'], ramp: '{ daily: [2] }', launch: '2026-12-03',
      providers: { sink: { domains: ['sink.test'], seeds: ['grace-a@sink.test'] } },
    });
    const plan = load(file);
    const end = Date.parse('2026-12-01T20:00:00Z');
    const store = await openSqlite(plan.storePath);
    const [lane] = await q.ensureLanes(store.db, plan.name, [{ ip: '127.0.0.166', provider: 'sink' }], end - 3_600_000);
    await q.openLaneDay(store.db, { lane_id: lane!.id, day: '2026-12-01', stage: 1, target: 2, spread_from: end - 12 * 3_600_000, spread_until: end }, end - 12 * 3_600_000);
    // One message accepted, one deferred with its retry due only tomorrow.
    for (const [i, status] of (['accepted', 'deferred'] as const).entries()) {
      const { id } = await q.createMessage(store.db, { laneId: lane!.id, day: '2026-12-01', recipient: 'grace-a@sink.test', messageId: `g${i}@news.warmup.test`, now: end - 3_600_000 });
      await store.db.updateTable('messages').set({ status, attempts: 1, next_attempt_at: status === 'deferred' ? end + 86_400_000 : null }).where('id', '=', id).execute();
    }
    await store.close();
    const early = await startDaemon(plan, { from: '2026-12-01T21:00:00Z', speed: 1 });
    await early.daemon.tick();
    const before = await early.db.selectFrom('lane_days').select('decision').executeTakeFirstOrThrow();
    await early.stop();
    expect(before.decision).toBeNull();
    const late = await startDaemon(plan, { from: '2026-12-01T22:00:01Z', speed: 1 });
    const after = await late.db.selectFrom('lane_days').select(['decision', 'decided_at']).executeTakeFirstOrThrow();
    await late.stop();
    expect(after.decision).not.toBeNull();
    expect(after.decided_at).toBeGreaterThanOrEqual(end + 2 * 3_600_000);
  }, 60_000);
});
