/**
 * Rows as arrays of column values in select order, for reads of many rows
 * per call (a /metrics scrape reads every lane). better-sqlite3 builds a row
 * object property by property in native code, which costs about three times
 * what its raw (array) mode does: 512 lanes with a day's 15 counters take
 * 4-5 ms as objects and 1.7 ms as arrays on the 2-core bench machine.
 *
 * A SQL text that starts with {@link ARRAY_ROWS} is prepared in raw mode by
 * the statement cache (./statement-cache.ts); on PostgreSQL (or any driver
 * that returns objects) the objects are turned into arrays here, in the order
 * the driver gives their fields (the select order).
 */
import type { Db } from './schema.js';
import { rows } from './prepared.js';

/** Marks a query whose rows come back as arrays (a comment: harmless to any engine). */
export const ARRAY_ROWS = '/* array rows */ ';

/** Runs `text` (plain SQL with `?` placeholders, see ./prepared.ts) and gives its rows as arrays. Column names must be distinct. */
export async function arrayRows(db: Db, text: string, params: readonly unknown[]): Promise<unknown[][]> {
  const r = await rows<unknown>(db, ARRAY_ROWS + text, params);
  if (r.length === 0 || Array.isArray(r[0])) return r as unknown[][];
  return r.map((o) => Object.values(o as object));
}
