import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openSqlite } from '../../src/store/open.js';
import { WarmupError } from '../../src/util/errors.js';
import { expectCarriedOver, seedBefore0016 } from './before-0016.js';

const dir = mkdtempSync(join(tmpdir(), 'warmup-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the store on a real SQLite file', () => {
  it('creates the file, applies every migration and uses WAL', async () => {
    const path = join(dir, 'nested', 'warmup.db');
    const store = await openSqlite(path);
    await store.close();
    const raw = new BetterSqlite3(path, { readonly: true });
    const tables = raw.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").pluck().all();
    expect(tables).toEqual(['attempts', 'dnsbl_results', 'events', 'fleet_claims', 'holds', 'ip_leases', 'kysely_migration', 'kysely_migration_lock', 'lane_days', 'lane_last', 'lane_outcomes', 'lane_replies', 'lanes', 'leases', 'messages', 'placements', 'postfix_log', 'runs']);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    const indexes = raw.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'attempts'").pluck().all();
    expect(indexes).toEqual(expect.arrayContaining(['attempts_lane_day']));
    // The last reply of each lane is kept in lane_last (0013): nothing seeks attempts by lane and time.
    expect(indexes).not.toContain('attempts_lane_time');
    raw.close();
  });

  it('migrating again is a no-op that keeps the data', async () => {
    const path = join(dir, 'again.db');
    const first = await openSqlite(path);
    await first.db.insertInto('runs').values({ plan: 'p', plan_file: null, host: 'h', pid: 1, started_at: 1, speed: 1, ended_at: null, end_reason: null }).execute();
    const rerun = await migrate(first.db);
    expect(rerun.error).toBeUndefined();
    expect(rerun.results).toEqual([]);
    await first.close();
    const second = await openSqlite(path);
    expect(await second.db.selectFrom('runs').select('plan').execute()).toEqual([{ plan: 'p' }]);
    await second.close();
  });

  it('a reader refuses a database that does not exist, and creates nothing', async () => {
    const path = join(dir, 'absent.db');
    await expect(openSqlite(path, { readonly: true })).rejects.toMatchObject({ code: 'STORE_MISSING' });
    await expect(openSqlite(path, { readonly: true })).rejects.toBeInstanceOf(WarmupError);
    const { existsSync } = await import('node:fs');
    expect(existsSync(path)).toBe(false);
  });

  it('enforces one lane per (plan, ip, provider)', async () => {
    const store = await openSqlite(join(dir, 'lanes.db'));
    const lane = { plan: 'p', ip: '127.0.0.2', provider: 'gmail', stage: 0, state: 'active' as const, state_until: null, state_reason: null, rate_factor: 1, rate_until: null, max_connections: null, holds_in_row: 0, decided_day: null, updated_at: 0 };
    await store.db.insertInto('lanes').values(lane).execute();
    await expect(store.db.insertInto('lanes').values(lane).execute()).rejects.toThrow(/UNIQUE/);
    await store.close();
  });
});

describe('migration 0006: lane states become holds', () => {
  it('gives each non-active lane the hold of whoever set its state last, and keeps active lanes free', async () => {
    const { Kysely, Migrator, SqliteDialect } = await import('kysely');
    const { migrations } = await import('../../src/store/migrations.js');
    const path = join(dir, 'old.db');
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(path) }) }); // eslint-disable-line @typescript-eslint/no-explicit-any
    const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } });
    expect((await migrator.migrateTo('0005_lane_days_history')).error).toBeUndefined();
    const lane = (ip: string, state: string, until: number | null, reason: string | null) => ({ plan: 'p', ip, provider: 'gmail', stage: 2, state, state_until: until, state_reason: reason, rate_factor: 1, rate_until: null, max_connections: null, holds_in_row: 0, decided_day: null, updated_at: 10 });
    await db.insertInto('lanes').values([lane('127.0.0.2', 'active', null, null), lane('127.0.0.3', 'paused', null, 'by hand'), lane('127.0.0.4', 'suspended', 5000, 'TSS04'),
      lane('127.0.0.5', 'paused', null, 'listed'), lane('127.0.0.6', 'paused', null, 'bounce rate 12%'), lane('127.0.0.7', 'paused', null, 'no event')]).execute();
    const ev = (laneId: number, actor: string, to: string, at: number) => ({ at, plan: 'p', lane_id: laneId, ip: null, provider: null, kind: 'x', from_state: 'active', to_state: to, actor, cause: '{}' });
    await db.insertInto('events').values([ev(2, 'dnsbl', 'paused', 1), ev(2, 'operator', 'paused', 2), ev(3, 'rule:yahoo-tss04', 'suspended', 3), ev(4, 'dnsbl', 'paused', 4), ev(5, 'policy', 'paused', 5)]).execute();
    await db.destroy();
    const store = await openSqlite(path);
    const holds = await store.db.selectFrom('holds').select(['lane_id', 'kind', 'actor', 'reason', 'until', 'created_at']).orderBy('lane_id').execute();
    expect(holds).toEqual([
      { lane_id: 2, kind: 'operator', actor: 'operator', reason: 'by hand', until: null, created_at: 2 },
      { lane_id: 3, kind: 'rule', actor: 'rule:yahoo-tss04', reason: 'TSS04', until: 5000, created_at: 3 },
      { lane_id: 4, kind: 'dnsbl', actor: 'dnsbl', reason: 'listed', until: null, created_at: 4 },
      { lane_id: 5, kind: 'policy', actor: 'policy', reason: 'bounce rate 12%', until: null, created_at: 5 },
      { lane_id: 6, kind: 'operator', actor: 'operator', reason: 'no event', until: null, created_at: 10 },
    ]);
    await store.close();
  });
});

/** A SQLite file at `name` migrated up to `upTo` only, empty. */
async function migratedTo(name: string, upTo: string) {
  const { Kysely, Migrator, SqliteDialect } = await import('kysely');
  const { migrations } = await import('../../src/store/migrations.js');
  const path = join(dir, name);
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(path) }) }); // eslint-disable-line @typescript-eslint/no-explicit-any
  const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } });
  expect((await migrator.migrateTo(upTo)).error).toBeUndefined();
  return { db, path, migrator };
}

/**
 * A SQLite file at `name` migrated up to `upTo` only, with lanes (127.0.0.2, .3, ...: `ips` of
 * them, gmail) and one message on lane 1: what an older warmup left, to write attempts into.
 */
async function olderFile(name: string, upTo: string, ips: number) {
  const { db, path } = await migratedTo(name, upTo);
  const lane = (ip: string) => ({ plan: 'p', ip, provider: 'gmail', stage: 1, state: 'active', state_until: null, state_reason: null, rate_factor: 1, rate_until: null, max_connections: null, holds_in_row: 0, decided_day: null, updated_at: 1 });
  await db.insertInto('lanes').values(Array.from({ length: ips }, (_, i) => lane(`127.0.0.${i + 2}`))).execute();
  await db.insertInto('messages').values({ lane_id: 1, day: '2026-12-01', seq: 1, recipient: 'a@g.test', message_id: 'm1@x', status: 'deferred', attempts: 1, created_at: 1, next_attempt_at: null, finished_at: null }).execute();
  return { db, path };
}

describe('migration 0012: the day\'s replies become running counts', () => {
  it('counts the attempts already written by lane-day, outcome and reply shape; before it, readers count the attempts', async () => {
    const { replyCounts } = await import('../../src/store/replies.js');
    const { db, path } = await olderFile('replies.db', '0011_fleet', 2);
    const att = (laneId: number, day: string, outcome: string, reply: string | null) => ({ message_id: 1, lane_id: laneId, day, started_at: 10, latency_ms: null, mx_host: null, mx_address: null, outcome, code: null, enhanced: null, reply, stage: null, retry: 0 });
    await db.insertInto('attempts').values([
      att(1, '2026-12-01', 'deferred', '421 4.7.0 slow down <a@g.test>'), att(1, '2026-12-01', 'deferred', '421 4.7.0 slow down <b@g.test>'),
      att(1, '2026-12-01', 'deferred', '421 4.7.0 slow down <b@g.test>'), att(1, '2026-12-01', 'timeout', null), att(1, '2026-12-01', 'accepted', '250 ok'),
      att(1, '2026-12-02', 'bounced', '550 5.7.1 spam'), att(2, '2026-12-01', 'deferred', '421 4.7.0 slow down <c@g.test>'),
    ]).execute();
    const expected = new Map([[1, [
      { outcome: 'deferred', reply: '421 4.7.0 slow down <…>', n: 3 },
      { outcome: 'timeout', reply: '(timeout, no reply)', n: 1 },
    ]], [2, [{ outcome: 'deferred', reply: '421 4.7.0 slow down <…>', n: 1 }]]]);
    // A reader on a database the daemon has not migrated yet: counted from the attempts.
    expect(await replyCounts(db, [1, 2], '2026-12-01')).toEqual(expected);
    await db.destroy();
    const store = await openSqlite(path);
    expect(await store.db.selectFrom('lane_replies').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()).toEqual({ n: 4 });
    expect(await store.store.replyCounts([1, 2], '2026-12-01')).toEqual(expected);
    expect(await store.store.replyCounts([1, 2], '2026-12-02')).toEqual(new Map([[1, [{ outcome: 'bounced', reply: '550 5.7.1 spam', n: 1 }]]]));
    await store.close();
  });
});

describe('migration 0013: each lane\'s last attempt is kept', () => {
  it('takes the last attempt of each lane already written (latest start, then latest id); before it, readers seek the attempts', async () => {
    const { lastReplies } = await import('../../src/store/replies.js');
    const { db, path } = await olderFile('last.db', '0012_lane_replies', 3);
    const att = (laneId: number, at: number, outcome: string, code: number | null, reply: string | null) => ({ message_id: 1, lane_id: laneId, day: '2026-12-01', started_at: at, latency_ms: null, mx_host: null, mx_address: null, outcome, code, enhanced: null, reply, stage: null, retry: 0 });
    await db.insertInto('attempts').values([
      att(1, 30, 'accepted', 250, '250 later start'), att(1, 20, 'deferred', 421, '421 written last, started earlier'),
      att(2, 10, 'deferred', 421, '421 first of a tie'), att(2, 10, 'timeout', null, null),
    ]).execute();
    const expected = new Map([
      [1, { at: 30, outcome: 'accepted', code: 250, reply: '250 later start' }],
      [2, { at: 10, outcome: 'timeout', code: null, reply: null }],
    ]);
    expect(await lastReplies(db, [1, 2, 3])).toEqual(expected);
    await db.destroy();
    const store = await openSqlite(path);
    expect(await store.db.selectFrom('lane_last').selectAll().orderBy('lane_id').execute()).toEqual([
      { lane_id: 1, at: 30, outcome: 'accepted', code: 250, reply: '250 later start' }, { lane_id: 2, at: 10, outcome: 'timeout', code: null, reply: null },
    ]);
    expect(await store.store.lastReplies([1, 2, 3])).toEqual(expected);
    await store.close();
  });
});

describe('migration 0014: the hot path\'s indexes hold only what their readers ask for', () => {
  it('rebuilds the placement and evidence indexes as partial ones over the rows already written; the readers answer as before', async () => {
    const { dayReplies } = await import('../../src/store/replies.js');
    const { db, path } = await olderFile('narrow.db', '0013_lane_last', 1);
    await db.insertInto('messages').values([
      { lane_id: 1, day: '2026-12-01', seq: 2, recipient: 'a@g.test', message_id: 'm2@x', status: 'accepted', attempts: 1, created_at: 1, next_attempt_at: null, finished_at: 5 },
      { lane_id: 1, day: '2026-12-01', seq: 3, recipient: 'b@g.test', message_id: 'm3@x', status: 'in_flight', attempts: 0, created_at: 1, next_attempt_at: null, finished_at: null },
    ]).execute();
    const att = (messageId: number, outcome: string, reply: string) => ({ message_id: messageId, lane_id: 1, day: '2026-12-01', started_at: 4, latency_ms: 1, mx_host: null, mx_address: null, outcome, code: null, enhanced: null, reply, stage: null, retry: 0 });
    await db.insertInto('attempts').values([att(1, 'deferred', '451 later'), att(2, 'accepted', '250 ok')]).execute();
    const before = { replies: await dayReplies(db, 1, '2026-12-01') };
    const { Migrator } = await import('kysely');
    const { migrations } = await import('../../src/store/migrations.js');
    expect((await new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } }).migrateTo('0014_narrow_hot_indexes')).error).toBeUndefined();
    await db.destroy();
    const raw = new BetterSqlite3(path, { readonly: true });
    const sqlOf = (name: string) => raw.prepare("select sql from sqlite_master where type = 'index' and name = ?").pluck().get(name);
    expect(sqlOf('messages_recipient_status')).toBeUndefined();
    expect(sqlOf('messages_accepted_recipient')).toMatch(/where "status" = 'accepted'$/);
    expect(sqlOf('attempts_lane_day')).toMatch(/where "outcome" <> 'accepted'$/);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
    // The readers of today (their placement index is 0017's) answer as before.
    const store = await openSqlite(path);
    expect(await store.store.dayReplies(1, '2026-12-01')).toEqual(before.replies);
    expect((await store.store.pendingPlacements('p', ['a@g.test', 'b@g.test'])).map((p) => p.message_id)).toEqual(['m2@x']);
    expect(before.replies.map((r) => r.text)).toEqual(['451 later']);
    await store.close();
  });
});

describe('migration 0015: lane_replies keyed day first', () => {
  it('keeps every running count, stores a day\'s rows together (WITHOUT ROWID, key day first), and the writes still add to them', async () => {
    const { addReplyTallies } = await import('../../src/store/reply-tallies.js');
    const { db, path } = await olderFile('by-day.db', '0014_narrow_hot_indexes', 2);
    const row = (laneId: number, day: string, outcome: string, reply: string, n: number) => ({ lane_id: laneId, day, outcome, reply_key: reply, reply, n });
    await db.insertInto('lane_replies').values([
      row(1, '2026-12-01', 'deferred', '421 slow', 3), row(1, '2026-12-02', 'deferred', '421 slow', 1),
      row(2, '2026-12-01', 'bounced', '550 no', 2), row(2, '2026-12-02', 'timeout', '(timeout, no reply)', 4),
    ]).execute();
    const { replyCounts } = await import('../../src/store/replies.js');
    const before = { one: await replyCounts(db, [1, 2], '2026-12-01'), two: await replyCounts(db, [1, 2], '2026-12-02') };
    await db.destroy();
    const store = await openSqlite(path);
    const raw = new BetterSqlite3(path, { readonly: true });
    const tableSql = raw.prepare("select sql from sqlite_master where type = 'table' and name = 'lane_replies'").pluck().get() as string;
    expect(tableSql).toMatch(/primary key \("day", "lane_id", "outcome", "reply_key"\)\) without rowid$/);
    expect(raw.prepare("select name from sqlite_master where name = 'lane_replies_new'").all()).toEqual([]);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    // The day's counts of the lanes asked for: one seek of the key, day first.
    const plan = raw.prepare(`explain query plan select "lane_id", "outcome", "reply", "n" from "lane_replies" where "lane_id" in (?, ?) and "day" = ?`).all(1, 2, '2026-12-01') as { detail: string }[];
    expect(plan.map((p) => p.detail)).toEqual(['SEARCH lane_replies USING PRIMARY KEY (day=? AND lane_id=?)']);
    raw.close();
    expect(await store.store.replyCounts([1, 2], '2026-12-01')).toEqual(before.one);
    expect(await store.store.replyCounts([1, 2], '2026-12-02')).toEqual(before.two);
    expect(before.one.get(1)).toEqual([{ outcome: 'deferred', reply: '421 slow', n: 3 }]);
    // A write adds to an existing count (the upsert's conflict target is the same key's columns) and starts new ones.
    await addReplyTallies(store.db, [
      { lane_id: 1, day: '2026-12-01', outcome: 'deferred', reply_key: '421 slow', reply: '421 slow', n: 2 },
      { lane_id: 1, day: '2026-12-03', outcome: 'deferred', reply_key: '421 slow', reply: '421 slow', n: 1 },
    ]);
    expect((await store.store.replyCounts([1], '2026-12-01')).get(1)).toEqual([{ outcome: 'deferred', reply: '421 slow', n: 5 }]);
    expect((await store.store.replyCounts([1], '2026-12-03')).get(1)).toEqual([{ outcome: 'deferred', reply: '421 slow', n: 1 }]);
    await store.close();
    // Down again: the lane-first rowid table of 0012, every count kept.
    const { Kysely, Migrator, SqliteDialect } = await import('kysely');
    const { migrations } = await import('../../src/store/migrations.js');
    const back = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(path) }) }); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect((await new Migrator({ db: back, provider: { getMigrations: async () => ({ ...migrations }) } }).migrateTo('0014_narrow_hot_indexes')).error).toBeUndefined();
    expect(await replyCounts(back, [1, 2], '2026-12-02')).toEqual(before.two);
    expect((await replyCounts(back, [1], '2026-12-01')).get(1)).toEqual([{ outcome: 'deferred', reply: '421 slow', n: 5 }]);
    await back.destroy();
    const down = new BetterSqlite3(path, { readonly: true });
    expect(down.prepare("select sql from sqlite_master where type = 'table' and name = 'lane_replies'").pluck().get()).toMatch(/primary key \("lane_id", "day", "outcome", "reply_key"\)\)$/);
    down.close();
  });
});

describe('migration 0015 interrupted', () => {
  it('a failure before its last step leaves lane_replies as it was, and the migration runs whole at the next open', async () => {
    const { migrations } = await import('../../src/store/migrations.js');
    const { db, path } = await olderFile('by-day-broken.db', '0014_narrow_hot_indexes', 1);
    await db.insertInto('lane_replies').values({ lane_id: 1, day: '2026-12-01', outcome: 'deferred', reply_key: '421 slow', reply: '421 slow', n: 3 }).execute();
    // The rename, its last statement, fails (as a kill there would leave it, but with the transaction rolled back).
    const failing = db.withPlugin({
      transformQuery: (args) => { if (args.node.kind === 'AlterTableNode') throw new Error('injected failure'); return args.node; },
      transformResult: async (args) => args.result,
    });
    await expect(migrations['0015_lane_replies_by_day']!.up(failing)).rejects.toThrow('injected failure');
    const tables = (await sql<{ name: string; sql: string }>`select name, sql from sqlite_master where type = 'table' and name like 'lane_replies%'`.execute(db)).rows;
    expect(tables.map((t) => t.name)).toEqual(['lane_replies']);
    expect(tables[0]!.sql).not.toMatch(/without rowid/);
    expect(await db.selectFrom('lane_replies').select(['day', 'n']).execute()).toEqual([{ day: '2026-12-01', n: 3 }]);
    await db.destroy();
    const store = await openSqlite(path);
    expect((await store.store.replyCounts([1], '2026-12-01')).get(1)).toEqual([{ outcome: 'deferred', reply: '421 slow', n: 3 }]);
    await store.close();
    const raw = new BetterSqlite3(path, { readonly: true });
    expect(raw.prepare("select sql from sqlite_master where type = 'table' and name = 'lane_replies'").pluck().get()).toMatch(/without rowid$/);
    raw.close();
  });
});

describe('migration 0016: routing keeps its Postfix log position per host', () => {
  it('keys postfix_log by (plan, host) and names the host of routed messages, carrying what one host kept over', async () => {
    const { db, path } = await migratedTo('per-host.db', '0015_lane_replies_by_day');
    await seedBefore0016(db);
    await db.destroy();
    const store = await openSqlite(path);
    await expectCarriedOver(store.store, store.db);
    await store.close();
    const raw = new BetterSqlite3(path, { readonly: true });
    expect(raw.prepare("select sql from sqlite_master where type = 'table' and name = 'postfix_log'").pluck().get()).toMatch(/primary key \("plan", "host"\)\)$/);
    expect(raw.prepare("select name from sqlite_master where name = 'postfix_log_new'").all()).toEqual([]);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
    // Down again: one position per plan, the most recently saved (mta2's, saved last).
    const back = await migratedTo('per-host.db', '0015_lane_replies_by_day');
    expect(await back.db.selectFrom('postfix_log').selectAll().orderBy('plan').execute()).toEqual([
      { plan: 'p', path: '/var/log/postfix/maillog', inode: '9', offset: 1, updated_at: 5 },
      { plan: 'q', path: '/var/log/postfix/maillog', inode: '78', offset: 10, updated_at: 4 },
    ]);
    expect(Object.keys(await back.db.selectFrom('messages').selectAll().executeTakeFirstOrThrow())).not.toContain('host');
    await back.db.destroy();
  });

  it('a failure at its last step leaves messages and postfix_log as they were, and it runs whole at the next open', async () => {
    const { migrations } = await import('../../src/store/migrations.js');
    const { db, path } = await migratedTo('per-host-broken.db', '0015_lane_replies_by_day');
    await seedBefore0016(db);
    // The rename of the rebuilt table, its last statement, fails (the column added to messages before it too is rolled back).
    const failing = db.withPlugin({
      transformQuery: (args) => { if (args.node.kind === 'AlterTableNode' && args.node.renameTo) throw new Error('injected failure'); return args.node; },
      transformResult: async (args) => args.result,
    });
    await expect(migrations['0016_routing_per_host']!.up(failing)).rejects.toThrow('injected failure');
    const tables = (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name like 'postfix_log%'`.execute(db)).rows;
    expect(tables.map((t) => t.name)).toEqual(['postfix_log']);
    expect(Object.keys(await db.selectFrom('messages').selectAll().executeTakeFirstOrThrow())).not.toContain('host');
    expect(await db.selectFrom('postfix_log').select(['plan', 'offset']).orderBy('plan').execute()).toEqual([{ plan: 'p', offset: 4096 }, { plan: 'q', offset: 10 }]);
    await db.destroy();
    const store = await openSqlite(path);
    await expectCarriedOver(store.store, store.db);
    await store.close();
  });
});

describe('migration 0017: the placement index holds only the messages still to place', () => {
  const older = async (name: string) => {
    const { db, path } = await olderFile(name, '0016_routing_per_host', 1);
    const msg = (seq: number, recipient: string, status: string) => ({ lane_id: 1, day: '2026-12-01', seq, recipient, message_id: `m${seq}@x`, status, attempts: 1, created_at: 1, next_attempt_at: null, finished_at: status === 'accepted' ? 5 : null });
    // m2 placed, m3 accepted and not placed yet, m4 in flight, m5 to a recipient no poll asks for.
    await db.insertInto('messages').values([msg(2, 'a@g.test', 'accepted'), msg(3, 'a@g.test', 'accepted'), msg(4, 'a@g.test', 'in_flight'), msg(5, 'z@g.test', 'accepted')]).execute();
    await db.insertInto('placements').values({ message_id: 2, lane_id: 1, day: '2026-12-01', mailbox: 'a@g.test', folder: 'INBOX', placement: 'inbox', arrived_after_ms: 9, checked_at: 700, engage_at: null, engaged_at: null, engaged: null }).execute();
    return { db, path };
  };

  it('stamps placed_at on the messages already placed, and pending reads only the others', async () => {
    const { db, path } = await older('pending.db');
    await db.destroy();
    const store = await openSqlite(path);
    expect(await store.db.selectFrom('messages').select(['message_id', 'placed_at']).orderBy('id').execute()).toEqual([
      { message_id: 'm1@x', placed_at: null }, { message_id: 'm2@x', placed_at: 700 }, { message_id: 'm3@x', placed_at: null },
      { message_id: 'm4@x', placed_at: null }, { message_id: 'm5@x', placed_at: null },
    ]);
    expect((await store.store.pendingPlacements('p', ['a@g.test'])).map((p) => p.message_id)).toEqual(['m3@x']);
    await store.close();
    const raw = new BetterSqlite3(path, { readonly: true });
    const sqlOf = (name: string) => raw.prepare("select sql from sqlite_master where type = 'index' and name = ?").pluck().get(name);
    expect(sqlOf('messages_accepted_recipient')).toBeUndefined();
    expect(sqlOf('messages_placement_pending')).toMatch(/where "status" = 'accepted' and "placed_at" is null$/);
    // Its entries for the seed: m3 only (m2 is placed, m4 in flight).
    expect(raw.prepare(`select message_id from messages indexed by messages_placement_pending where recipient = 'a@g.test' and status = 'accepted' and placed_at is null`).pluck().all()).toEqual(['m3@x']);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
    // Down again: 0014's index, no placed_at.
    const { Kysely, Migrator, SqliteDialect } = await import('kysely');
    const { migrations } = await import('../../src/store/migrations.js');
    const back = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(path) }) }); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect((await new Migrator({ db: back, provider: { getMigrations: async () => ({ ...migrations }) } }).migrateTo('0016_routing_per_host')).error).toBeUndefined();
    await back.destroy();
    const down = new BetterSqlite3(path, { readonly: true });
    expect(down.prepare("select sql from sqlite_master where type = 'index' and name = 'messages_accepted_recipient'").pluck().get()).toMatch(/where "status" = 'accepted'$/);
    expect(down.prepare('select name from pragma_table_info(\'messages\')').pluck().all()).not.toContain('placed_at');
    down.close();
  });

  it('a failure at its last step leaves messages as they were (SQLite runs it in one transaction), and it runs whole at the next open', async () => {
    const { migrations } = await import('../../src/store/migrations.js');
    const { db, path } = await older('pending-broken.db');
    const failing = db.withPlugin({
      transformQuery: (args) => { if (args.node.kind === 'RawNode' && /create index/.test(JSON.stringify(args.node))) throw new Error('injected failure'); return args.node; },
      transformResult: async (args) => args.result,
    });
    await expect(migrations['0017_placement_pending']!.up(failing)).rejects.toThrow('injected failure');
    const columns = (await sql<{ name: string }>`select name from pragma_table_info('messages')`.execute(db)).rows.map((r) => r.name);
    expect(columns).not.toContain('placed_at');
    expect((await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'messages'`.execute(db)).rows.map((r) => r.name)).toContain('messages_accepted_recipient');
    await db.destroy();
    const store = await openSqlite(path);
    expect((await store.store.pendingPlacements('p', ['a@g.test'])).map((p) => p.message_id)).toEqual(['m3@x']);
    await store.close();
  });
});

describe('migration 0018: a lease keeps its holder\'s staleness window', () => {
  it('adds stale_ms; a lease from before keeps null and is judged by the reader\'s window; down drops it', async () => {
    const { db, path } = await olderFile('lease-stale.db', '0017_placement_pending', 1);
    await db.insertInto('ip_leases').values({ plan: 'p', ip: '127.0.0.2', host: 'a', pid: 1, token: 't', acquired_at: 1000, heartbeat_at: 1000, unattended_at: null }).execute();
    await db.destroy();
    const store = await openSqlite(path);
    expect((await store.store.ipLeases('p')).map((l) => [l.ip, l.staleMs])).toEqual([['127.0.0.2', null]]);
    // Judged by the reader's window (1.5 s), as before the migration.
    expect(await store.store.reportUnattended('p', 2600, 1500, 2600, 'b')).toEqual(['127.0.0.2']);
    await store.close();
    const { Kysely, Migrator, SqliteDialect } = await import('kysely');
    const { migrations } = await import('../../src/store/migrations.js');
    const back = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(path) }) }); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect((await new Migrator({ db: back, provider: { getMigrations: async () => ({ ...migrations }) } }).migrateTo('0017_placement_pending')).error).toBeUndefined();
    await back.destroy();
    const down = new BetterSqlite3(path, { readonly: true });
    expect(down.prepare('select name from pragma_table_info(\'ip_leases\')').pluck().all()).not.toContain('stale_ms');
    expect(down.prepare('select ip from ip_leases').pluck().all()).toEqual(['127.0.0.2']);
    down.close();
  });
});
