/**
 * Transactions that compose: a store function called with a transaction
 * joins it, called with the database it opens its own. So the daemon can put
 * a day's decision, its event and the hold it causes in one commit.
 */
import type { Db } from './schema.js';

/** Runs `fn` in the caller's transaction, or in a new one. */
export function inTransaction<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}
