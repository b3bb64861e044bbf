/**
 * Opening the SQLite store: WAL, a busy timeout so `warmup status` can read
 * while the daemon writes, and migrations applied in code.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, Migrator, SqliteDialect, type Driver, type MigrationResult } from 'kysely';
import { WarmupError } from '../util/errors.js';
import { migrations } from './migrations.js';
import { cachingStatements } from './statement-cache.js';
import { sqlStore } from './sql-store.js';
import { registerSqlite } from './sqlite-direct.js';
import { openSqliteFile } from './sqlite-driver.js';
import { openSqliteReader } from './sqlite-reader.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';

/**
 * An opened SQLite database: the `Store` over it, and the kysely database
 * itself for the store's own code and tests (migrations, raw checks of what a
 * run wrote). Callers outside src/store hold only the `Store`.
 */
export interface OpenedSqlite {
  readonly db: Kysely<Database>;
  readonly path: string;
  readonly store: Store;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Open an existing database for reading only (status, events, report). */
  readonly readonly?: boolean;
  /** How long a statement waits for another process's lock before failing (default 5000 ms). */
  readonly busyTimeoutMs?: number;
  /**
   * `crash-safe` (default): WAL with synchronous NORMAL, what a two-week run needs.
   * `throwaway`: journal in memory, no syncs, for a simulation (repeatable from its
   * seed, so losing the file costs nothing) -- several times faster per commit.
   */
  readonly durability?: 'crash-safe' | 'throwaway';
}

/**
 * Opens (and for writers creates and migrates) the SQLite store at `path`.
 *
 * @example
 * const store = await openStore('data/warmup.db', { readonly: true });
 * try { await store.loadLanes(plan.name); } finally { await store.close(); }
 * @throws WarmupError STORE_MISSING when a reader finds no database, STORE_OPEN, STORE_MIGRATION
 */
export async function openStore(path: string, options: OpenOptions = {}): Promise<Store> {
  if (options.readonly) return openSqliteReader(path, options);
  return (await openSqlite(path, options)).store;
}

/**
 * `openStore`, also giving the kysely database under the store: for the
 * store's own code and for tests that check rows directly.
 *
 * @throws WarmupError STORE_MISSING, STORE_OPEN, STORE_MIGRATION
 */
export async function openSqlite(path: string, options: OpenOptions = {}): Promise<OpenedSqlite> {
  if (!options.readonly && path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true });
    if (options.durability !== 'throwaway') privateFiles(path);
  }
  const sqlite = openSqliteFile(path, options);
  if (!options.readonly && options.durability === 'throwaway') {
    sqlite.pragma('journal_mode = MEMORY');
    sqlite.pragma('synchronous = OFF');
    sqlite.pragma('foreign_keys = ON');
  } else if (!options.readonly) {
    sqlite.pragma('journal_mode = WAL');
    // With WAL, NORMAL survives a process crash (kill -9); only power loss can drop the last commits.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
  }
  const opened = sqliteOver(sqlite, path, options.readonly ?? false);
  if (!options.readonly) {
    const { error } = await migrate(opened.db);
    if (error) {
      await opened.close();
      throw new WarmupError('STORE_MIGRATION', `migrating ${path} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
    }
  }
  return opened;
}

/** kysely and the `Store` over an opened better-sqlite3 database; closing either closes it. */
export function sqliteOver(sqlite: BetterSqlite3.Database, path: string, readonly: boolean): OpenedSqlite {
  const Dialect = readonly ? SqliteDialect : ImmediateSqliteDialect;
  const statements = cachingStatements(sqlite);
  const db = new Kysely<Database>({ dialect: new Dialect({ database: statements }) });
  registerSqlite(db, sqlite, statements);
  const close = () => db.destroy();
  return { db, path, store: sqlStore(db, 'sqlite', path, close), close };
}

/**
 * Applies every pending migration; never throws (kysely's own contract).
 * `inOpenTransaction`: `db` is one connection inside a transaction the caller
 * began (and commits or rolls back): the migrations begin none of their own.
 */
export async function migrate(db: Kysely<Database>, inOpenTransaction = false): Promise<{ error?: unknown; results?: MigrationResult[] }> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) }, ...(inOpenTransaction ? { disableTransactions: true } : {}) });
  return migrator.migrateToLatest();
}

/**
 * The database holds opt-in addresses: it, its -wal and its -shm are the
 * owner's only (0600). SQLite gives the -wal and -shm the mode of the
 * database file, so creating that one 0600 covers all three; files an older
 * version created 0644 are tightened too.
 */
function privateFiles(path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try { chmodSync(f, 0o600); } catch { /* absent, or not ours: SQLite reports what matters when it opens */ }
  }
}

/**
 * Every write transaction starts with BEGIN IMMEDIATE: it takes the write
 * lock first (waiting up to busy_timeout), so a transaction that reads and
 * then writes never fails with "database is locked" because another process
 * (the daemon, `warmup pause`) committed between its read and its write, the
 * one case SQLite's busy handler cannot wait out.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    driver.beginTransaction = async (connection) => { await connection.executeQuery(CompiledQuery.raw('begin immediate')); };
    return driver;
  }
}
