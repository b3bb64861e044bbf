/**
 * The one place that opens the store a command asks for: the plan's own
 * store, or the one `--db` names. Every command and the runtime open their
 * store here, so a new kind of store (PostgreSQL from `store: { url }` or
 * `--db postgres://...`, the in-memory store of a simulation) is added in
 * `storeTarget` and `openTarget` and reaches all of them.
 */
import { resolve } from 'node:path';
import type { Plan } from '../plan/types.js';
import type { OpenOptions } from './open.js';
import { isPostgresUrl } from './pg-url.js';
import type { StoreLog } from './postgres.js';
import type { Store } from './store.js';

/** Where a store lives, by kind (`memory`: a new, empty store in this process, gone when it closes: simulation). */
export type StoreTarget =
  | { readonly kind: 'sqlite'; readonly path: string }
  /** `passwordFile`: the plan's `store.password_file` (only for the plan's own URL, not a `--db` one). */
  | { readonly kind: 'postgres'; readonly url: string; readonly passwordFile: string | null }
  /** `placementMailboxes`: see `MemoryStoreOptions` (default: every recipient). */
  | { readonly kind: 'memory'; readonly placementMailboxes?: readonly string[] };

/** How to open a target: the SQLite options, and for PostgreSQL where it logs the TLS its sslmode chose. */
export interface TargetOptions extends OpenOptions {
  readonly log?: StoreLog;
}

export interface StoreRequest extends TargetOptions {
  readonly plan: Plan;
  /** The command's `--db` value, when given: it overrides the plan's store. */
  readonly db?: string | undefined;
  /** Folder a relative `--db` path is taken from (default: the process's working directory). */
  readonly cwd?: string;
}

/**
 * Which store a command uses: `--db` when given (a file, or a postgres://
 * URL), else the plan's (`store.url`, or `store.path` already resolved
 * against the plan's folder when the plan was loaded).
 */
export function storeTarget(plan: Plan, db?: string, cwd?: string): StoreTarget {
  if (db !== undefined) {
    if (isPostgresUrl(db)) return { kind: 'postgres', url: db, passwordFile: null };
    return { kind: 'sqlite', path: cwd === undefined ? db : resolve(cwd, db) };
  }
  if (plan.storeServer) return { kind: 'postgres', url: plan.storeServer.url, passwordFile: plan.storeServer.passwordFile };
  return { kind: 'sqlite', path: plan.storePath };
}

/**
 * Opens the store at `target`: readers find it (STORE_MISSING otherwise), writers create and migrate it.
 * Each engine's module is loaded only when asked for: `warmup status` on SQLite never loads
 * node-postgres (whose loading alone cost more than the rest of the command).
 */
export async function openTarget(target: StoreTarget, options: TargetOptions = {}): Promise<Store> {
  switch (target.kind) {
    case 'sqlite': return options.readonly
      // Read-only: better-sqlite3 alone for status's reads, kysely loaded only if another operation is asked for.
      ? (await import('./sqlite-reader.js')).openSqliteReader(target.path, options)
      : (await import('./open.js')).openStore(target.path, options);
    case 'postgres': return (await import('./postgres.js')).openPostgresStore(target.url, {
      ...(options.readonly !== undefined ? { readonly: options.readonly } : {}),
      ...(target.passwordFile !== null ? { passwordFile: target.passwordFile } : {}),
      ...(options.log !== undefined ? { log: options.log } : {}),
    });
    case 'memory': return (await import('./memory/index.js')).memoryStore({ placementMailboxes: target.placementMailboxes });
  }
}

/**
 * Opens the store a command asks for (see `storeTarget`).
 *
 * @example
 * const store = await openStoreFor({ plan, db: values.db, readonly: true });
 * try { ... } finally { await store.close(); }
 * @throws WarmupError STORE_MISSING, STORE_OPEN, STORE_MIGRATION
 */
export function openStoreFor(request: StoreRequest): Promise<Store> {
  const { plan, db, cwd, ...options } = request;
  return openTarget(storeTarget(plan, db, cwd), options);
}
