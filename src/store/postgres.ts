/**
 * Opening the PostgreSQL store (a fleet's shared database): a node-postgres
 * pool behind kysely's PostgresDialect, bigint and numeric columns read as
 * numbers, and the migrations applied under an advisory lock so daemons that
 * start at the same moment migrate once.
 */
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { WarmupError } from '../util/errors.js';
import { migrate } from './open.js';
import { fallsBack, redactIn, refusedTls, resolvePgConnection, type PgConnection, type PgConnectionOptions, type SslMode } from './pg-url.js';
import { sqlStore } from './sql-store.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';

export interface PostgresStoreOptions extends PgConnectionOptions {
  /** A reader (status, events, report): no migration; a database never migrated is an error. */
  readonly readonly?: boolean;
  /**
   * A writer: false to leave the migrations to the caller (`warmup store copy`
   * runs them inside its own transaction, see ./copy.ts); default true.
   */
  readonly migrate?: boolean;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** Called with errors of idle connections (the server restarted); the next query reports its own. */
  readonly onIdleError?: (err: Error) => void;
  /**
   * Where the store says whether `sslmode=prefer` or `allow` connected with TLS, and that
   * `require` or `verify-*` connect in the clear over a unix socket (a pino logger fits).
   */
  readonly log?: StoreLog;
}

/** The part of a logger the store uses. */
export interface StoreLog {
  info(fields: object, message: string): void;
}

/** Key of the session advisory lock migrations run under ("warmup" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x7761726d7570;

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Type parsers of this pool only (pg.types is global to the process): int8
 * (bigint columns, count(*)) and numeric (sum of bigint) as numbers. Epoch
 * milliseconds and counts stay far below 2^53.
 */
const getTypeParser = ((oid: number, format?: 'text' | 'binary') => {
  if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => (v === null ? null : Number(v));
  return pg.types.getTypeParser(oid, format as 'text');
}) as typeof pg.types.getTypeParser;

/**
 * Opens (and unless `readonly`, migrates) the PostgreSQL database of `url`
 * and returns it as a Store of kind `postgres`, whose `location` has no
 * password. Throws WarmupError STORE_URL, STORE_CREDENTIALS, STORE_OPEN
 * (cannot connect or log in), STORE_MISSING (a reader finds no warmup
 * schema) or STORE_MIGRATION; no message carries the password.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  return (await openPostgres(url, options)).store;
}

/** What {@link openPostgres} opened: the store, and the kysely database under it (the store's own code and tests). */
export interface OpenedPostgres {
  readonly store: Store;
  readonly db: Kysely<Database>;
}

/** {@link openPostgresStore}, also giving the kysely database. */
export async function openPostgres(url: string, options: PostgresStoreOptions = {}): Promise<OpenedPostgres> {
  const c = resolvePgConnection(url, options);
  const secrets = [c.password];
  const open = (ssl: PgConnection['attempts'][number]): Kysely<Database> => {
    const pool = new pg.Pool({
      host: c.host, port: c.port, database: c.database, user: c.user, ...(c.password !== undefined ? { password: c.password } : {}),
      ssl, application_name: c.applicationName, connectionTimeoutMillis: c.connectTimeoutMs,
      max: options.poolSize ?? 10, types: { getTypeParser },
    });
    pool.on('error', (err) => options.onIdleError?.(err));
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  };
  // The sslmode is settled once, by the pool's first connection: every later one uses the same TLS.
  const [first, second] = c.attempts;
  let db = open(first);
  const fail = async (code: string, what: string, e: unknown): Promise<never> => {
    await db.destroy().catch(() => undefined);
    throw new WarmupError(code, redactIn(`${what}: ${(e as Error).message ?? String(e)}`, secrets), { cause: e });
  };
  let tls = first !== false;
  let refusal: unknown;
  try {
    await sql`select 1`.execute(db);
  } catch (e) {
    if (second === undefined || !fallsBack(c.sslmode, e)) return fail('STORE_OPEN', `cannot open database ${c.location}`, e);
    refusal = e;
    await db.destroy().catch(() => undefined);
    db = open(second);
    tls = second !== false;
    try {
      await sql`select 1`.execute(db);
    } catch (e2) {
      const firstRefusal = redactIn((e as Error).message, secrets);
      return fail('STORE_OPEN', `cannot open database ${c.location} (${tls ? 'in the clear' : 'with TLS'}: ${firstRefusal}; then ${tls ? 'with TLS' : 'in the clear'})`, e2);
    }
  }
  if (c.attempts.length === 2 || (c.unixSocket && ASKS_FOR_TLS.includes(c.sslmode))) {
    options.log?.info({ store: c.location, sslmode: c.sslmode, tls }, tlsMessage(c, tls, refusal));
  }
  if (options.readonly) {
    const r = await sql<{ t: string | null }>`select to_regclass('kysely_migration')::text as t`.execute(db).catch((e) => fail('STORE_OPEN', `cannot read database ${c.location}`, e));
    if (!r.rows[0]?.t) {
      await db.destroy();
      throw new WarmupError('STORE_MISSING', `no warmup data in ${c.location}: has \`warmup start\` run with this plan?`);
    }
  } else if (options.migrate !== false) {
    let error: unknown;
    try {
      error = await migrateLocked(db);
    } catch (e) {
      error = e;
    }
    if (error) return fail('STORE_MIGRATION', `migrating ${c.location} failed`, error);
  }
  return { store: sqlStore(db, 'postgres', c.location, () => db.destroy()), db };
}

/** The sslmodes with which an operator asked for TLS: over a unix socket the store says it has none. */
const ASKS_FOR_TLS: readonly SslMode[] = ['require', 'verify-ca', 'verify-full'];

/** What the log says of the TLS the store settled on; `refusal` is the first attempt's error when it fell back. */
function tlsMessage(c: PgConnection, tls: boolean, refusal: unknown): string {
  if (c.unixSocket) return 'store connects in the clear over a unix socket: sslmode applies to TCP only, as in libpq';
  if (refusal === undefined) return tls ? 'store connects with TLS' : 'store connects in the clear';
  if (tls) return 'store connects with TLS: the server refused the connection in the clear';
  return refusedTls(refusal) ? 'store connects in the clear: the server refused TLS' : 'store connects in the clear: the server refused the login with TLS';
}

/**
 * Applies the pending migrations holding a session advisory lock, on one
 * connection: a second process waits for the first to finish and then finds
 * nothing to do. Returns the migration error, if any.
 */
export async function migrateLocked(db: Kysely<Database>): Promise<unknown> {
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
    try {
      return (await migrate(conn)).error;
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
    }
  });
}
