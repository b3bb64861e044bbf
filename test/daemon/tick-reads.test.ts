/**
 * What a tick reads only when it may have changed (src/daemon/lanes.ts sync, lane-day.ts
 * decideEndedIfDue, day.ts PlanCalendar): a change written by another connection, or by another
 * service of the same process through the daemon's store, is still obeyed at the next tick, timed
 * holds still lapse on time, and ended days are still decided at the first tick past their end.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { dayContext, isSendingDay, PlanCalendar } from '../../src/daemon/day.js';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { createModelMailer, createModelResolver } from '../../src/simulate/mailer.js';
import { defaultModels } from '../../src/simulate/model-file.js';
import { ModelledReceivers } from '../../src/simulate/receivers.js';
import { memoryStore } from '../../src/store/memory/index.js';
import { openSqlite } from '../../src/store/open.js';
import { openPostgres } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { manualClock, type ManualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { fixtureDir, mutate } from '../plan/helpers.js';
import { createPostgresDatabase } from '../peers/peers.js';

const MIN = 60_000;
const DAY = '2026-12-01';
const LANE = { ip: '127.0.0.2', provider: 'gmail' };

function fixturePlan(): Plan {
  // 900 messages a day: a lane sends at every tick ten minutes apart.
  const loaded = loadPlan(mutate('flat: { daily: [5, 10, 20] }', 'flat: { daily: [900, 1000] }'), { file: `${fixtureDir}plan.yaml` });
  if (!loaded.ok) throw new Error('fixture must load');
  return loaded.plan;
}

type Writer = 'another connection' | 'the same store';
const closers: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of closers.splice(0)) await c(); });

/** A daemon on `engine`, and the store a change is written through (`writer`). */
async function setup(engine: 'sqlite' | 'postgres' | 'memory', writer: Writer, at: number): Promise<{ plan: Plan; daemon: Daemon; store: Store; writer: Store; clock: ManualClock; url?: string }> {
  const plan = fixturePlan();
  let store: Store;
  let other: Store;
  let url: string | undefined;
  if (engine === 'sqlite') {
    const path = join(mkdtempSync(join(tmpdir(), 'warmup-tick-reads-')), 'warmup.db');
    const a = await openSqlite(path);
    store = a.store;
    closers.push(() => a.store.close());
    if (writer === 'another connection') {
      const b = await openSqlite(path);
      other = b.store;
      closers.push(() => b.store.close());
    } else other = store;
  } else if (engine === 'postgres') {
    // Two pools on one database: the daemon's, and another process's (warmup pause, another host of a fleet).
    url = await createPostgresDatabase('tick_reads');
    const a = await openPostgres(url);
    store = a.store;
    closers.push(() => a.store.close());
    const b = await openPostgres(url);
    other = b.store;
    closers.push(() => b.store.close());
  } else {
    store = memoryStore();
    other = store;
  }
  const clock = manualClock(at);
  const daemon = new Daemon({
    plan, store, log: createLogger({ level: 'silent' }), clock, resolver: createModelResolver(plan), writeGroupMs: 0,
    mailer: createModelMailer({ plan, receivers: new ModelledReceivers(defaultModels(plan), 1), clock }),
  });
  closers.unshift(() => daemon.stop('SIGTERM'));
  return { plan, daemon, store, writer: other, clock, ...(url ? { url } : {}) };
}

describe('a tick reads what another writer changed', () => {
  it.each([
    ['sqlite', 'another connection'],
    ['sqlite', 'the same store'],
    ['postgres', 'another connection'],
    ['memory', 'the same store'],
  ] as const)('%s, written through %s: a pause stops the lane at the next tick, a resume restarts it, a timed hold lapses on time', async (engine, via) => {
    const { plan, daemon, store, writer, clock } = await setup(engine, via, Date.UTC(2026, 11, 1, 8)); // 09:00 in Paris: the window opens
    await daemon.start({ ticker: false, firstTick: true });
    await daemon.settle();
    const lane = daemon.laneIdOf(LANE.ip, LANE.provider)!;
    const neighbour = daemon.laneIdOf('127.0.0.10', 'gmail')!;
    const sent = async (id: number): Promise<number> => (await store.getLaneDay(id, DAY))?.sent ?? 0;
    const step = async (ms: number): Promise<void> => { clock.advance(ms); await daemon.tick(); await daemon.settle(); };
    await step(10 * MIN);
    const before = await sent(lane);
    await step(10 * MIN);
    expect(await sent(lane)).toBeGreaterThan(before);

    // warmup pause from elsewhere: the next tick sends nothing on the lane, its neighbour goes on.
    await writer.addHold(plan.name, LANE, { kind: 'operator', actor: 'operator', reason: 'PTR being fixed', until: null, eventKind: 'operator_pause' }, clock.now());
    const paused = await sent(lane);
    const other = await sent(neighbour);
    await step(10 * MIN);
    expect(await sent(lane)).toBe(paused);
    expect(await sent(neighbour)).toBeGreaterThan(other);

    // warmup resume from elsewhere: the next tick sends again.
    await writer.removeHolds(plan.name, LANE, { kinds: ['operator'], by: 'operator', reason: 'fixed', eventKind: 'operator_resume' }, clock.now());
    await step(10 * MIN);
    expect(await sent(lane)).toBeGreaterThan(paused);

    // warmup pause --for 30m from elsewhere: held at 20 minutes, lapsed (by this daemon) and sending at 31.
    const t = clock.now();
    await writer.addHold(plan.name, LANE, { kind: 'operator', actor: 'operator', reason: 'for 30 min', until: t + 30 * MIN, eventKind: 'operator_pause' }, t);
    const held = await sent(lane);
    await step(20 * MIN);
    expect(await sent(lane)).toBe(held);
    expect(await store.listHolds(plan.name, [lane])).toHaveLength(1);
    await step(11 * MIN);
    expect(await store.listHolds(plan.name, [lane])).toEqual([]);
    expect((await store.listEvents(plan.name, { kinds: ['hold_lapsed'] })).map((e) => [e.lane_id, e.at])).toEqual([[lane, t + 31 * MIN]]);
    expect(await sent(lane)).toBeGreaterThan(held);
  });

  it('sqlite, another connection: a timed hold added while another one is due later lapses at its own end', async () => {
    const { plan, daemon, store, writer, clock } = await setup('sqlite', 'another connection', Date.UTC(2026, 11, 1, 8));
    await daemon.start({ ticker: false, firstTick: true });
    const t = clock.now();
    // The daemon reads the first hold's end (2 h), then another process adds one ending sooner.
    await writer.addHold(plan.name, { ip: '127.0.0.10', provider: 'gmail' }, { kind: 'operator', actor: 'operator', reason: '2 h', until: t + 120 * MIN, eventKind: 'operator_pause' }, t);
    clock.advance(MIN);
    await daemon.tick();
    await writer.addHold(plan.name, LANE, { kind: 'operator', actor: 'operator', reason: '10 min', until: t + 10 * MIN, eventKind: 'operator_pause' }, clock.now());
    clock.advance(MIN);
    await daemon.tick();
    expect(await store.listHolds(plan.name)).toHaveLength(2);
    clock.set(t + 10 * MIN);
    await daemon.tick();
    expect((await store.listHolds(plan.name)).map((h) => h.reason)).toEqual(['2 h']);
    clock.set(t + 120 * MIN);
    await daemon.tick();
    expect(await store.listHolds(plan.name)).toEqual([]);
    await daemon.settle();
  });
});

describe('PostgreSQL: an event id that becomes visible after a newer one', () => {
  it('a pause whose transaction commits after a newer event was read still stops the lane at the next tick', async () => {
    const { plan, daemon, store, writer, clock, url } = await setup('postgres', 'another connection', Date.UTC(2026, 11, 1, 8));
    await daemon.start({ ticker: false, firstTick: true });
    await daemon.settle();
    const lane = daemon.laneIdOf(LANE.ip, LANE.provider)!;
    const sent = async (): Promise<number> => (await store.getLaneDay(lane, DAY))?.sent ?? 0;
    const step = async (ms: number): Promise<void> => { clock.advance(ms); await daemon.tick(); await daemon.settle(); };
    await step(10 * MIN);

    // A gate the pause's commit waits at (a deferred trigger on its event takes a lock this test holds):
    // its event id is taken, its commit is not done.
    const gate = new pg.Client({ connectionString: url });
    await gate.connect();
    closers.push(() => gate.end());
    await gate.query(`create function wait_at_gate() returns trigger language plpgsql as $$ begin perform pg_advisory_xact_lock_shared(4242); return null; end $$`);
    await gate.query(`create constraint trigger gate after insert on events deferrable initially deferred for each row when (new.kind = 'operator_pause') execute function wait_at_gate()`);
    await gate.query('select pg_advisory_lock(4242)');
    const pausing = writer.addHold(plan.name, LANE, { kind: 'operator', actor: 'operator', reason: 'PTR being fixed', until: null, eventKind: 'operator_pause' }, clock.now());
    const waiting = async (event: string): Promise<boolean> => {
      const { rows } = await gate.query(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and wait_event = $1`, [event]);
      return rows[0].n > 0;
    };
    for (let i = 0; !(await waiting('advisory')); i++) {
      if (i > 500) throw new Error('the pause never reached its commit');
      await new Promise((r) => setTimeout(r, 10));
    }
    // A newer event commits first; the daemon reads it and the lanes (the pause not visible yet).
    // The tick's sends then wait for the pause's transaction (their rows name the lane); it is let
    // through once they do (or the tick is done).
    await store.addEvent({ at: clock.now(), plan: plan.name, kind: 'note', actor: 'test', cause: {} });
    let ticked = false;
    const ticking = step(10 * MIN).then(() => { ticked = true; });
    for (let i = 0; !ticked && !(await waiting('transactionid')); i++) {
      if (i > 500) throw new Error('the tick neither ended nor waited for the pause');
      await new Promise((r) => setTimeout(r, 10));
    }
    await gate.query('select pg_advisory_unlock(4242)');
    await pausing;
    await ticking;
    // No newer event since: the lane still stops at the next tick.
    await step(MIN);
    const paused = await sent();
    await step(10 * MIN);
    await step(10 * MIN);
    expect(await sent()).toBe(paused);
    expect((await store.loadLanes(plan.name)).find((l) => l.id === lane)?.state).not.toBe('active');
  });
});

describe('the day-end pass looks when a day may have ended', () => {
  it.each(['sqlite', 'memory'] as const)('%s: an ended day is decided at the first tick past its window end and the tick grace, not before', async (engine) => {
    const { plan, daemon, store, clock } = await setup(engine, 'the same store', Date.UTC(2026, 11, 1, 16)); // 17:00 in Paris
    await daemon.start({ ticker: false, firstTick: true });
    await daemon.settle();
    const windowEnd = Date.UTC(2026, 11, 1, 17); // 18:00 in Paris
    const grace = 2000; // two ticks of 1 s at speed 1
    const decided = async (): Promise<number> => (await store.laneDays(plan.name, DAY)).filter((d) => d.decision !== null).length;
    for (const at of [windowEnd - 30 * MIN, windowEnd - 30_000, windowEnd + grace - 1]) {
      clock.set(at);
      await daemon.tick();
      await daemon.settle();
    }
    expect(await decided()).toBe(0);
    clock.set(windowEnd + grace);
    await daemon.tick();
    // Every day of the date is decided now but those whose retries have not settled yet.
    const days = await store.laneDays(plan.name, DAY);
    expect(days.length).toBeGreaterThan(0);
    for (const d of days) {
      if (d.decision === null) expect(await store.unsettledMessages(d.lane_id, DAY), `${d.ip}/${d.provider}`).toBeGreaterThan(0);
    }
    expect(await decided()).toBeGreaterThan(0);
    await daemon.settle();
  });
});

describe('PlanCalendar', () => {
  it('gives what dayContext and isSendingDay give at every instant, across midnights and DST changes', () => {
    const plan = fixturePlan();
    const calendar = new PlanCalendar(plan);
    const spans = [[Date.UTC(2026, 2, 27, 20), Date.UTC(2026, 2, 30, 4)], [Date.UTC(2026, 9, 23, 20), Date.UTC(2026, 9, 26, 4)], [Date.UTC(2026, 10, 30), Date.UTC(2026, 11, 9)]] as const;
    let n = 0;
    for (const [from, to] of spans) {
      for (let t = from; t < to; t += 7 * MIN + 13_000) {
        const { ctx, sendingIps } = calendar.at(t);
        expect(ctx, new Date(t).toISOString()).toEqual(dayContext(plan, t));
        expect([...sendingIps].sort()).toEqual(plan.ips.filter((ip) => isSendingDay(plan, ip, ctx.date)).map((ip) => ip.address).sort());
        n++;
      }
      // Going back in time is answered too.
      expect(calendar.at(from).ctx).toEqual(dayContext(plan, from));
    }
    expect(n).toBeGreaterThan(2000);
  });
});
