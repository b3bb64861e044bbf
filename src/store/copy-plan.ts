/**
 * The decisions of `warmup store copy` (a SQLite file into PostgreSQL) that
 * need no database: whether the source is at this version's migrations, which
 * tables go in which order (parents before the tables whose foreign keys name
 * them), whether the two schemas hold the same columns, how a SQLite value
 * becomes a PostgreSQL one, which leases show a daemon still running, and
 * where an identity continues. The IO is in ./copy.ts.
 */
import { WarmupError } from '../util/errors.js';

/** A column of the PostgreSQL table, with its type as `pg_type.typname` (`int8`, `int4`, `text`, `float8`, `bool`...). */
export interface PgColumn {
  readonly name: string;
  readonly udt: string;
}

/** A foreign key: `child` has a column naming a row of `parent`. */
export interface ForeignKey {
  readonly child: string;
  readonly parent: string;
}

/** Which migrations the source lacks and which it has that this version does not know. */
export interface MigrationGap {
  readonly pending: readonly string[];
  readonly unknown: readonly string[];
}

/** The migrations of `known` not in `applied`, and those of `applied` not in `known` (a newer warmup wrote the file). */
export function migrationGap(applied: readonly string[], known: readonly string[]): MigrationGap {
  const done = new Set(applied);
  const ours = new Set(known);
  return { pending: known.filter((m) => !done.has(m)), unknown: applied.filter((m) => !ours.has(m)) };
}

/**
 * The tables in an order that inserts every parent before its children
 * (ties by name, so the order is the same every run); a table's key naming
 * itself does not count. A cycle is an error (no order inserts it).
 *
 * @throws WarmupError STORE_COPY_SCHEMA
 */
export function copyOrder(tables: readonly string[], keys: readonly ForeignKey[]): string[] {
  const parents = new Map(tables.map((t) => [t, new Set<string>()]));
  for (const k of keys) if (k.child !== k.parent && parents.has(k.child) && parents.has(k.parent)) parents.get(k.child)!.add(k.parent);
  const out: string[] = [];
  const placed = new Set<string>();
  while (out.length < tables.length) {
    const ready = [...parents].filter(([t, ps]) => !placed.has(t) && [...ps].every((p) => placed.has(p))).map(([t]) => t).sort();
    if (ready.length === 0) {
      throw new WarmupError('STORE_COPY_SCHEMA', `the foreign keys of ${tables.filter((t) => !placed.has(t)).join(', ')} form a cycle: no insert order exists`);
    }
    out.push(ready[0]!);
    placed.add(ready[0]!);
  }
  return out;
}

/**
 * What differs between the SQLite tables (their column names) and the
 * PostgreSQL ones: each line one table or column present on one side only.
 * Both were made by the same migrations, so any line means a schema changed
 * by hand (or a bug): the copy refuses rather than drop a column's data.
 */
export function schemaProblems(sqlite: ReadonlyMap<string, readonly string[]>, pg: ReadonlyMap<string, readonly PgColumn[]>): string[] {
  const out: string[] = [];
  for (const t of [...sqlite.keys()].sort()) if (!pg.has(t)) out.push(`table ${t} is in the SQLite file but not on PostgreSQL`);
  for (const t of [...pg.keys()].sort()) {
    const cols = sqlite.get(t);
    if (!cols) { out.push(`table ${t} is on PostgreSQL but not in the SQLite file`); continue; }
    const pgNames = new Set(pg.get(t)!.map((c) => c.name));
    for (const c of cols) if (!pgNames.has(c)) out.push(`column ${t}.${c} is in the SQLite file but not on PostgreSQL`);
    for (const c of pgNames) if (!cols.includes(c)) out.push(`column ${t}.${c} is on PostgreSQL but not in the SQLite file`);
  }
  return out;
}

const INT_RANGE: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int2: [-(2n ** 15n), 2n ** 15n - 1n],
  int4: [-(2n ** 31n), 2n ** 31n - 1n],
  int8: [-(2n ** 63n), 2n ** 63n - 1n],
};

/**
 * A value read from SQLite (integers as BigInt: better-sqlite3's safe
 * integers, so nothing beyond 2^53 loses digits) as the parameter a
 * PostgreSQL column of type `udt` takes: integers as decimal text (checked
 * against the column's range: an id or a time past 2^31 fits `bigint` only),
 * booleans from SQLite's 0/1, floats as numbers, text (JSON included) as it is.
 * `where` (`table.column`) names the value in the error.
 *
 * @throws WarmupError STORE_COPY_VALUE when the value cannot be that type
 */
export function pgValue(value: unknown, udt: string, where: string): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  const bad = (why: string): never => {
    throw new WarmupError('STORE_COPY_VALUE', `${where}: ${describe(value)} ${why}`);
  };
  if (value instanceof Uint8Array) return bad(`is a blob; column type ${udt} takes no blob`);
  const range = INT_RANGE[udt];
  if (range) {
    let n: bigint;
    if (typeof value === 'bigint') n = value;
    else if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
    else if (typeof value === 'string' && /^-?\d+$/.test(value)) n = BigInt(value);
    else return bad(`is not a whole number (column type ${udt})`);
    if (n < range[0] || n > range[1]) bad(`is out of the range of column type ${udt}`);
    return n.toString();
  }
  if (udt === 'bool') {
    if (typeof value === 'boolean') return value;
    if (value === 0 || value === 1 || value === 0n || value === 1n) return value === 1 || value === 1n;
    return bad('is not a boolean (0 or 1)');
  }
  if (udt === 'float4' || udt === 'float8' || udt === 'numeric') {
    const n = typeof value === 'bigint' ? Number(value) : typeof value === 'number' ? value : Number.NaN;
    if (Number.isNaN(n)) return bad(`is not a number (column type ${udt})`);
    return n;
  }
  // text, json, jsonb, varchar: SQLite's TEXT as it is (PostgreSQL checks JSON itself).
  return typeof value === 'string' ? value : String(value);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (value instanceof Uint8Array) return `a blob of ${value.length} bytes`;
  return String(value);
}

/** A lease row (`leases` or `ip_leases`): who holds it, since when it was renewed (wall-clock ms). */
/**
 * A lease renewed this recently (wall-clock ms) shows a running daemon: twelve of the default 5 s
 * heartbeats, two of the longest `warmup start --heartbeat` allows.
 */
export const LEASE_FRESH_MS = 60_000;

export interface LeaseRow {
  readonly plan: string;
  readonly ip?: string | undefined;
  readonly host: string;
  readonly pid: number;
  readonly heartbeat_at: number;
}

/**
 * The leases that show a daemon still running: renewed within `freshMs` of
 * `now`, or held by a live process of this host. A daemon releases its leases
 * at a clean stop; one left by a crashed daemon (kill -9, a lost host) is
 * neither, and is copied as it is (the next daemon takes it over as stale).
 */
export function liveLeases<L extends LeaseRow>(rows: readonly L[], o: { now: number; host: string; freshMs: number; alive: (pid: number) => boolean }): L[] {
  return rows.filter((r) => o.now - r.heartbeat_at <= o.freshMs || (r.host === o.host && o.alive(r.pid)));
}

/**
 * Where an identity continues after the copy: past the greatest id copied
 * and past SQLite's own AUTOINCREMENT counter (`sqlite_sequence`, which is
 * ahead of the greatest id when the last rows were deleted), so no id is
 * handed out twice (a fleet's alert cursor names event ids). `setval(seq,
 * value, called)`: `called` false when nothing was ever taken (next id 1).
 */
export function identityAfter(maxId: number | null, sqliteSeq: number | null): { value: number; called: boolean } {
  const last = Math.max(maxId ?? 0, sqliteSeq ?? 0);
  return last >= 1 ? { value: last, called: true } : { value: 1, called: false };
}
