/**
 * The hot path's statements as SQL text written once, run through kysely's
 * executor (so they join the caller's transaction, on SQLite and on
 * PostgreSQL) without building a query per call. Building and compiling a
 * kysely query cost 20-25 µs per statement, four times what SQLite takes to
 * run the statement itself inside a transaction; the daemon runs a few
 * statements per message and per tick. Everything else in the store keeps
 * kysely's builder: only statements that run per message or per tick belong
 * here, each written as plain SQL both engines read (double-quoted names,
 * `?` placeholders, which become `$1, $2, ...` on PostgreSQL).
 */
import { CompiledQuery, type QueryResult } from 'kysely';
import type { Rows } from './reads.js';
import type { Db } from './schema.js';
import { runDirect } from './sqlite-direct.js';
import { isPostgres } from './transaction.js';

/** Runs `text` with `params` on `db` (a database or a transaction). `text` must hold no `?` other than placeholders. */
export function execute<R>(db: Db, text: string, params: readonly unknown[]): Promise<QueryResult<R>> {
  // SQLite: on better-sqlite3's statement itself when nothing else holds the connection (./sqlite-direct.ts).
  let direct: QueryResult<R> | undefined;
  try {
    direct = runDirect<R>(db, text, params);
  } catch (e) {
    return Promise.reject(e);
  }
  if (direct) return Promise.resolve(direct);
  return db.executeQuery<R>(CompiledQuery.raw(isPostgres(db) ? dollarPlaceholders(text) : text, params as unknown[]));
}

/** The rows of {@link execute}. */
export async function rows<R>(db: Db, text: string, params: readonly unknown[]): Promise<R[]> {
  return (await execute<R>(db, text, params)).rows;
}

/** {@link rows} on `db` as the `Rows` of ./reads.ts. */
export function sqlRows(db: Db): Rows {
  return (text, params) => rows(db, text, params);
}

const dollar = new Map<string, string>();

/** `?` placeholders as PostgreSQL's numbered ones, once per text. */
function dollarPlaceholders(text: string): string {
  let out = dollar.get(text);
  if (out === undefined) {
    let i = 0;
    out = text.replace(/\?/g, () => `$${++i}`);
    dollar.set(text, out);
  }
  return out;
}

const tuples = new Map<string, string>();

/** `tuple` repeated `rows` times, comma-separated: the VALUES list of a multi-row insert, e.g. `(?, ?, 0), (?, ?, 0)`. */
export function valuesList(tuple: string, rows: number): string {
  const key = `${rows}:${tuple}`;
  let out = tuples.get(key);
  if (out === undefined) {
    out = Array.from({ length: rows }, () => tuple).join(', ');
    tuples.set(key, out);
  }
  return out;
}
