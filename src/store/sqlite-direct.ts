/**
 * The store's fixed SQL (./prepared.ts) run on better-sqlite3's statements
 * directly instead of through kysely's executor, whenever that is safe: the
 * daemon's hot path runs some twenty statements per tick and group commit,
 * and kysely's executor (connection mutex, compiled query, result transform,
 * a chain of promises) cost about as much CPU as SQLite running them.
 *
 * Safe means no other transaction can be under way on the connection:
 * - inside a transaction this module was told about ({@link adoptTransaction},
 *   called by ./transaction.ts for every SQLite transaction): the transaction
 *   holds kysely's connection until it ends, so nothing else runs meanwhile;
 * - on the database itself, when better-sqlite3 says no transaction is open:
 *   the statement runs on its own (autocommit), as kysely would run it. When
 *   one is open (a transaction of the store awaiting its next statement), the
 *   statement goes through kysely, which waits for that transaction to end.
 * The rows are those kysely's SQLite driver returns (the same statements of
 * ./statement-cache.ts, the same calls), so callers cannot tell the paths apart.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { QueryResult, SqliteDatabase } from 'kysely';

interface Handle {
  /** better-sqlite3 itself: whether a transaction is open. */
  readonly sqlite: BetterSqlite3.Database;
  /** The statement cache kysely's dialect prepares from (./statement-cache.ts). */
  readonly statements: SqliteDatabase;
}

/** Kysely databases over SQLite, and the transactions adopted from them, with their connection. */
const handles = new WeakMap<object, Handle>();

/** Tells this module the better-sqlite3 connection (and statement cache) under a kysely database. */
export function registerSqlite(db: object, sqlite: BetterSqlite3.Database, statements: SqliteDatabase): void {
  handles.set(db, { sqlite, statements });
}

/** A transaction of `db` (begun, holding the connection until it ends) may run statements directly. */
export function adoptTransaction(db: object, trx: object): void {
  const h = handles.get(db);
  if (h) handles.set(trx, h);
}

/** Whether `db` is a SQLite database this module knows (its transactions get adopted). */
export function isDirectSqlite(db: object): boolean {
  return handles.has(db);
}

/**
 * Runs `text` on `db`'s connection directly when that is safe (see above), as
 * kysely's SQLite driver would; undefined when it is not (the caller goes
 * through kysely).
 */
export function runDirect<R>(db: { readonly isTransaction: boolean }, text: string, params: readonly unknown[]): QueryResult<R> | undefined {
  const h = handles.get(db);
  if (!h || (!db.isTransaction && h.sqlite.inTransaction)) return undefined;
  const stmt = h.statements.prepare(text) as unknown as BetterSqlite3.Statement;
  if (stmt.reader) return { rows: stmt.all(params) as R[] };
  const { changes, lastInsertRowid } = stmt.run(params);
  return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
}
