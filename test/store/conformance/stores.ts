/**
 * The store implementations the conformance suite runs against: each test
 * file runs its tests once per entry, on a fresh empty store each time.
 * Adding an implementation is one entry: `{ name, open }` where `open` gives a
 * new, empty, migrated store (ids from 1).
 *
 * PostgreSQL runs on the test peers' server, a database per test file
 * (WARMUP_TEST_PG_URL names another one the suite may empty and fill).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { memoryStore } from '../../../src/store/memory/index.js';
import pg from 'pg';
import { openStore } from '../../../src/store/open.js';
import { openSqliteReader, READER_OPERATIONS } from '../../../src/store/sqlite-reader.js';
import { openPostgresStore } from '../../../src/store/postgres.js';
import type { Store } from '../../../src/store/store.js';
import { createPostgresDatabase } from '../../peers/peers.js';

export interface StoreFactory {
  readonly name: string;
  /** A new, empty store. */
  open(): Promise<Store>;
}

let dir: string | null = null;
let n = 0;
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

async function sqlite(): Promise<Store> {
  dir ??= mkdtempSync(join(tmpdir(), 'warmup-conformance-'));
  const path = join(dir, `store-${++n}.db`);
  return openStore(path, { durability: 'throwaway' });
}

/**
 * SQLite as a read-only command sees it: the reads the read-only store runs on
 * better-sqlite3 directly (without kysely) come from a reader on the same file,
 * everything else (the writes that set the case up) from a writer.
 */
async function sqliteReader(): Promise<Store> {
  dir ??= mkdtempSync(join(tmpdir(), 'warmup-conformance-'));
  const path = join(dir, `store-${++n}.db`);
  const writer = await openStore(path);
  const reader = openSqliteReader(path);
  const direct = Object.fromEntries(READER_OPERATIONS.map((op) => [op, reader[op]]));
  return { ...writer, ...direct, close: async () => { await reader.close(); await writer.close(); } };
}

/**
 * A PostgreSQL store on this test file's own database (made once on the test
 * peers' PostgreSQL), every table emptied and its ids restarted.
 */
async function postgres(): Promise<Store> {
  pgUrl ??= process.env.WARMUP_TEST_PG_URL ?? await createPostgresDatabase('conformance');
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    await c.query(`do $$ declare t text; begin
      for t in select tablename from pg_tables where schemaname = current_schema() and tablename not like 'kysely_%' loop
        execute format('truncate table %I restart identity cascade', t);
      end loop; end $$`);
  } finally {
    await c.end();
  }
  return openPostgresStore(pgUrl, { poolSize: 4 });
}
let pgUrl: string | undefined;

export const STORES: readonly StoreFactory[] = [
  { name: 'sqlite', open: sqlite },
  { name: 'sqlite-reader', open: sqliteReader },
  { name: 'memory', open: async () => memoryStore() },
  { name: 'postgres', open: postgres },
];
