/**
 * kysely's SQLite driver prepares every statement on every query; preparing
 * cost as much as running for the daemon's per-message writes. This wraps
 * the subset of better-sqlite3 kysely uses (its `SqliteDatabase`) so each SQL
 * text is prepared once.
 *
 * Safe because warmup never streams a query: a statement being iterated
 * could not run a second time until the iteration ended.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { ARRAY_ROWS } from './array-rows.js';

/** Bound on cached texts: `IN (?, ?, ...)` lists of varying length make new ones. */
const MAX_STATEMENTS = 1000;

/** better-sqlite3 as kysely's `SqliteDatabase`, with prepared statements reused per SQL text. */
export function cachingStatements(sqlite: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => { cache.clear(); sqlite.close(); },
    prepare: (sql: string) => {
      let stmt = cache.get(sql);
      if (!stmt) {
        const prepared = sqlite.prepare(sql);
        // Rows as arrays for texts marked so (./array-rows.ts).
        if (prepared.reader && sql.startsWith(ARRAY_ROWS)) prepared.raw(true);
        stmt = prepared as unknown as SqliteStatement;
        if (cache.size >= MAX_STATEMENTS) cache.clear();
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}
