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
function statementRows(sqlite: BetterSqlite3.Database): Rows {
  const cache = new Map<string, { stmt: BetterSqlite3.Statement; keys: string[] }>();
  return async <R>(text: string, params: readonly unknown[]): Promise<R[]> => {
    let s = cache.get(text);
    if (!s) {
      const stmt = sqlite.prepare(text).raw(true);
      s = { stmt, keys: stmt.columns().map((c) => c.name) };
      if (cache.size >= MAX_STATEMENTS) cache.clear();
      cache.set(text, s);
    }
    const { stmt, keys } = s;
    const raw = stmt.all(...params) as unknown[][];
    const out = new Array<R>(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const values = raw[i]!;
      const row: Record<string, unknown> = {};
      for (let j = 0; j < keys.length; j++) row[keys[j]!] = values[j];
      out[i] = row as R;
    }
    return out;
  };
}
