/**
 * The store implementations the conformance suite runs against: each test
 * file runs its tests once per entry, on a fresh empty store each time.
 * Adding an implementation is one entry: `{ name, open }` where `open` gives a
 * new, empty, migrated store (ids from 1).
 *
 * PostgreSQL joins when a server is given: WARMUP_TEST_PG_URL names a database
 * the suite may fill (each `open` starts from empty tables), e.g. the PG test
 * peer's. The PostgreSQL store itself is src/store/postgres.ts (`openPostgresStore`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { memoryStore } from '../../../src/store/memory/index.js';
import { openStore } from '../../../src/store/open.js';
import { sqlStore } from '../../../src/store/sql-store.js';
import type { Store } from '../../../src/store/store.js';

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
  const opened = await openStore(path, { durability: 'throwaway' });
  return sqlStore(opened.db, 'sqlite', path, () => opened.close());
}

/** A PostgreSQL store on WARMUP_TEST_PG_URL with every table emptied and its ids restarted. */
async function postgres(url: string): Promise<Store> {
  // Loaded by name so the suite also runs where the PostgreSQL store is not built.
  const mod = (await import(['..', '..', '..', 'src', 'store', 'postgres.js'].join('/'))) as { openPostgresStore(url: string): Promise<Store> };
  const { Client } = (await import('pg')).default;
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`do $$ declare t text; begin
      for t in select tablename from pg_tables where schemaname = current_schema() and tablename not like 'kysely_%' loop
        execute format('truncate table %I restart identity cascade', t);
      end loop; end $$`);
  } finally {
    await c.end();
  }
  return mod.openPostgresStore(url);
}

const PG_URL = process.env.WARMUP_TEST_PG_URL;

export const STORES: readonly StoreFactory[] = [
  { name: 'sqlite', open: sqlite },
  { name: 'memory', open: async () => memoryStore() },
  ...(PG_URL ? [{ name: 'postgres', open: () => postgres(PG_URL) }] : []),
];
