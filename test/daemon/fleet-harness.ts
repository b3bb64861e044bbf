/**
 * A fleet in tests: three `warmup start` processes (hosts a, b, c) on one
 * machine, each assigned three source IPs by `ips[].host`, against one
 * database and the Postfix MX, on one accelerated clock. Recipients are unique
 * per run, so counting a run's mail in the MX's Maildirs is right however many
 * runs went before.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { openSqlite } from '../../src/store/open.js';
import type { Database, Db } from '../../src/store/schema.js';
import { createPostgresDatabase, dnsServer, loadPeers, readMaildir } from '../peers/peers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const bundle = join(root, 'dist/bundle/main.js');

/** host -> its IPs (the issue's 127.0.0.2-4, .5-7, .8-10). */
export const FLEET_HOSTS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  a: ['127.0.0.2', '127.0.0.3', '127.0.0.4'],
  b: ['127.0.0.5', '127.0.0.6', '127.0.0.7'],
  c: ['127.0.0.8', '127.0.0.9', '127.0.0.10'],
});

export interface FleetPlan {
  readonly file: string;
  readonly dir: string;
  /** The run's own seed mailboxes at postfix.test (local parts). */
  readonly seeds: readonly string[];
  readonly name: string;
}

/**
 * The plan: one day (launch the next), `perLane` messages per lane, its
 * database on `store` (a SQLite file in the run's folder, or a new PostgreSQL database).
 * The DNSBL zone is one that lists nothing (127.0.0.2 is the RFC 5782 test
 * entry of zen.dnsbl.test, and is one of the fleet's IPs).
 */
export async function writeFleetPlan(o: { name: string; perLane: number; store: FleetStore; hosts?: Readonly<Record<string, readonly string[]>>; extra?: string }): Promise<FleetPlan & { store: string }> {
  const dir = mkdtempSync(join(tmpdir(), `warmup-${o.name}-`));
  const store = await o.store.store(dir);
  const run = randomBytes(3).toString('hex');
  const seeds = ['a', 'b', 'c'].map((s) => `fl${run}-${s}`);
  const hosts = o.hosts ?? FLEET_HOSTS;
  const name = `${o.name}-${run}`;
  const text = `name: ${name}
timezone: UTC
start: 2026-12-01
launch: 2026-12-02
window: { start: "08:00", end: "20:00" }
sender:
  from: { address: hello@news.warmup.test, name: Warmup Test }
  unsubscribe: { url: "https://news.warmup.test/u?r={{recipient}}" }
ips:
${Object.entries(hosts).flatMap(([host, ips]) => ips.map((ip) => `  - { address: ${ip}, ehlo: mta${ip.split('.')[3]}.warmup.test${host === '*' ? '' : `, host: ${host}`} }`)).join('\n')}
ramps:
  default: { daily: [${o.perLane}] }
providers:
  postfix:
    domains: [postfix.test]
    seeds: [${seeds.map((s) => `${s}@postfix.test`).join(', ')}]
delivery:
  dns_servers: [${dnsServer}]
  timeouts: { connect: 2s, greeting: 5s, command: 10s }
  catch_up_factor: 20
policy: { retry_grace: 1h }
warnings: { ip_peak_per_day: 1, mailbox_per_day: 100000 }
dnsbl: { zones: [broken.dnsbl.test], interval: 2h }
store: ${store}
${o.extra ?? ''}`;
  const file = join(dir, 'plan.yaml');
  writeFileSync(file, text);
  return { file, dir, seeds, name, store };
}

export interface Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  stdout(): string;
}

/** `warmup start PLAN --host HOST` as a process. */
export function startMember(file: string, host: string, o: { from: string; speed: number; heartbeatMs: number; tickMs?: number; args?: string[] }): Proc {
  const child = spawn(process.execPath, [bundle, 'start', file, '--host', host, '--speed', String(o.speed), '--from', o.from,
    '--tick', String(o.tickMs ?? 50), '--heartbeat', String(o.heartbeatMs), '--force', ...(o.args ?? [])], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d) => { err += d; });
  child.stdout!.on('data', (d) => { out += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, stderr: () => err, stdout: () => out };
}

/** A CLI command's stdout (`warmup status ... --json`). */
export async function cli(args: readonly string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [bundle, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, out, err };
}

/** Deliveries of the run's seeds at the MX, per Message-ID (an id seen twice arrived twice). */
export async function deliveries(seeds: readonly string[]): Promise<Map<string, { n: number; ip: string | null }>> {
  const byId = new Map<string, { n: number; ip: string | null }>();
  for (const s of seeds) {
    for (const m of await readMaildir('postfix.test', s)) {
      const raw = m.raw.toString('latin1');
      const id = /^Message-ID: <([^>]+)>/m.exec(raw)?.[1] ?? '';
      const ip = /\(unknown \[(127\.0\.0\.\d+)\]\)/.exec(raw)?.[1] ?? null;
      const e = byId.get(id) ?? { n: 0, ip };
      e.n++;
      byId.set(id, e);
    }
  }
  return byId;
}

/** Where a fleet test's database lives: a SQLite file (`--db` not needed) or a fresh PostgreSQL database. */
export interface FleetStore {
  readonly name: 'SQLite' | 'PostgreSQL';
  /** The plan's `store:` YAML for a run in `dir`. */
  store(dir: string): Promise<string>;
  /** Reads the run's database with kysely (as the daemons wrote it). */
  read<T>(store: string, fn: (db: Db) => Promise<T>): Promise<T>;
}

const sqliteStore: FleetStore = {
  name: 'SQLite',
  store: async (dir) => `{ path: ${join(dir, 'fleet.db')} }`,
  async read(store, fn) {
    const s = await openSqlite(/path: (.*) \}/.exec(store)![1]!, { readonly: true });
    try { return await fn(s.db); } finally { await s.close(); }
  },
};

const pgStore: FleetStore = {
  name: 'PostgreSQL',
  store: async () => `{ url: "${await createPostgresDatabase('fleet')}" }`,
  async read(store, fn) {
    const url = /url: "(.*)"/.exec(store)![1]!;
    // bigint columns as numbers, as the store reads them.
    const types = { getTypeParser: ((oid: number, format?: 'text') => (oid === 20 || oid === 1700 ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser };
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2, types }) }) });
    try { return await fn(db); } finally { await db.destroy(); }
  },
};

/** SQLite always; PostgreSQL when the test peers run it. */
export const FLEET_STORES: readonly FleetStore[] = [sqliteStore, ...(loadPeers().postgres ? [pgStore] : [])];
