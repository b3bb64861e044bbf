/**
 * The simulation's database: the daemon's own schema and queries, tuned for
 * a throwaway file. A simulated run is repeatable from its seed, so it trades
 * the crash safety the real store keeps (WAL, synchronous commits) for speed.
 */
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { OpenedStore } from '../store/open.js';
import { migrate } from '../store/open.js';
import { cachingStatements } from '../store/statement-cache.js';
import type { Database } from '../store/schema.js';
import { WarmupError } from '../util/errors.js';

/**
 * Opens (creating and migrating) a database for a simulation at `path`.
 *
 * @throws WarmupError STORE_OPEN, STORE_MIGRATION
 */
export async function openSimulationStore(path: string): Promise<OpenedStore> {
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = new BetterSqlite3(path);
  } catch (e) {
    throw new WarmupError('STORE_OPEN', `cannot open database ${path}: ${(e as Error).message}`, { cause: e });
  }
  // Losing the file on a power cut costs nothing: rerun with the same seed.
  sqlite.pragma('journal_mode = MEMORY');
  sqlite.pragma('synchronous = OFF');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  const { error } = await migrate(db);
  if (error) {
    await db.destroy();
    throw new WarmupError('STORE_MIGRATION', `migrating ${path} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
  return { db, path, close: () => db.destroy() };
}
