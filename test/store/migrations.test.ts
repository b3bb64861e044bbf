import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openStore } from '../../src/store/open.js';
import { WarmupError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'warmup-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the store on a real SQLite file', () => {
  it('creates the file, applies every migration and uses WAL', async () => {
    const path = join(dir, 'nested', 'warmup.db');
    const store = await openStore(path);
    await store.close();
    const raw = new BetterSqlite3(path, { readonly: true });
    const tables = raw.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").pluck().all();
    expect(tables).toEqual(['attempts', 'dnsbl_results', 'events', 'kysely_migration', 'kysely_migration_lock', 'lane_days', 'lanes', 'messages', 'placements', 'runs']);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    const indexes = raw.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'attempts'").pluck().all();
    expect(indexes).toEqual(expect.arrayContaining(['attempts_lane_day', 'attempts_lane_time']));
    raw.close();
  });

  it('migrating again is a no-op that keeps the data', async () => {
    const path = join(dir, 'again.db');
    const first = await openStore(path);
    await first.db.insertInto('runs').values({ plan: 'p', plan_file: null, host: 'h', pid: 1, started_at: 1, speed: 1, ended_at: null, end_reason: null }).execute();
    const rerun = await migrate(first.db);
    expect(rerun.error).toBeUndefined();
    expect(rerun.results).toEqual([]);
    await first.close();
    const second = await openStore(path);
    expect(await second.db.selectFrom('runs').select('plan').execute()).toEqual([{ plan: 'p' }]);
    await second.close();
  });

  it('a reader refuses a database that does not exist, and creates nothing', async () => {
    const path = join(dir, 'absent.db');
    await expect(openStore(path, { readonly: true })).rejects.toMatchObject({ code: 'STORE_MISSING' });
    await expect(openStore(path, { readonly: true })).rejects.toBeInstanceOf(WarmupError);
    const { existsSync } = await import('node:fs');
    expect(existsSync(path)).toBe(false);
  });

  it('enforces one lane per (plan, ip, provider)', async () => {
    const store = await openStore(join(dir, 'lanes.db'));
    const lane = { plan: 'p', ip: '127.0.0.2', provider: 'gmail', stage: 0, state: 'active' as const, state_until: null, state_reason: null, rate_factor: 1, rate_until: null, max_connections: null, holds_in_row: 0, decided_day: null, updated_at: 0 };
    await store.db.insertInto('lanes').values(lane).execute();
    await expect(store.db.insertInto('lanes').values(lane).execute()).rejects.toThrow(/UNIQUE/);
    await store.close();
  });
});
