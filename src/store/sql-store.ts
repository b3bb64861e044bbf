/**
 * The store over SQL (SQLite today, PostgreSQL through the same kysely
 * queries): each operation is its query function with the database, or the
 * transaction in progress, bound as the first argument.
 */
import * as Lanes from './lanes.js';
import * as Holds from './holds.js';
import * as Lease from './lease.js';
import * as Days from './days.js';
import * as Messages from './messages.js';
import * as Runs from './runs.js';
import * as Events from './events.js';
import * as Placements from './placements.js';
import * as Dnsbl from './dnsbl.js';
import * as Routed from './routed.js';
import * as Replies from './replies.js';
import { inTransaction } from './transaction.js';
import type { Db } from './schema.js';
import type { Store, StoreKind, StoreOps } from './store.js';

const MODULES: readonly object[] = [Lanes, Holds, Lease, Days, Messages, Runs, Events, Placements, Dnsbl, Routed, Replies];

/** Exported functions of those modules that take no database (pure views): not operations. */
const PURE = new Set(['summarize', 'holdView', 'holdAddedCause', 'holdDroppedCause', 'routedKey', 'routedAttempt']);

/** Names of the operations, as bound at run time (a test holds them equal to the interface's). */
export const SQL_OPERATIONS: readonly string[] = Object.freeze(
  MODULES.flatMap((m) => Object.entries(m).filter(([k, v]) => typeof v === 'function' && !PURE.has(k)).map(([k]) => k)).sort(),
);

/** A `Store` over `db`; `close` releases the connection(s). */
export function sqlStore(db: Db, kind: Exclude<StoreKind, 'memory'>, location: string, close: () => Promise<void>): Store {
  const ops: Record<string, unknown> = {};
  for (const m of MODULES) {
    for (const [name, fn] of Object.entries(m)) {
      if (typeof fn === 'function' && !PURE.has(name)) {
        ops[name] = (...args: unknown[]) => (fn as (db: Db, ...a: unknown[]) => unknown)(db, ...args);
      }
    }
  }
  const store: Store = {
    ...(ops as unknown as StoreOps),
    kind,
    location,
    close,
    transaction: (fn) => inTransaction(db, (trx) => fn(trx === db ? store : sqlStore(trx, kind, location, close))),
  };
  return store;
}
