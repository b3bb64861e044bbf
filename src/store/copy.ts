/**
 * `warmup store copy`: a SQLite store's whole history into a PostgreSQL
 * database, so a warm-up begun on one host can go on as a fleet.
 *
 * The SQLite file is opened read-only and read in one read transaction (one
 * snapshot: what it counts is what it streams). Its rows are streamed a
 * table at a time (better-sqlite3's iterator, integers as BigInt) and
 * written in batches of arrays (`insert ... select * from unnest($1::int8[],
 * ...)`: one parameter per column, whatever the batch's rows), all in one
 * PostgreSQL transaction that also migrates the target and first locks every
 * table: an error, a failed check or a killed process (Ctrl-C: the
 * connection closes and PostgreSQL rolls back) leaves the target as it was,
 * a new database without even the tables. The decisions are in ./copy-plan.ts.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, sql, type Kysely } from 'kysely';
import { WarmupError } from '../util/errors.js';
import { copyOrder, identityAfter, LEASE_FRESH_MS, liveLeases, migrationGap, pgValue, schemaProblems, type ForeignKey, type LeaseRow, type PgColumn } from './copy-plan.js';
import { migrations } from './migrations.js';
import { migrate, openSqlite } from './open.js';
import { redactIn } from './pg-url.js';
import { MIGRATION_LOCK_KEY, openPostgres, type OpenedPostgres } from './postgres.js';
import type { Database } from './schema.js';
import { openSqliteFile } from './sqlite-driver.js';


export interface CopyOptions {
  /** The SQLite file (read-only). */
  readonly from: string;
  /** The PostgreSQL URL (`postgres://...`); the password as for every store URL. */
  readonly to: string;
  /** A file holding the target's password (as `store.password_file`). */
  readonly passwordFile?: string | undefined;
  /** Empty the target's tables first (in the same transaction) instead of refusing a target with rows. */
  readonly replace?: boolean;
  /** Apply this version's pending migrations to the SQLite file first, instead of refusing an older file. */
  readonly migrateSource?: boolean;
  /** Rows per INSERT (default 5,000). */
  readonly batchRows?: number;
  /** Wall-clock now (ms), this host's name and whether a pid of it runs: for the running-daemon check. */
  readonly now: number;
  readonly host: string;
  readonly alive: (pid: number) => boolean;
  /** After each batch written: the table and its rows so far (awaited; what it throws aborts the copy). */
  readonly onBatch?: (table: string, rows: number) => void | Promise<void>;
  /** After each table: its rows copied. */
  readonly onTable?: (table: string, rows: number) => void;
}

/** One table copied: its rows (equal on both sides), and where its ids continue (`null`: no identity). */
export interface CopiedTable {
  readonly table: string;
  readonly rows: number;
  readonly nextId: number | null;
}

export interface CopyResult {
  readonly from: string;
  /** The target without its password. */
  readonly to: string;
  /** The migrations both stores are at. */
  readonly migrations: number;
  /** Whether the source was migrated first (`migrateSource` and it was behind). */
  readonly sourceMigrated: boolean;
  readonly tables: readonly CopiedTable[];
  readonly total: number;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Copies every table of the SQLite store at `from` into the PostgreSQL
 * database at `to` (migrated to the same version first), and checks each
 * table's row count on both sides before committing.
 *
 * @throws WarmupError STORE_MISSING, STORE_OPEN, STORE_URL, STORE_MIGRATION,
 *   STORE_COPY_SOURCE (not a warmup file, behind without `migrateSource`, or
 *   newer than this warmup), STORE_COPY_DAEMON_RUNNING, STORE_COPY_TARGET_NOT_EMPTY,
 *   STORE_COPY_SCHEMA, STORE_COPY_VALUE, STORE_COPY_MISMATCH, STORE_COPY_FAILED
 */
export async function copySqliteToPostgres(o: CopyOptions): Promise<CopyResult> {
  const { sqlite, migrated } = await openSource(o);
  let target: OpenedPostgres | undefined;
  try {
    target = await openTarget(o);
    return { ...await copyInto(sqlite, target, o), sourceMigrated: migrated };
  } finally {
    sqlite.close();
    await target?.store.close();
  }
}

/**
 * The source read-only, with no daemon running on it, at this version's
 * migrations (migrated first only when asked, and never under a daemon).
 */
async function openSource(o: CopyOptions): Promise<{ sqlite: BetterSqlite3.Database; migrated: boolean }> {
  let sqlite = openSqliteFile(o.from, { readonly: true });
  let gap;
  try {
    gap = migrationGap(appliedMigrations(sqlite, o.from), Object.keys(migrations));
    const live = liveLeases(sourceLeases(sqlite), { now: o.now, host: o.host, freshMs: LEASE_FRESH_MS, alive: o.alive });
    if (live.length > 0) throw daemonRunning(o.from, live);
  } catch (e) {
    sqlite.close();
    throw e;
  }
  if (gap.unknown.length > 0) {
    sqlite.close();
    throw new WarmupError('STORE_COPY_SOURCE', `${o.from} was written by a newer warmup (migrations ${gap.unknown.join(', ')} unknown here): copy it with that version`);
  }
  if (gap.pending.length === 0) return { sqlite, migrated: false };
  sqlite.close();
  if (!o.migrateSource) {
    throw new WarmupError('STORE_COPY_SOURCE', `${o.from} lacks ${gap.pending.length} migration${gap.pending.length === 1 ? '' : 's'} of this warmup (${gap.pending.join(', ')}): `
      + 'give --migrate-source to apply them to the file first (as `warmup start` would), or copy with the warmup that wrote it');
  }
  await (await openSqlite(o.from)).close();
  sqlite = openSqliteFile(o.from, { readonly: true });
  return { sqlite, migrated: true };
}

function hasTable(sqlite: BetterSqlite3.Database, name: string): boolean {
  return sqlite.prepare("select 1 from sqlite_master where type = 'table' and name = ?").get(name) !== undefined;
}

function appliedMigrations(sqlite: BetterSqlite3.Database, path: string): string[] {
  if (!hasTable(sqlite, 'kysely_migration')) throw new WarmupError('STORE_COPY_SOURCE', `${path} is not a warmup database (it has no migrations table)`);
  return (sqlite.prepare('select name from kysely_migration order by name').all() as Array<{ name: string }>).map((r) => r.name);
}

/** Every lease of the source (the plan's lease of older versions, and each IP's; a file from before fleets has no `ip_leases`). */
function sourceLeases(sqlite: BetterSqlite3.Database): LeaseRow[] {
  return ['leases', 'ip_leases'].filter((t) => hasTable(sqlite, t)).flatMap((t) => sqlite.prepare(`select * from ${quote(t)}`).all() as LeaseRow[]);
}

function daemonRunning(where: string, live: readonly LeaseRow[]): WarmupError {
  const who = [...new Set(live.map((l) => `plan ${l.plan} on host ${l.host} (pid ${l.pid})`))].join(', ');
  return new WarmupError('STORE_COPY_DAEMON_RUNNING', `a daemon is running on ${where}: ${who}; stop it (its leases are released at a clean stop) and copy again`);
}

/**
 * The target, opened without migrating it (the copy migrates it inside its
 * transaction), and refused when it already holds rows (unless `replace`):
 * nothing is written to it before the copy's transaction.
 */
async function openTarget(o: CopyOptions): Promise<OpenedPostgres> {
  const target = await openPostgres(o.to, { ...(o.passwordFile !== undefined ? { passwordFile: o.passwordFile } : {}), migrate: false, poolSize: 1 });
  try {
    await refuseIfHeld(target.db, target.store.location, o);
    return target;
  } catch (e) {
    await target.store.close();
    throw e;
  }
}

/** Refuses a target with rows (unless `replace`), and with `replace` one a daemon is writing to. */
async function refuseIfHeld(db: Kysely<Database>, location: string, o: CopyOptions): Promise<void> {
  const held = await tablesWithRows(db);
  if (held.length === 0) return;
  if (!o.replace) {
    throw new WarmupError('STORE_COPY_TARGET_NOT_EMPTY', `${location} already holds rows (${held.join(', ')}): nothing was written. `
      + 'Copy into an empty database, or give --replace to delete its rows and copy (in one transaction)');
  }
  const leases = await sql<LeaseRow>`select plan, ip, host, pid, heartbeat_at from ip_leases`.execute(db).then((r) => r.rows, () => []);
  const live = liveLeases(leases, { now: o.now, host: o.host, freshMs: LEASE_FRESH_MS, alive: o.alive });
  if (live.length > 0) throw daemonRunning(location, live);
}

/** The target's tables (besides the migrations') holding at least one row. */
async function tablesWithRows(db: Kysely<Database>): Promise<string[]> {
  const tables = (await sql<{ t: string }>`select table_name as t from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'kysely\\_%' order by 1`.execute(db)).rows.map((r) => r.t);
  const out: string[] = [];
  for (const t of tables) {
    const r = await sql<{ x: number }>`select 1 as x from ${sql.table(t)} limit 1`.execute(db);
    if (r.rows.length > 0) out.push(t);
  }
  return out;
}

interface TableSpec {
  readonly name: string;
  readonly columns: readonly PgColumn[];
  readonly identity: readonly string[];
}

/**
 * One PostgreSQL transaction on one connection: the migrations (under the
 * lock daemons migrate under, so one starting meanwhile waits), every table
 * locked, the rows copied, counted and the identities moved on; then the
 * commit. The SQLite reads happen in one read transaction (one snapshot).
 */
async function copyInto(sqlite: BetterSqlite3.Database, target: OpenedPostgres, o: CopyOptions): Promise<Omit<CopyResult, 'sourceMigrated'>> {
  const location = target.store.location;
  const secrets = [passwordOf(o.to)];
  const failed = (what: string, e: unknown): WarmupError => (e instanceof WarmupError ? e
    : new WarmupError('STORE_COPY_FAILED', redactIn(`${what}: ${(e as Error).message ?? String(e)}`, secrets), { cause: e }));
  return target.db.connection().execute(async (conn) => {
    await sql`begin`.execute(conn);
    sqlite.exec('begin');
    try {
      await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
      const { error } = await migrate(conn, true);
      if (error) throw new WarmupError('STORE_MIGRATION', redactIn(`migrating ${location} failed: ${(error as Error).message ?? String(error)}`, secrets), { cause: error });
      const specs = await targetTables(conn);
      const problems = schemaProblems(sourceTables(sqlite), new Map(specs.map((s) => [s.name, s.columns])));
      if (problems.length > 0) throw new WarmupError('STORE_COPY_SCHEMA', `the two schemas differ: ${problems.join('; ')}`);
      const keys = (await sql<ForeignKey>`select conrelid::regclass::text as child, confrelid::regclass::text as parent
        from pg_constraint where contype = 'f' and connamespace = current_schema()::regnamespace`.execute(conn)).rows;
      const order = copyOrder(specs.map((s) => s.name), keys.map((k) => ({ child: unquote(k.child), parent: unquote(k.parent) })));
      const byName = new Map(specs.map((s) => [s.name, s]));
      const sequences = sqliteSequences(sqlite);
      const list = order.map(quote).join(', ');
      // Nobody writes the target meanwhile (a daemon started against it waits); readers go on.
      await sql.raw(`lock table ${list} in exclusive mode`).execute(conn);
      if (o.replace) await sql.raw(`truncate table ${list}`).execute(conn);
      else {
        const held = await tablesWithRows(conn);
        if (held.length > 0) throw new WarmupError('STORE_COPY_TARGET_NOT_EMPTY', `${location} got rows while the copy began (${held.join(', ')}): nothing was written`);
      }
      const tables: CopiedTable[] = [];
      for (const name of order) {
        const spec = byName.get(name)!;
        const rows = await copyTable(sqlite, conn, spec, o).catch((e: unknown) => { throw failed(`copying table ${name} failed`, e); });
        await verifyCount(sqlite, conn, name, rows);
        tables.push({ table: name, rows, nextId: await continueIdentity(conn, spec, sequences.get(name) ?? null) });
        o.onTable?.(name, rows);
      }
      await sql`commit`.execute(conn);
      return { from: o.from, to: location, migrations: Object.keys(migrations).length, tables, total: tables.reduce((n, t) => n + t.rows, 0) };
    } catch (e) {
      // A connection already lost has rolled back on the server.
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw failed(`copying into ${location} failed`, e);
    } finally {
      sqlite.exec('commit');
    }
  });
}

/** `regclass::text` quotes a name only when it needs it. */
function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name;
}

function passwordOf(url: string): string | undefined {
  try { return decodeURIComponent(new URL(url).password) || undefined; } catch { return undefined; }
}

/** The SQLite file's tables (besides SQLite's and the migrations') and their columns. */
function sourceTables(sqlite: BetterSqlite3.Database): Map<string, string[]> {
  const names = (sqlite.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\' and name not like 'kysely\\_%' escape '\\'")
    .all() as Array<{ name: string }>).map((r) => r.name);
  return new Map(names.map((t) => [t, (sqlite.pragma(`table_info(${quote(t)})`) as Array<{ name: string }>).map((c) => c.name)]));
}

/** SQLite's AUTOINCREMENT counters per table (absent before the first such table). */
function sqliteSequences(sqlite: BetterSqlite3.Database): Map<string, number> {
  if (!hasTable(sqlite, 'sqlite_sequence')) return new Map();
  return new Map((sqlite.prepare('select name, seq from sqlite_sequence').all() as Array<{ name: string; seq: number }>).map((r) => [r.name, Number(r.seq)]));
}

/** The target's tables with their columns (in order, with `pg_type` names) and identity columns. */
async function targetTables(db: Kysely<Database>): Promise<TableSpec[]> {
  const cols = (await sql<{ table_name: string; column_name: string; udt_name: string; is_identity: string }>`
    select c.table_name, c.column_name, c.udt_name, c.is_identity from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
    where c.table_schema = current_schema() and c.table_name not like 'kysely\\_%' order by c.table_name, c.ordinal_position`.execute(db)).rows;
  const specs = new Map<string, { name: string; columns: PgColumn[]; identity: string[] }>();
  for (const c of cols) {
    let s = specs.get(c.table_name);
    if (!s) specs.set(c.table_name, s = { name: c.table_name, columns: [], identity: [] });
    s.columns.push({ name: c.column_name, udt: c.udt_name });
    if (c.is_identity === 'YES') s.identity.push(c.column_name);
  }
  return [...specs.values()];
}

/** Streams one table from SQLite into PostgreSQL in batches; returns the rows written. */
async function copyTable(sqlite: BetterSqlite3.Database, trx: Kysely<Database>, spec: TableSpec, o: CopyOptions): Promise<number> {
  const cols = spec.columns;
  const batchRows = Math.max(1, o.batchRows ?? 5_000);
  const text = `insert into ${quote(spec.name)} (${cols.map((c) => quote(c.name)).join(', ')}) `
    + `select * from unnest(${cols.map((c, i) => `$${i + 1}::${c.udt}[]`).join(', ')})`;
  const stmt = sqlite.prepare(`select ${cols.map((c) => quote(c.name)).join(', ')} from ${quote(spec.name)}`).raw(true).safeIntegers(true);
  let arrays: unknown[][] = cols.map(() => []);
  let pending = 0;
  let total = 0;
  const flush = async () => {
    await trx.executeQuery(CompiledQuery.raw(text, arrays));
    total += pending;
    arrays = cols.map(() => []);
    pending = 0;
    await o.onBatch?.(spec.name, total);
  };
  for (const row of stmt.iterate() as IterableIterator<unknown[]>) {
    for (let i = 0; i < cols.length; i++) arrays[i]!.push(pgValue(row[i], cols[i]!.udt, `${spec.name}.${cols[i]!.name}`));
    if (++pending >= batchRows) await flush();
  }
  if (pending > 0) await flush();
  return total;
}

/** The table's rows on PostgreSQL (inside the copy's transaction) against the SQLite snapshot's and those streamed. */
async function verifyCount(sqlite: BetterSqlite3.Database, trx: Kysely<Database>, table: string, streamed: number): Promise<void> {
  const source = Number((sqlite.prepare(`select count(*) as n from ${quote(table)}`).get() as { n: number }).n);
  const copied = Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(trx)).rows[0]!.n);
  if (source !== copied || streamed !== copied) {
    throw new WarmupError('STORE_COPY_MISMATCH', `table ${table}: ${source} rows in the SQLite file, ${streamed} streamed, ${copied} on PostgreSQL: nothing was committed`);
  }
}

/** Moves each identity of the table past the ids copied; the id the next insert gets (null: no identity). */
async function continueIdentity(trx: Kysely<Database>, spec: TableSpec, sqliteSeq: number | null): Promise<number | null> {
  let next: number | null = null;
  for (const col of spec.identity) {
    const max = (await sql<{ m: number | null }>`select max(${sql.ref(col)}) as m from ${sql.table(spec.name)}`.execute(trx)).rows[0]!.m;
    const to = identityAfter(max === null ? null : Number(max), sqliteSeq);
    await sql`select setval(pg_get_serial_sequence(${quote(spec.name)}, ${col}), ${to.value}, ${to.called})`.execute(trx);
    next = to.called ? to.value + 1 : to.value;
  }
  return next;
}
