/**
 * `warmup store copy` against the real PostgreSQL 15 of the test peers: a
 * SQLite store filled by a short simulated run (the daemon's own scheduler,
 * policy and store; modelled receivers) copied into a new database, then read
 * back through `warmup status`, `warmup events` and the store's reads on both
 * sides. Each test makes its own database.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { loadPlanFile } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { defaultModels } from '../../src/simulate/model-file.js';
import { simulatePlan } from '../../src/simulate/run.js';
import { copySqliteToPostgres, type CopyOptions } from '../../src/store/copy.js';
import { openStore } from '../../src/store/open.js';
import { MIGRATION_LOCK_KEY, openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { createLogger } from '../../src/util/log.js';
import { createPostgresDatabase, pgQuery as query } from '../peers/peers.js';
import { SIM_PLAN } from '../simulate/helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'warmup-copy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const planFile = join(dir, 'sim-test.yaml');
const source = join(dir, 'warmup.db');
let plan: Plan;

/** Every table of the public schema with its row count (what "the target as it was" means). */
async function tableCounts(url: string): Promise<Record<string, number>> {
  const tables = await query<{ t: string }>(url, "select tablename as t from pg_tables where schemaname = 'public' order by 1");
  const out: Record<string, number> = {};
  for (const { t } of tables) out[t] = Number((await query<{ n: string }>(url, `select count(*) as n from "${t}"`))[0]!.n);
  return out;
}

async function cli(...argv: string[]) {
  const io = memoryIo({}, dir);
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

/** A copy of the source file to change (the shared one stays as the simulation left it). */
function sourceCopy(name: string): string {
  const path = join(dir, name);
  copyFileSync(source, path);
  return path;
}

const copyOptions = (from: string, to: string): CopyOptions => ({ from, to, now: Date.now(), host: 'copy-test', alive: () => false });

beforeAll(async () => {
  writeFileSync(planFile, SIM_PLAN);
  const loaded = loadPlanFile(planFile, { secrets: 'skip' });
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join('\n'));
  plan = loaded.plan;
  const store = await openStore(source);
  try {
    await simulatePlan({ plan, models: defaultModels(plan), seed: 3, store, log: createLogger({ level: 'silent' }), days: 3 });
    // What a simulation does not write: an operator hold, DNSBL answers, and the lease a crashed
    // daemon left (its heartbeat stopped long ago: the copy takes it as it is).
    const now = await store.storeNow(plan.name, Date.now());
    await store.addHold(plan.name, { ip: '127.0.0.122', provider: 'yahoo' }, { kind: 'operator', actor: 'operator', reason: 'moving to the fleet', until: null, eventKind: 'operator_pause' }, now);
    await store.recordDnsblResults([{ ip: '127.0.0.121', zone: 'zen.dnsbl.test', status: 'listed', answer: '127.0.0.2', meaning: 'SBL', txt: 'Listed: see "x"' }], now);
    await store.acquireIpLeases(plan.name, ['127.0.0.121'], { host: 'old-host', pid: 999_999, token: 't', now: Date.now() - 3_600_000, staleMs: 7_500, alive: () => false });
  } finally {
    await store.close();
  }
}, 300_000);

/** The store reads status, events, report and metrics make, as comparable values. */
async function reads(store: Store): Promise<Record<string, unknown>> {
  const lanes = await store.loadLanes(plan.name);
  const ids = lanes.map((l) => l.id);
  const ips = plan.ips.map((i) => i.address);
  const day = (await store.latestLaneDay(plan.name, '2099-01-01'))!;
  const sorted = <T>(rows: T[]) => rows.map((r) => JSON.stringify(r)).sort();
  return {
    lanes, day, lastRun: await store.lastRun(plan.name), storeNow: await store.storeNow(plan.name, 0),
    laneDays: await store.laneDays(plan.name), laneHistory: sorted(await store.laneHistory(plan.name)),
    decisionTallies: sorted(await store.decisionTallies(plan.name)), holds: await store.listHolds(plan.name),
    queues: [...(await store.laneQueues(plan.name)).entries()], queueCounts: [...(await store.queueCounts(plan.name)).entries()],
    outcomes: sorted(await store.attemptOutcomeCounts(plan.name)), events: await store.listEvents(plan.name),
    lastEventId: await store.lastEventId(), kinds: await store.eventKindsSeen(plan.name),
    lastReplies: [...(await store.lastReplies(ids)).entries()], replyCounts: [...(await store.replyCounts(ids, day)).entries()],
    dayReplies: await store.dayReplies(ids[0]!, day), dnsbl: await store.latestDnsblResults(ips), ipLeases: await store.ipLeases(plan.name),
  };
}

describe('warmup store copy: a SQLite store into PostgreSQL', () => {
  let url: string;

  it('copies every table in one go, counts verified, and every read answers as on the SQLite file', async () => {
    url = await createPostgresDatabase('copy_main');
    const r = await cli('store', 'copy', '--from', source, '--to', url);
    expect(r.err).not.toMatch(/STORE_/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^attempts\s+[\d,]+\s+\d+$/m);
    expect(r.out).toMatch(/every table's row count verified on both sides/);

    // Row for row: each table holds as many rows as the file's.
    const file = new Sqlite(source, { readonly: true });
    const counts = await tableCounts(url);
    for (const [t, n] of Object.entries(counts)) {
      if (t.startsWith('kysely_')) continue;
      expect(n, t).toBe((file.prepare(`select count(*) as n from "${t}"`).get() as { n: number }).n);
    }
    file.close();
    expect(counts.attempts).toBeGreaterThan(500);
    expect(counts.events).toBeGreaterThan(0);

    const fromFile = await openStore(source, { readonly: true });
    const fromServer = await openPostgresStore(url, { readonly: true });
    try {
      expect(await reads(fromServer)).toEqual(await reads(fromFile));
    } finally {
      await fromFile.close();
      await fromServer.close();
    }
    // What an operator reads: status (the fleet's heartbeat age aside: wall clock), its queue, the events.
    const same = async (...argv: string[]) => {
      const a = await cli(...argv, '--db', source);
      const b = await cli(...argv, '--db', url);
      expect(a.code).toBe(0);
      const clean = (s: string) => s.replace(/"heartbeatAgoMs": \d+/g, '').replace(/\(\d+[smhd] ago\)|\d+h ago|\d+m ago/g, '');
      expect(clean(b.out)).toEqual(clean(a.out));
      return a.out;
    };
    expect(await same('status', planFile, '--json')).toMatch(/"lanes"/);
    await same('status', planFile, '--queue');
    await same('events', planFile, '--json');
  }, 120_000);

  it('hands out the next ids after the copied ones: no insert collides', async () => {
    const before = await query<{ m: string }>(url, 'select (select max(id) from events) as m union all select (select max(id) from runs) union all select (select max(id) from messages)');
    const store = await openPostgresStore(url);
    try {
      const runId = await store.startRun({ plan: plan.name, planFile, host: 'mta2', pid: 1, now: 1_800_000_000_000, speed: 1, realNow: Date.now() });
      expect(runId).toBe(Number(before[1]!.m) + 1);
      await store.addEvent({ at: 1_800_000_000_000, plan: plan.name, kind: 'note', actor: 'operator', cause: { reason: 'after the copy' } });
      expect(await store.lastEventId()).toBe(Number(before[0]!.m) + 1);
      const [lane] = await store.loadLanes(plan.name);
      const day = (await store.latestLaneDay(plan.name, '2099-01-01'))!;
      const m = await store.createMessage({ laneId: lane!.id, day, recipient: 's1@gmail.com', messageId: 'after-copy@warmup.test', now: 1_800_000_000_000 });
      expect(m.id).toBe(Number(before[2]!.m) + 1);
    } finally {
      await store.close();
    }
  });

  it('refuses a target that holds rows (exit 1, nothing written); --replace copies over them in one transaction', async () => {
    const before = await tableCounts(url);
    const r = await cli('store', 'copy', '--from', source, '--to', url);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/STORE_COPY_TARGET_NOT_EMPTY: postgres:\/\/warmup@.* already holds rows \(.*attempts.*\): nothing was written/);
    expect(await tableCounts(url)).toEqual(before);

    const again = await cli('store', 'copy', '--from', source, '--to', url, '--replace', '--json');
    expect(again.code).toBe(0);
    const result = JSON.parse(again.out) as { tables: Array<{ table: string; rows: number; nextId: number | null }> };
    const after = await tableCounts(url);
    // The rows written after the first copy are gone; the copied ones are back.
    expect(after.events).toBe(before.events! - 1);
    expect(after.runs).toBe(before.runs! - 1);
    expect(result.tables.find((t) => t.table === 'events')!.nextId).toBe(after.events! + 1);
  }, 120_000);
});

describe('warmup store copy: nothing written when it fails', () => {
  it('a failure mid-copy (after batches of attempts went in) leaves a new database as it was: no table at all', async () => {
    const url = await createPostgresDatabase('copy_abort');
    const batches: string[] = [];
    await expect(copySqliteToPostgres({
      ...copyOptions(source, url), batchRows: 100,
      onBatch: (table, rows) => { batches.push(table); if (table === 'attempts' && rows >= 300) throw new Error('interrupted'); },
    })).rejects.toMatchObject({ code: 'STORE_COPY_FAILED', message: expect.stringContaining('copying table attempts failed: interrupted') });
    expect(batches.filter((t) => t === 'attempts')).toHaveLength(3);
    expect(batches.length).toBeGreaterThan(3);
    expect(await tableCounts(url)).toEqual({});
  });

  it('Ctrl-C of `warmup store copy` inside its transaction leaves a new database as it was', async () => {
    const url = await createPostgresDatabase('copy_sigint');
    const db = new URL(url).pathname.slice(1);
    // Holding the migrations' lock stops the copy inside its transaction (begun, waiting to migrate).
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'store', 'copy', '--from', source, '--to', url], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      const waiting = `select count(*)::int as n from pg_stat_activity where datname = '${db}' and wait_event = 'advisory' and state = 'active'`;
      let seen = false;
      for (let i = 0; i < 600 && !seen; i++) {
        seen = (await query<{ n: number }>(url, waiting))[0]!.n > 0;
        if (!seen) await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen).toBe(true);
      child.kill('SIGINT');
      expect(await exited).toBe('SIGINT');
    } finally {
      await holder.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      await holder.end();
    }
    // The copy's server process finds its client gone and rolls back.
    const left = `select count(*)::int as n from pg_stat_activity where datname = '${db}' and application_name = 'warmup'`;
    for (let i = 0; i < 100 && (await query<{ n: number }>(url, left))[0]!.n > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await tableCounts(url)).toEqual({});
  }, 120_000);

  it('a value PostgreSQL cannot hold (2^31 in an integer column) is named, and leaves the target as it was', async () => {
    const url = await createPostgresDatabase('copy_value');
    const file = sourceCopy('too-big.db');
    const db = new Sqlite(file);
    db.prepare('update attempts set code = ? where id = (select max(id) from attempts)').run(2 ** 31);
    db.close();
    await expect(copySqliteToPostgres(copyOptions(file, url))).rejects.toMatchObject({ code: 'STORE_COPY_VALUE', message: 'attempts.code: 2147483648 is out of the range of column type int4' });
    expect(await tableCounts(url)).toEqual({});
  });

  it('refuses a source a daemon is running on (a lease renewed seconds ago)', async () => {
    const url = await createPostgresDatabase('copy_running');
    const file = sourceCopy('running.db');
    const store = await openStore(file);
    await store.acquireIpLeases(plan.name, ['127.0.0.122'], { host: 'mta1', pid: 4242, token: 'live', now: Date.now() - 2_000, staleMs: 7_500, alive: () => true });
    await store.close();
    const r = await cli('store', 'copy', '--from', file, '--to', url);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/STORE_COPY_DAEMON_RUNNING: a daemon is running on .*running\.db: plan sim-test on host mta1 \(pid 4242\)/);
    expect(await tableCounts(url)).toEqual({});
  });

  it('refuses a source behind this version\'s migrations unless --migrate-source; integers past 2^53 keep every digit', async () => {
    const url = await createPostgresDatabase('copy_old');
    const file = sourceCopy('old.db');
    const db = new Sqlite(file);
    const last = (db.prepare('select max(name) as n from kysely_migration').get() as { n: string }).n;
    db.prepare('delete from kysely_migration where name = ?').run(last);
    db.prepare("insert into dnsbl_results (at, ip, zone, status) values (?, '127.0.0.121', 'big.test', 'clear')").run(2n ** 53n + 1n);
    db.close();
    const refused = await cli('store', 'copy', '--from', file, '--to', url);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`STORE_COPY_SOURCE: ${file} lacks 1 migration of this warmup (${last}): give --migrate-source`);
    expect(await tableCounts(url)).toEqual({});

    const r = await cli('store', 'copy', '--from', file, '--to', url, '--migrate-source', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ sourceMigrated: true });
    expect(await query(url, "select at::text as at from dnsbl_results where zone = 'big.test'")).toEqual([{ at: '9007199254740993' }]);
  });

  it('checks its arguments: --to must be a PostgreSQL URL, the action copy (exit 2)', async () => {
    expect((await cli('store', 'copy', '--from', source, '--to', join(dir, 'x.db'))).err).toContain('--to must be a postgres:// URL');
    expect((await cli('store', 'move', '--from', source, '--to', 'postgres://x/y')).code).toBe(2);
    expect((await cli('store', 'copy', '--to', 'postgres://x/y')).code).toBe(2);
  });
});
