/**
 * The PostgreSQL store against the real PostgreSQL 15 of the test peers: the
 * migrations, numbers, credentials, and the writes several processes make at
 * once. Each test gets a database of its own.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrations } from '../../src/store/migrations.js';
import { openSqlite } from '../../src/store/open.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Database } from '../../src/store/schema.js';
import type { Store } from '../../src/store/store.js';
import { createPostgresDatabase, loadPeers, pgQuery as query } from '../peers/peers.js';
import { expectCarriedOver, seedBefore0016 } from './before-0016.js';

const dir = mkdtempSync(join(tmpdir(), 'warmup-pg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The URL of a fresh database, as the password-only user. */
function asPasswordUser(url: string, password?: string): string {
  const { passwordUser } = loadPeers().postgres;
  return url.replace('//warmup@', `//${passwordUser}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@`);
}

describe('migrations on PostgreSQL 15', () => {
  it('creates the same tables as on SQLite, with identity ids, 8-byte floats, and the migrations recorded by name in order', async () => {
    const url = await createPostgresDatabase('pg_migrate');
    const store = await openPostgresStore(url);
    expect(store.kind).toBe('postgres');
    await store.close();
    const tables = (await query<{ t: string }>(url, "select tablename as t from pg_tables where schemaname = 'public' order by 1")).map((r) => r.t);
    const sqlite = await openSqlite(':memory:');
    const sqliteTables = (await sqlite.db.selectFrom('sqlite_master' as never).select('name' as never).where('type' as never, '=', 'table' as never).execute() as Array<{ name: string }>)
      .map((r) => r.name).filter((n) => !n.startsWith('sqlite_')).sort();
    await sqlite.close();
    expect(tables).toEqual(sqliteTables);
    const cols = await query<{ table_name: string; column_name: string; data_type: string; is_identity: string }>(url,
      "select table_name, column_name, data_type, is_identity from information_schema.columns where table_schema = 'public' and column_name in ('id', 'rate_factor', 'speed', 'lane_id') order by 1, 2");
    for (const c of cols.filter((c) => c.column_name === 'id' && !c.table_name.startsWith('kysely_'))) expect(c, c.table_name).toMatchObject({ data_type: 'bigint', is_identity: 'YES' });
    for (const c of cols.filter((c) => c.column_name === 'lane_id')) expect(c, c.table_name).toMatchObject({ data_type: 'bigint' });
    for (const c of cols.filter((c) => c.column_name === 'rate_factor' || c.column_name === 'speed')) expect(c.data_type).toBe('double precision');
    const applied = (await query<{ name: string }>(url, 'select name from kysely_migration order by timestamp, name')).map((r) => r.name);
    expect(applied).toEqual(Object.keys(migrations));
  });

  it('three daemons opening a new database at once migrate it once, under the advisory lock', async () => {
    const url = await createPostgresDatabase('pg_concurrent');
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore(url)));
    await Promise.all(stores.map((s) => s.close()));
    expect((await query<{ n: number }>(url, 'select count(*)::int as n from kysely_migration'))[0]!.n).toBe(Object.keys(migrations).length);
  });

  it('migration 0016 keys the Postfix log position by (plan, host), carrying what one host kept over, and back', async () => {
    const url = await createPostgresDatabase('pg_per_host');
    const types = { getTypeParser: ((oid: number, format?: 'text') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser };
    const older = () => {
      const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1, types }) }) }); // eslint-disable-line @typescript-eslint/no-explicit-any
      return { db, migrator: new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } }) };
    };
    const before = older();
    expect((await before.migrator.migrateTo('0015_lane_replies_by_day')).error).toBeUndefined();
    await seedBefore0016(before.db);
    const store = await openPostgresStore(url);
    try {
      await expectCarriedOver(store, before.db);
    } finally {
      await store.close();
    }
    const keys = await query<{ def: string }>(url, "select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'postfix_log'::regclass and contype = 'p'");
    expect(keys).toEqual([{ def: 'PRIMARY KEY (plan, host)' }]);
    expect((await before.migrator.migrateTo('0015_lane_replies_by_day')).error).toBeUndefined();
    expect(await before.db.selectFrom('postfix_log').select(['plan', 'inode', 'offset']).orderBy('plan').execute()).toEqual([
      { plan: 'p', inode: '9', offset: 1 }, { plan: 'q', inode: '78', offset: 10 },
    ]);
    await before.db.destroy();
  });

  it('a reader of a database warmup never wrote is told so, and migrates nothing', async () => {
    const url = await createPostgresDatabase('pg_reader');
    await expect(openPostgresStore(url, { readonly: true })).rejects.toMatchObject({ code: 'STORE_MISSING' });
    expect(await query(url, "select 1 from pg_tables where schemaname = 'public'")).toEqual([]);
  });
});

describe('reading PostgreSQL as numbers', () => {
  it('bigint columns, counts, max and min read as numbers; the global pg type parsers are left alone', async () => {
    const url = await createPostgresDatabase('pg_numbers');
    const s = await openPostgresStore(url);
    try {
      const t = 1_796_000_000_123;
      await s.startRun({ plan: 'p', planFile: null, host: 'h', pid: 1, now: t, speed: 1.5, realNow: t });
      const run = await s.lastRun('p');
      expect(run).toMatchObject({ id: 1, started_at: t, speed: 1.5, real_started_at: t });
      const [lane] = await s.ensureLanes('p', [{ ip: '127.0.0.2', provider: 'gmail' }], t);
      await s.openLaneDay({ lane_id: lane!.id, day: '2026-12-01', stage: 1, target: 3, spread_from: t, spread_until: t + 1000 }, t);
      const made = await s.createMessages([1, 2].map((i) => ({ laneId: lane!.id, day: '2026-12-01', recipient: `r${i}@gmail.com`, messageId: `m${i}@x.test` })), t);
      expect(made).toEqual([{ id: 1, seq: 1 }, { id: 2, seq: 2 }]);
      await s.addEvent({ at: t + 5, plan: 'p', kind: 'x', actor: 'operator' });
      expect(await s.newestEventAt('p')).toBe(t + 5);
      expect(await s.lastEventId()).toBe(1);
      expect(await s.unsettledMessages(lane!.id, '2026-12-01')).toBe(2);
      expect(await s.queueCounts('p')).toEqual(new Map([[lane!.id, { inFlight: 2, retries: 0 }]]));
      await s.recordAttempts(made.map((m) => ({
        attempt: { messageId: m.id, laneId: lane!.id, day: '2026-12-01', startedAt: t + 1, latencyMs: 3, mxHost: null, mxAddress: null, outcome: 'deferred' as const, code: 421, enhanced: '4.7.0', reply: '421 4.7.0 later', stage: 'rcpt', retry: 0 },
        result: { status: 'deferred' as const, nextAttemptAt: t + 60_000 },
      })));
      expect(await s.nextRetryDue()).toBe(t + 60_000);
      expect(await s.attemptOutcomeCounts('p')).toEqual([{ lane_id: lane!.id, outcome: 'deferred', n: 2 }]);
      expect(typeof pg.types.getTypeParser(20, 'text')('5')).toBe('string');
    } finally {
      await s.close();
    }
  });
});

describe('credentials', () => {
  it('location never shows the password; the password comes from the URL, PGPASSWORD, a password file or a service file', async () => {
    const { password } = loadPeers().postgres;
    const url = await createPostgresDatabase('pg_creds');
    const withPw = asPasswordUser(url, password);
    const s1 = await openPostgresStore(withPw, { env: {} });
    expect(s1.location).not.toContain(password);
    expect(s1.location).toBe(asPasswordUser(url));
    await s1.close();

    const bare = asPasswordUser(url);
    await (await openPostgresStore(bare, { env: { PGPASSWORD: password } })).close();

    const credentials = join(dir, 'credentials');
    rmSync(credentials, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(credentials);
    writeFileSync(join(credentials, 'warmup-db-password'), `${password}\n`, { mode: 0o600 });
    await (await openPostgresStore(bare, { env: {}, passwordFile: join(credentials, 'warmup-db-password') })).close();

    const u = new URL(url);
    const serviceFile = join(dir, 'pg_service.conf');
    writeFileSync(serviceFile, `# services\n[other]\nhost=127.0.0.1\n\n[warmup-test]\nhost=${u.hostname}\nport=${u.port}\ndbname=${u.pathname.slice(1)}\nuser=${loadPeers().postgres.passwordUser}\npassword=${password}\n`);
    const viaService = await openPostgresStore('postgres://?service=warmup-test', { env: { PGSERVICEFILE: serviceFile } });
    expect(viaService.location).toContain('service=warmup-test');
    await viaService.close();
    const viaEnvService = await openPostgresStore('postgres://', { env: { PGSERVICEFILE: serviceFile, PGSERVICE: 'warmup-test' } });
    await viaEnvService.close();
  });

  it('a wrong password fails with the location and without the password', async () => {
    const url = await createPostgresDatabase('pg_badpw');
    const secret = 'not-the-password-42';
    const err = await openPostgresStore(asPasswordUser(url, secret), { env: {} }).then(() => null, (e: Error & { code: string }) => e);
    expect(err).toMatchObject({ code: 'STORE_OPEN' });
    expect(err!.message).toContain(asPasswordUser(url));
    expect(err!.message).toMatch(/password authentication failed/);
    expect(err!.message).not.toContain(secret);
  });

  it('refuses a URL it cannot use, saying why', async () => {
    await expect(openPostgresStore('postgres://h/db?sslmod=require')).rejects.toMatchObject({ code: 'STORE_URL', message: expect.stringMatching(/unknown parameter "sslmod"/) });
    await expect(openPostgresStore('postgres://h:x/db')).rejects.toMatchObject({ code: 'STORE_URL' });
    await expect(openPostgresStore('postgres://h/db?service=nope', { env: { PGSERVICEFILE: join(dir, 'absent.conf') } })).rejects.toMatchObject({ code: 'STORE_URL', message: expect.stringMatching(/service "nope"/) });
  });
});

describe('several processes writing one database', () => {
  async function twoStores(name: string): Promise<[Store, Store]> {
    const url = await createPostgresDatabase(name);
    return [await openPostgresStore(url), await openPostgresStore(url)];
  }

  it('two claims of the same due retries at once take each message once', async () => {
    const [a, b] = await twoStores('pg_claims');
    try {
      const [lane] = await a.ensureLanes('p', [{ ip: '127.0.0.2', provider: 'gmail' }], 1);
      await a.openLaneDay({ lane_id: lane!.id, day: 'd', stage: 1, target: 50, spread_from: 0, spread_until: 10 }, 1);
      const made = await a.createMessages(Array.from({ length: 40 }, (_, i) => ({ laneId: lane!.id, day: 'd', recipient: `r${i}@gmail.com`, messageId: `c${i}@x.test` })), 1);
      await a.recordAttempts(made.map((m) => ({
        attempt: { messageId: m.id, laneId: lane!.id, day: 'd', startedAt: 2, latencyMs: 1, mxHost: null, mxAddress: null, outcome: 'deferred' as const, code: 421, enhanced: null, reply: '421 later', stage: null, retry: 0 },
        result: { status: 'deferred' as const, nextAttemptAt: 3 + m.seq },
      })));
      const claims = await Promise.all([a, b, a, b].map((s) => s.claimDueRetries(100, [{ laneId: lane!.id, limit: 15 }], 1e9)));
      const ids = claims.flatMap((c) => c.claimed.map((m) => m.id));
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(40);
      for (const c of claims) expect(c.claimed.map((m) => m.seq)).toEqual([...c.claimed.map((m) => m.seq)].sort((x, y) => x - y));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('groups of attempts and ticks of sends over the same lanes at once, in every order, commit without a deadlock and count each message once', async () => {
    const [a, b] = await twoStores('pg_groups');
    try {
      const lanes = await a.ensureLanes('p', ['gmail', 'yahoo', 'outlook', 'gmx', 'web', 'aol'].map((provider) => ({ ip: '127.0.0.2', provider })), 1);
      for (const l of lanes) await a.openLaneDay({ lane_id: l.id, day: 'd', stage: 1, target: 500, spread_from: 0, spread_until: 10 }, 1);
      let n = 0;
      const batch = (order: typeof lanes, per: number) => order.flatMap((l) => Array.from({ length: per }, () => ({ laneId: l.id, day: 'd', recipient: `r${++n}@x.test`, messageId: `g${n}@x.test` })));
      const made = await a.createMessages(batch(lanes, 20), 1);
      const rows = made.map((m, i) => ({ ...m, laneId: lanes[Math.floor(i / 20)]!.id }));
      const attempt = (m: { id: number; laneId: number }, i: number) => ({
        attempt: { messageId: m.id, laneId: m.laneId, day: 'd', startedAt: 2, latencyMs: 1, mxHost: null, mxAddress: null, outcome: (i % 3 === 0 ? 'deferred' : 'accepted') as 'deferred' | 'accepted', code: i % 3 === 0 ? 421 : 250, enhanced: null, reply: 'x', stage: null, retry: 0 },
        result: i % 3 === 0 ? { status: 'deferred' as const, nextAttemptAt: 50 } : { status: 'accepted' as const, at: 2 },
      });
      // Eight groups, each with one message of every lane, the lanes in a different order in each
      // (ascending, descending, rotated), two processes, with ticks' sends (lane order reversed) in between.
      const groups = Array.from({ length: 8 }, (_, g) => {
        const order = g % 2 === 0 ? [...lanes.keys()] : [...lanes.keys()].reverse();
        const rot = [...order.slice(g % lanes.length), ...order.slice(0, g % lanes.length)];
        return rot.flatMap((li) => [rows[li * 20 + g * 2]!, rows[li * 20 + g * 2 + 1]!]);
      });
      const writes = groups.map((group, g) => (g % 2 ? b : a).recordAttempts(group.map((m) => attempt(m, m.id))));
      const ticks = [0, 1, 2, 3].map((t) => (t % 2 ? a : b).createMessages(batch([...lanes].reverse(), 2), 3));
      const settled = await Promise.allSettled([...writes, ...ticks]);
      expect(settled.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      const recorded = groups.flat();
      for (const l of lanes) {
        const mine = recorded.filter((m) => m.laneId === l.id);
        expect(await a.getLaneDay(l.id, 'd')).toMatchObject({
          sent: 20 + 4 * 2, accepted: mine.filter((m) => m.id % 3 !== 0).length, deferred: mine.filter((m) => m.id % 3 === 0).length,
        });
      }
      const outcomes = await a.attemptOutcomeCounts('p');
      for (const l of lanes) {
        const mine = recorded.filter((m) => m.laneId === l.id);
        expect(outcomes.filter((o) => o.lane_id === l.id).map((o) => [o.outcome, o.n])).toEqual([
          ['accepted', mine.filter((m) => m.id % 3 !== 0).length], ['deferred', mine.filter((m) => m.id % 3 === 0).length],
        ].filter(([, k]) => k !== 0));
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the same hold added by two processes at once is added once; the lease goes to one daemon', async () => {
    const [a, b] = await twoStores('pg_holds');
    try {
      await a.ensureLanes('p', [{ ip: '127.0.0.2', provider: 'gmail' }, { ip: '127.0.0.2', provider: 'yahoo' }], 1);
      const hold = { kind: 'dnsbl' as const, actor: 'dnsbl', reason: 'listed', until: null };
      const changes = (await Promise.all([a, b, a, b].map((s) => s.addHold('p', { ip: '127.0.0.2' }, hold, 5)))).flat();
      expect(changes.filter((c) => c.change === 'added')).toHaveLength(2);
      expect(await a.listHolds('p')).toHaveLength(2);
      expect((await a.listEvents('p')).filter((e) => e.kind === 'hold_added')).toHaveLength(2);
      const claim = (token: string) => ({ host: 'h', pid: 1, token, now: 10, staleMs: 1000, alive: () => true });
      const results = await Promise.all([a.acquireIpLeases('p', ['127.0.0.2'], claim('t1')), b.acquireIpLeases('p', ['127.0.0.2'], claim('t2')), a.acquireIpLeases('p', ['127.0.0.2'], claim('t3'))]);
      expect(results.filter((r) => r.taken.length > 0)).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('placement polling on PostgreSQL 15', () => {
  it('the pending query reads the placement index, which holds only the messages still to place', async () => {
    const { Kysely, PostgresDialect } = await import('kysely');
    const { pendingPlacements } = await import('../../src/store/placements.js');
    const { attempt, DAY, fourLanes, openDay, PLAN } = await import('./conformance/fixture.js');
    const url = await createPostgresDatabase('pg_placement_pending');
    const store = await openPostgresStore(url);
    await fourLanes(store);
    await openDay(store, 1);
    const rows = await store.createMessages([1, 2, 3].map((i) => ({ laneId: 1, day: DAY, recipient: 'seed@g.test', messageId: `pp${i}@x.test` })), 5);
    for (const r of rows) await store.recordAttempt(attempt(r.id, 1), { status: 'accepted', at: 10 });
    await store.recordPlacements(PLAN, [1, 2].map((i) => ({ messageId: rows[i - 1]!.id, laneId: 1, day: DAY, mailbox: 'seed@g.test', folder: 'INBOX', placement: 'inbox' as const, arrivedAfterMs: 1, checkedAt: 20, engageAt: null })), () => 0.2);
    await store.close();
    // The SQL the store runs, explained with its actual row counts (sequential scans off: a table this small would be read whole).
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const texts: Array<{ sql: string; parameters: readonly unknown[] }> = [];
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }), log: (e) => { texts.push(e.query); } });
    try {
      expect((await pendingPlacements(db, PLAN, ['seed@g.test'])).map((p) => p.message_id)).toEqual(['pp3@x.test']);
      await c.query('set enable_seqscan = off');
      const plan = ((await c.query(`explain (analyze, format json) ${texts[0]!.sql}`, [...texts[0]!.parameters])).rows as Array<{ 'QUERY PLAN': unknown }>)[0]!['QUERY PLAN'];
      const scans: Array<{ 'Relation Name'?: string; 'Index Name'?: string; 'Actual Rows'?: number; Plans?: unknown[] }> = [];
      const walk = (n: { Plans?: unknown[] }) => { scans.push(n as never); for (const k of n.Plans ?? []) walk(k as never); };
      walk((plan as Array<{ Plan: never }>)[0]!.Plan);
      const onMessages = scans.filter((s) => s['Relation Name'] === 'messages');
      expect(onMessages.map((s) => [s['Index Name'], s['Actual Rows']])).toEqual([['messages_placement_pending', 1]]);
    } finally {
      await db.destroy();
      await c.end();
    }
  });
});
