/**
 * The SQLite store opened read-only (`warmup status`, `events`, `report`):
 * the reads of ./reads.ts run on better-sqlite3's statements directly, and
 * every other operation (and `transaction`) goes to the kysely store over the
 * same connection, loaded on first use. So `warmup status` never loads kysely
 * (half a megabyte of bundle to compile) nor builds a query: its whole read
 * is prepared statements. Rows are read as arrays and made objects here,
 * which costs a fraction of better-sqlite3 setting each column of each row
 * (512 lane-days of 30 columns: ~4 ms against ~12 ms).
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { OpenedSqlite } from './open.js';
import { STORE_OPERATIONS } from './operations.js';
import * as Reads from './reads.js';
import type { Rows } from './reads.js';
import { openSqliteFile } from './sqlite-driver.js';
import type { Store, StoreOps } from './store.js';

/** The operations this store runs without kysely (the conformance suite runs them against the others). */
export const READER_OPERATIONS = ['lastRun', 'daemonNow', 'storeNow', 'loadLanes', 'laneDays', 'latestLaneDay', 'decisionTallies',
  'listHolds', 'laneQueues', 'lastReplies', 'replyCounts', 'ipLeases'] as const;
type DirectOps = Pick<StoreOps, typeof READER_OPERATIONS[number]>;

/**
 * Opens the existing SQLite database at `path` for reading only.
 *
 * @throws WarmupError STORE_MISSING when there is no database, STORE_OPEN
 */
export function openSqliteReader(path: string, options: { readonly busyTimeoutMs?: number } = {}): Store {
  const sqlite = openSqliteFile(path, { readonly: true, ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}) });
  const run = statementRows(sqlite);
  let full: Promise<OpenedSqlite> | undefined;
  const kysely = (): Promise<OpenedSqlite> => (full ??= import('./open.js').then((m) => m.sqliteOver(sqlite, path, true)));
  const ops: Record<string, unknown> = {};
  for (const name of STORE_OPERATIONS) {
    ops[name] = async (...args: unknown[]) => ((await kysely()).store[name] as (...a: unknown[]) => Promise<unknown>)(...args);
  }
  const direct: DirectOps = {
    lastRun: (plan) => Reads.lastRun(run, plan),
    daemonNow: (plan, realNow) => Reads.daemonNow(run, plan, realNow),
    storeNow: (plan, realNow) => Reads.storeNow(run, plan, realNow),
    loadLanes: (plan) => Reads.loadLanes(run, plan),
    laneDays: (plan, day) => Reads.laneDays(run, plan, day),
    latestLaneDay: (plan, upTo) => Reads.latestLaneDay(run, plan, upTo),
    decisionTallies: (plan) => Reads.decisionTallies(run, plan),
    listHolds: (plan, laneIds) => Reads.listHolds(run, plan, laneIds),
    laneQueues: (plan) => Reads.laneQueues(run, plan),
    lastReplies: (laneIds) => Reads.lastReplies(run, laneIds),
    replyCounts: (laneIds, day, outcomes) => Reads.replyCounts(run, laneIds, day, outcomes),
    ipLeases: (plan) => Reads.ipLeases(run, plan),
  };
  return {
    ...(ops as unknown as StoreOps),
    ...direct,
    kind: 'sqlite',
    location: path,
    transaction: async (fn) => (await kysely()).store.transaction(fn),
    close: async () => {
      if (full) await (await full).close();
      else sqlite.close();
    },
  };
}

/** Bound on prepared texts kept: `in (?, ?, ...)` lists of varying length make new ones. */
const MAX_STATEMENTS = 200;

/** A prepared text: its rows as one JSON text (see below) or as arrays, and the row maker of its columns. */
interface Prepared {
  stmt: BetterSqlite3.Statement;
  json: boolean;
  readonly row: (values: unknown[]) => unknown;
}

/**
 * `Rows` on better-sqlite3: each text prepared once, its rows made objects by column name.
 *
 * SQLite gives all the rows as one JSON text (`json_group_array(json_array(...))` over the
 * statement, which keeps its order: SQLite honours a subquery's ORDER BY under an aggregate),
 * parsed by one `JSON.parse`: better-sqlite3 builds each row's array through V8's API, one
 * call per value at ~1,000 instructions each (30,000 values for a status run: ~40M
 * instructions, against ~10M for the JSON). The values are the same: JSON carries SQLite's
 * integers, reals (17 significant digits, read back exactly), texts and nulls as they are.
 * Two things JSON cannot carry go the other way, through arrays: a text with duplicate
 * column names, and a blob (SQLite refuses to make JSON of it; that text then stays on arrays).
 */
export function statementRows(sqlite: BetterSqlite3.Database): Rows {
  const cache = new Map<string, Prepared>();
  return async <R>(text: string, params: readonly unknown[]): Promise<R[]> => {
    let s = cache.get(text);
    if (!s) {
      const stmt = sqlite.prepare(text);
      const keys = stmt.columns().map((c) => c.name);
      const json = keys.length > 0 && new Set(keys).size === keys.length;
      s = {
        stmt: json ? sqlite.prepare(`select json_group_array(json_array(${keys.map(quoted).join(', ')})) from (${text})`).pluck() : stmt.raw(true),
        json,
        row: rowMaker(keys),
      };
      if (cache.size >= MAX_STATEMENTS) cache.clear();
      cache.set(text, s);
    }
    let raw: unknown[][];
    if (s.json) {
      try {
        raw = JSON.parse(s.stmt.get(...params) as string) as unknown[][];
      } catch (e) {
        if (!/JSON cannot hold BLOB/i.test((e as Error).message)) throw e;
        s.stmt = sqlite.prepare(text).raw(true);
        s.json = false;
        raw = s.stmt.all(...params) as unknown[][];
      }
    } else {
      raw = s.stmt.all(...params) as unknown[][];
    }
    const out = new Array<R>(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = s.row(raw[i]!) as R;
    return out;
  };
}

/** A column name as an SQL identifier. */
const quoted = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * A function making a row object of a statement's values, keyed by its column names (a
 * later column of the same name wins, as better-sqlite3 does). Written as one object
 * literal per statement, so every row gets the same shape at once: setting 30 columns
 * one by one on each of 512 rows went through V8's slowest keyed stores.
 */
function rowMaker(keys: readonly string[]): (values: unknown[]) => unknown {
  if (keys.includes('__proto__')) {
    // A literal key of that name would set the prototype: column by column instead.
    return (values) => {
      const row: Record<string, unknown> = {};
      for (let j = 0; j < keys.length; j++) Object.defineProperty(row, keys[j]!, { value: values[j], enumerable: true, writable: true, configurable: true });
      return row;
    };
  }
  // The keys are quoted by JSON.stringify: any column name is a safe string literal.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('v', `return { ${keys.map((k, j) => `${JSON.stringify(k)}: v[${j}]`).join(', ')} };`) as (values: unknown[]) => unknown;
}
