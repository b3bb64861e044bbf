/**
 * Opening the SQLite store: WAL, a busy timeout so `warmup status` can read
 * while the daemon writes, and migrations applied in code.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, Migrator, SqliteDialect, type Driver, type MigrationResult } from 'kysely';
import { WarmupError } from '../util/errors.js';
import { migrations } from './migrations.js';
import { cachingStatements } from './statement-cache.js';
import { sqlStore } from './sql-store.js';
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
  return (await openSqlite(path, options)).store;
}

/**
 * `openStore`, also giving the kysely database under the store: for the
 * store's own code and for tests that check rows directly.
 *
 * @throws WarmupError STORE_MISSING, STORE_OPEN, STORE_MIGRATION
 */
export async function openSqlite(path: string, options: OpenOptions = {}): Promise<OpenedSqlite> {
  if (options.readonly) {
    if (path !== ':memory:' && !existsSync(path)) {
      throw new WarmupError('STORE_MISSING', `no database at ${path}: has \`warmup start\` run with this plan?`);
    }
  } else if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true });
    if (options.durability !== 'throwaway') privateFiles(path);
  }
  let sqlite: BetterSqlite3.Database;
  try {
    const { Database, nativeBinding } = driver();
    sqlite = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false, ...(nativeBinding ? { nativeBinding } : {}) });
  } catch (e) {
    throw new WarmupError('STORE_OPEN', `cannot open database ${path}: ${(e as Error).message}`, { cause: e });
  }
  sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
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
  const Dialect = options.readonly ? SqliteDialect : ImmediateSqliteDialect;
  const db = new Kysely<Database>({ dialect: new Dialect({ database: cachingStatements(sqlite) }) });
  if (!options.readonly) {
    const { error } = await migrate(db);
    if (error) {
      await db.destroy();
      throw new WarmupError('STORE_MIGRATION', `migrating ${path} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
    }
  }
  const close = () => db.destroy();
  return { db, path, store: sqlStore(db, 'sqlite', path, close), close };
}

const requireCjs = createRequire(import.meta.url);
let loaded: { Database: typeof BetterSqlite3; nativeBinding: string | undefined } | undefined;

/**
 * better-sqlite3, loaded with require: importing a CommonJS package from ES
 * modules makes Node scan its source for exports first. Its compiled addon is
 * named by path when it is where the package builds it, which spares the
 * `bindings` package's search of a dozen places (a `warmup status` costs
 * milliseconds); anywhere else, better-sqlite3 searches as usual.
 */
function driver(): { Database: typeof BetterSqlite3; nativeBinding: string | undefined } {
  if (!loaded) {
    const main = requireCjs.resolve('better-sqlite3');
    const addon = join(dirname(main), '..', 'build', 'Release', 'better_sqlite3.node');
    loaded = { Database: requireCjs(main) as typeof BetterSqlite3, nativeBinding: existsSync(addon) ? addon : undefined };
  }
  return loaded;
}

/** Applies every pending migration; never throws (kysely's own contract). */
export async function migrate(db: Kysely<Database>): Promise<{ error?: unknown; results?: MigrationResult[] }> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } });
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
