/**
 * Opening the SQLite store: WAL, a busy timeout so `warmup status` can read
 * while the daemon writes, and migrations applied in code.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type MigrationResult } from 'kysely';
import { WarmupError } from '../util/errors.js';
import { migrations } from './migrations.js';
import { cachingStatements } from './statement-cache.js';
import type { Database } from './schema.js';

export interface OpenedStore {
  readonly db: Kysely<Database>;
  readonly path: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Open an existing database for reading only (status, events, report). */
  readonly readonly?: boolean;
}

/**
 * Opens (and for writers creates and migrates) the database at `path`.
 * Throws WarmupError STORE_MISSING when a reader finds no database, and
 * STORE_MIGRATION when a migration fails.
 */
export async function openStore(path: string, options: OpenOptions = {}): Promise<OpenedStore> {
  if (options.readonly) {
    if (path !== ':memory:' && !existsSync(path)) {
      throw new WarmupError('STORE_MISSING', `no database at ${path}: has \`warmup start\` run with this plan?`);
    }
  } else if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true });
  }
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = new BetterSqlite3(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  } catch (e) {
    throw new WarmupError('STORE_OPEN', `cannot open database ${path}: ${(e as Error).message}`, { cause: e });
  }
  sqlite.pragma('busy_timeout = 5000');
  if (!options.readonly) {
    sqlite.pragma('journal_mode = WAL');
    // With WAL, NORMAL survives a process crash (kill -9); only power loss can drop the last commits.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  if (!options.readonly) {
    const { error } = await migrate(db);
    if (error) {
      await db.destroy();
      throw new WarmupError('STORE_MIGRATION', `migrating ${path} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
    }
  }
  return { db, path, close: () => db.destroy() };
}

/** Applies every pending migration; never throws (kysely's own contract). */
export async function migrate(db: Kysely<Database>): Promise<{ error?: unknown; results?: MigrationResult[] }> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } });
  return migrator.migrateToLatest();
}
