/**
 * Retries and attempt writes on the real daemon against the smtp-sink peer
 * (accepts everything): retries obey the lane's caps, stale retries expire at
 * claim time, and a database that refuses writes stops sending (fail closed).
 */
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/store/open.js';
import * as q from '../../src/store/queries.js';
import { load, startDaemon, until, writePlan } from './harness.js';
import { holdingMx } from './holding-mx.js';

const DAY = '2026-12-01';
const T = Date.parse('2026-12-01T10:00:00Z');

/** A plan whose lane has `n` deferred messages due at `due`, created at `created`. */
async function seeded(name: string, ip: string, n: number, created: number, due: number, set: Partial<q.LaneRow> = {}, route?: string) {
  const { file } = writePlan({
    name, ips: [ip], ramp: '{ daily: [1] }', launch: '2026-12-05',
    providers: { sink: { domains: ['sink.test'], seeds: [`${name}@sink.test`] } },
    delivery: ['retry: { intervals: [5m], expire: 12h }', ...(route ? [`routes: { sink: "${route}" }`] : [])],
  });
  const plan = load(file);
  const store = await openSqlite(plan.storePath);
  const [lane] = await q.ensureLanes(store.db, plan.name, [{ ip, provider: 'sink' }], created);
  // The day is open with its one message sent already, so only retries go out.
  await q.openLaneDay(store.db, { lane_id: lane!.id, day: DAY, stage: 1, target: 0, spread_from: T, spread_until: T + 3_600_000 }, created);
  for (let i = 0; i < n; i++) {
    const { id } = await q.createMessage(store.db, { laneId: lane!.id, day: DAY, recipient: `${name}@sink.test`, messageId: `wu-${name}-${i}@news.warmup.test`, now: created });
    await store.db.updateTable('messages').set({ status: 'deferred', next_attempt_at: due, attempts: 1 }).where('id', '=', id).execute();
  }
  if (Object.keys(set).length > 0) await store.db.updateTable('lanes').set(set).where('id', '=', lane!.id).execute();
  await store.close();
  return plan;
}

describe('retries', () => {
  it('go through the lane cap: a lane held to one connection never has more than one retry in flight', async () => {
    const plan = await seeded('retry-cap', '127.0.0.155', 30, T - 600_000, T - 60_000, { max_connections: 1, rate_until: T + 86_400_000 });
    const run = await startDaemon(plan, { from: '2026-12-01T10:00:00Z', speed: 1, tickMs: 20 });
    let most = 0;
    const sampler = setInterval(() => { most = Math.max(most, run.daemon.inFlight); }, 2);
    await until('every retry to be accepted', 30_000, async () => {
      const d = await run.db.selectFrom('lane_days').select('accepted').executeTakeFirst();
      return d && d.accepted === 30 ? d : undefined;
    });
    clearInterval(sampler);
    await run.stop();
    expect(most).toBe(1);
  }, 40_000);

  it('past their expiry are expired when claimed, never sent', async () => {
    // Created three days before, due since: the daemon was down; the plan expires retries after 12 h.
    const plan = await seeded('retry-expire', '127.0.0.156', 5, T - 3 * 86_400_000, T - 2 * 86_400_000);
    const run = await startDaemon(plan, { from: '2026-12-01T10:00:00Z', speed: 1, tickMs: 20 });
    const day = await until('the stale retries to expire', 10_000, async () => {
      const d = await run.db.selectFrom('lane_days').selectAll().executeTakeFirst();
      return d && d.expired === 5 ? d : undefined;
    });
    const attempts = await run.db.selectFrom('attempts').select('id').execute();
    const statuses = await run.db.selectFrom('messages').select('status').execute();
    await run.stop();
    expect(attempts).toEqual([]);
    expect(statuses.every((m) => m.status === 'expired')).toBe(true);
    expect(day).toMatchObject({ accepted: 0, expired: 5 });
  }, 20_000);
});

describe('a database that refuses writes', () => {
  it('retries the attempt write, then stops sending and stops with error; the next start recovers the message', async () => {
    // An MX that holds its answer to the message until told: the write fails while the send is out.
    let release: () => void = () => {};
    const held = new Promise<void>((r) => { release = r; });
    const mx = await holdingMx('127.0.0.158', 2526, held);
    const plan = await seeded('write-fail', '127.0.0.157', 3, T - 600_000, T - 1000, {}, '127.0.0.158:2526');
    const run = await startDaemon(plan, { from: '2026-12-01T10:00:00Z', speed: 1, tickMs: 20, busyTimeoutMs: 20 });
    await until('the retries to be out', 10_000, () => run.daemon.inFlight === 3);
    // Another process takes the write lock (as a full disk refuses writes), then the MX answers.
    const other = new BetterSqlite3(plan.storePath);
    other.exec('begin exclusive');
    release();
    const reason = await Promise.race([run.daemon.stopped, new Promise((r) => setTimeout(() => r('still running'), 20_000))]);
    expect(reason).toBe('error');
    other.exec('rollback');
    other.close();
    await run.store.close();
    const after = await openSqlite(plan.storePath);
    const inFlight = await after.db.selectFrom('messages').select('id').where('status', '=', 'in_flight').execute();
    await after.close();
    // Sent but not recorded: still in flight, to be recorded as interrupted and retried by the next start.
    expect(inFlight.length).toBeGreaterThan(0);
    const again = await startDaemon(plan, { from: '2026-12-01T10:10:00Z', speed: 1, tickMs: 20 });
    await until('the retries to be accepted', 20_000, async () => {
      const d = await again.db.selectFrom('lane_days').select('accepted').executeTakeFirst();
      return d && d.accepted === 3 ? d : undefined;
    });
    const interrupted = await again.db.selectFrom('attempts').select('id').where('outcome', '=', 'interrupted').execute();
    await again.stop();
    await mx.close();
    expect(interrupted.length).toBe(inFlight.length);
  }, 60_000);
});
