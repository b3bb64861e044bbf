/**
 * better-sqlite3 itself: loading the driver and opening a database file, with
 * nothing of kysely, so a read-only command (`warmup status`) can open the
 * store without loading the query builder (see ./sqlite-reader.ts). The
 * SQLite store (./open.ts) opens its files here too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type BetterSqlite3 from 'better-sqlite3';
import { WarmupError } from '../util/errors.js';

export interface SqliteFileOptions {
  /** Open an existing database for reading only: STORE_MISSING when there is none. */
  readonly readonly?: boolean;
  /** How long a statement waits for another process's lock before failing (default 5000 ms). */
  readonly busyTimeoutMs?: number;
}

/**
 * Opens the database file at `path` (`:memory:` for a private one) with its
 * busy timeout set.
 *
 * @throws WarmupError STORE_MISSING when a reader finds no database, STORE_OPEN
 */
export function openSqliteFile(path: string, options: SqliteFileOptions = {}): BetterSqlite3.Database {
  if (options.readonly && path !== ':memory:' && !existsSync(path)) {
    throw new WarmupError('STORE_MISSING', `no database at ${path}: has \`warmup start\` run with this plan?`);
  }
  let sqlite: BetterSqlite3.Database;
  try {
    const { Database, nativeBinding } = driver();
    sqlite = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false, ...(nativeBinding ? { nativeBinding } : {}) });
  } catch (e) {
    throw new WarmupError('STORE_OPEN', `cannot open database ${path}: ${(e as Error).message}`, { cause: e });
  }
  sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
  return sqlite;
}

const requireCjs = createRequire(import.meta.url);
let loaded: { Database: typeof BetterSqlite3; nativeBinding: string | undefined } | undefined;

/**
 * Set by the bundler for the one-file `warmup status` (src/cli/status-bin.ts):
 * the version of better-sqlite3 whose JavaScript that bundle holds.
 */
declare const __WARMUP_SQLITE_BUNDLED__: string | undefined;

/**
 * better-sqlite3, loaded with require: importing a CommonJS package from ES
 * modules makes Node scan its source for exports first. Its compiled addon is
 * named by path when it is where the package builds it, which spares the
 * `bindings` package's search of a dozen places (a `warmup status` costs
 * milliseconds); anywhere else, better-sqlite3 searches as usual. The
 * one-file `warmup status` holds better-sqlite3's JavaScript itself (its
 * thirteen files cost ~10 ms to require one by one) and takes it when the
 * installed package is the version it was built with; else the installed one.
 */
function driver(): { Database: typeof BetterSqlite3; nativeBinding: string | undefined } {
  if (!loaded) {
    // Where Node's search finds it first whenever it is there: warmup's own node_modules (every
    // built or source module sits two folders below warmup's root). Asking require.resolve costs
    // ~2-4 ms of a `warmup status` here (a dozen stats and realpaths); it answers only otherwise.
    const own = fileURLToPath(new URL('../../node_modules/better-sqlite3/', import.meta.url));
    const found = existsSync(join(own, 'package.json'));
    const main = found ? own : requireCjs.resolve('better-sqlite3');
    const root = found ? own : join(dirname(main), '..');
    const addon = join(root, 'build', 'Release', 'better_sqlite3.node');
    const bundled = typeof __WARMUP_SQLITE_BUNDLED__ === 'string' && installedVersion(root) === __WARMUP_SQLITE_BUNDLED__;
    loaded = {
      // A literal require: the bundler puts the package into the one-file build, and leaves it to Node in the others.
      Database: (bundled ? require('better-sqlite3') : requireCjs(main)) as typeof BetterSqlite3,
      nativeBinding: existsSync(addon) ? addon : undefined,
    };
  }
  return loaded;
}

/** The version in the package.json at `root`, or null. */
function installedVersion(root: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}
