/**
 * Transactions that compose: a store function called with a transaction
 * joins it, called with the database it opens its own. So the daemon can put
 * a day's decision, its event and the hold it causes in one commit.
 *
 * Several processes may write one database (a fleet on PostgreSQL). SQLite
 * serializes writers (every write transaction is BEGIN IMMEDIATE); on
 * PostgreSQL (READ COMMITTED) a transaction that reads rows and then writes
 * from what it read locks them first with {@link forUpdate}, or writes with a
 * condition on what it expects (`where status = 'deferred'`) and counts the
 * rows it changed.
 */
import { PostgresAdapter } from 'kysely';
import type { Db } from './schema.js';
import { adoptTransaction, isDirectSqlite } from './sqlite-direct.js';

/** Runs `fn` in the caller's transaction, or in a new one. */
export function inTransaction<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  // On SQLite the transaction's fixed SQL runs on better-sqlite3 directly (./sqlite-direct.ts).
  if (isDirectSqlite(db)) return db.transaction().execute((trx) => { adoptTransaction(db, trx); return fn(trx); });
  return db.transaction().execute(fn);
}

/** Whether `db` is a PostgreSQL database. */
export function isPostgres(db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * `select ... for update` on PostgreSQL: the rows read stay locked until the
 * transaction ends, so another process reading them to write waits and then
 * sees this one's result. Unchanged on SQLite, whose write transactions
 * already exclude each other (and which has no FOR UPDATE).
 */
export function forUpdate<Q extends { forUpdate(): Q }>(db: Db, query: Q): Q {
  return isPostgres(db) ? query.forUpdate() : query;
}

/**
 * `for update skip locked` on PostgreSQL: a queue read by several processes,
 * each takes rows no other is taking right now. Unchanged on SQLite.
 */
export function forUpdateSkipLocked<Q extends { forUpdate(): Q; skipLocked(): Q }>(db: Db, query: Q): Q {
  return isPostgres(db) ? query.forUpdate().skipLocked() : query;
}
