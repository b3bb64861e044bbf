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

/** `Rows` on better-sqlite3: each text prepared once, its rows read as arrays and made objects by column name. */
export function statementRows(sqlite: BetterSqlite3.Database): Rows {
  const cache = new Map<string, { stmt: BetterSqlite3.Statement; row: (values: unknown[]) => unknown }>();
  return async <R>(text: string, params: readonly unknown[]): Promise<R[]> => {
    let s = cache.get(text);
    if (!s) {
      const stmt = sqlite.prepare(text).raw(true);
      s = { stmt, row: rowMaker(stmt.columns().map((c) => c.name)) };
      if (cache.size >= MAX_STATEMENTS) cache.clear();
      cache.set(text, s);
    }
    const raw = s.stmt.all(...params) as unknown[][];
    const out = new Array<R>(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = s.row(raw[i]!) as R;
    return out;
  };
}

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
