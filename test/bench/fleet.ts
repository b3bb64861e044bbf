/**
 * `npm run bench -- fleet [--messages N] [--window-seconds S] [--only single|fleet] [--cpu-prof DIR] [--cli FILE] [--log-statements]`
 *
 * A fleet against one daemon, same plan volume: three `warmup start`
 * processes (hosts a, b, c, three IPs each) on one PostgreSQL database (the
 * test peers' server, a fresh database per run), against one `warmup start`
 * holding all nine IPs on SQLite, both sending to Postfix's smtp-sink on
 * 127.0.0.122:2526 (started here, stopped by its PID). The day's volume is
 * more than either can send in the send window (S real seconds), so each
 * sends as fast as it can: messages accepted per real second of the window,
 * and `ratio` = fleet / single daemon, in the last JSON line. Also, per side:
 * `cpuMsPerMessage`, the daemons' CPU (user + sys, from /proc) per accepted
 * message over the window, and for the fleet `pgCpuMsPerMessage`, the CPU of
 * the PostgreSQL backends serving its database; `startLagS`, real seconds
 * from the window's opening (08:00 on the first daemon's clock, from its run
 * row) to the first message counted as sent; `daemonErrors` and
 * `daemonsFailedClosed`, the error and fatal lines of the daemons' logs (shown
 * as they come: a daemon that failed closed stopped sending). `--only` runs one side (no
 * ratio); `--cpu-prof DIR` writes a V8 CPU profile of the first daemon of
 * each side (host a for the fleet) to DIR; `--cli FILE` runs that bundled CLI
 * instead of building this tree's (A/B runs of two builds, interleaved);
 * `--log-statements` logs every statement on the fleet's database with its
 * duration in the PostgreSQL server's log (statements per message, lock waits).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { createPostgresDatabase, dnsServer } from '../peers/peers.js';
import { buildCli, machine, procSample, result, round, start, stop, waitForPort } from './lib.js';

const { values } = parseArgs({ options: { messages: { type: 'string' }, 'window-seconds': { type: 'string' }, only: { type: 'string' }, 'cpu-prof': { type: 'string' }, cli: { type: 'string' }, 'log-statements': { type: 'boolean' } } });
const ONLY = values.only ?? null;
if (ONLY !== null && ONLY !== 'single' && ONLY !== 'fleet') throw new Error(`--only must be single or fleet (got ${ONLY})`);
const CPU_PROF = values['cpu-prof'] ?? null;
const LOG_STATEMENTS = values['log-statements'] ?? false;
/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const HZ = 100;
const TOTAL = Number(values.messages ?? 90_000);
const WINDOW_S = Number(values['window-seconds'] ?? 30);
const SINK = { host: '127.0.0.122', port: 2526 };
const HOSTS: Record<string, string[]> = { a: ['127.0.0.181', '127.0.0.182', '127.0.0.183'], b: ['127.0.0.184', '127.0.0.185', '127.0.0.186'], c: ['127.0.0.187', '127.0.0.188', '127.0.0.189'] };
const IPS = Object.values(HOSTS).flat();
const PER_LANE = Math.ceil(TOTAL / IPS.length);
// The window is 30 plan minutes; the clock runs so that it lasts WINDOW_S real seconds.
const SPEED = 1800 / WINDOW_S;
// Ten plan minutes before the window: time for the daemons to start (and the fleet to join one clock).
const FROM = '2026-12-01T07:50:00Z';
const repo = join(import.meta.dirname, '..', '..');

function plan(dir: string, name: string, store: string, fleet: boolean): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}
timezone: UTC
start: 2026-12-01
launch: 2026-12-02
window: { start: "08:00", end: "08:30" }
sender:
  from: { address: hello@bench.warmup.test, name: Bench }
  unsubscribe: { url: "https://bench.warmup.test/u?r={{recipient}}" }
ips:
${Object.entries(HOSTS).flatMap(([host, ips]) => ips.map((ip) => `  - { address: ${ip}, ehlo: mta${ip.split('.')[3]}.bench.warmup.test${fleet ? `, host: ${host}` : ''} }`)).join('\n')}
ramps:
  default: { daily: [${PER_LANE}] }
providers:
  sink:
    domains: [sink.test]
    seeds: [${Array.from({ length: 20 }, (_, i) => `fleet${i + 1}@sink.test`).join(', ')}]
delivery:
  dns_servers: [${dnsServer}]
  routes: { sink: "${SINK.host}:${SINK.port}" }
  catch_up_factor: 1000
warnings: { ip_peak_per_day: 1, mailbox_per_day: 100000000 }
dnsbl: { zones: [broken.dnsbl.test], interval: 1d }
store: ${store}
`);
  return file;
}

/** Error and fatal lines the daemons logged (a write that failed, a daemon that failed closed). */
const logged = { errors: 0, fatal: 0 };

function daemon(cli: string, file: string, host: string | null, db: string | null, profile: boolean): { child: ChildProcess; exited: Promise<number | null> } {
  const args = [...(profile && CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : []), cli, 'start', file, '--speed', String(SPEED), '--from', FROM, '--tick', '50', '--force', '--log-level', 'warn', ...(host ? ['--host', host] : []), ...(db ? ['--db', db] : [])];
  const child = spawn(process.execPath, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${host ?? 'single'}] ${d}`));
  // The daemon's log (JSON lines): errors are shown (a daemon that fails closed changes every figure).
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!/"level":(50|60)/.test(line)) return;
    const e = JSON.parse(line) as { level: number; time: string; msg?: string; err?: { message?: string } };
    if (e.level === 60) logged.fatal++;
    else logged.errors++;
    process.stderr.write(`[${host ?? 'single'}] ${e.time} ${e.level === 60 ? 'FATAL' : 'ERROR'} ${e.msg ?? ''}${e.err?.message ? `: ${e.err.message}` : ''}\n`);
  });
  return { child, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

/** Sums of the day over every lane: sent (started) and accepted; `windowOpensAt`: real ms of 08:00 on the first run's clock. */
type Read = () => Promise<{ sent: number; accepted: number; leased: number; windowOpensAt: number | null }>;

/** 08:00 of the plan's first day, in real ms, from the first run's (started_at, real_started_at, speed). */
const WINDOW_OPENS = Date.parse('2026-12-01T08:00:00Z');
const opensAt = (run: { started_at: number; real_started_at: number | null; speed: number } | undefined): number | null =>
  run && run.real_started_at !== null ? Number(run.real_started_at) + (WINDOW_OPENS - Number(run.started_at)) / Number(run.speed) : null;

/** CPU ticks of the processes `pids()` names now (those gone are left out). */
function ticksOf(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) { try { out.set(pid, procSample(pid).ticks); } catch { /* exited */ } }
  return out;
}

/** CPU seconds spent between two samples (a process first seen in `after` counts whole). */
const cpuBetween = (before: Map<number, number>, after: Map<number, number>): number =>
  [...after].reduce((s, [pid, t]) => s + t - (before.get(pid) ?? 0), 0) / HZ;

interface Measured {
  perSecond: number; sent: number; accepted: number; seconds: number; cpuMsPerMessage: number; serverCpuMsPerMessage: number | null; startLagS: number | null;
  daemonErrors: number; daemonsFailedClosed: number;
}

async function measure(label: string, members: Array<{ file: string; host: string | null; db: string | null }>, read: Read, cli: string, serverPids: () => Promise<number[]> = async () => []): Promise<Measured> {
  logged.errors = 0;
  logged.fatal = 0;
  const procs = [daemon(cli, members[0]!.file, members[0]!.host, members[0]!.db, true)];
  const waitFor = async (what: string, ok: () => Promise<boolean>, ms: number) => {
    const end = Date.now() + ms;
    while (!(await ok().catch(() => false))) {
      if (Date.now() > end) throw new Error(`${label}: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await waitFor('the first daemon', async () => (await read()).leased > 0, 30_000);
  for (const m of members.slice(1)) procs.push(daemon(cli, m.file, m.host, m.db, false));
  await waitFor('every IP leased', async () => (await read()).leased === IPS.length, 30_000);
  // The window opens at 08:00 plan time; sending stops after it (plus a grace of two ticks).
  let last = await read();
  await waitFor('sending to start', async () => (last = await read()).sent > 0, 60_000);
  const t0 = Date.now();
  const startLagS = last.windowOpensAt === null ? null : (t0 - last.windowOpensAt) / 1000;
  const daemonPids = procs.map((p) => p.child.pid!);
  const cpu0 = ticksOf(daemonPids);
  const server0 = ticksOf(await serverPids());
  let cpu1 = cpu0;
  let server1 = server0;
  let lastChange = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await read();
    if (now.accepted !== last.accepted || now.sent !== last.sent) {
      lastChange = Date.now();
      cpu1 = ticksOf(daemonPids);
      server1 = ticksOf(await serverPids());
    }
    last = now;
    if (now.accepted >= IPS.length * PER_LANE || (Date.now() - t0 > WINDOW_S * 1000 && Date.now() - lastChange > 1500)) break;
  }
  const seconds = Math.min((lastChange - t0) / 1000, WINDOW_S);
  for (const p of procs) p.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.exited));
  const accepted = last.accepted;
  const cpuMsPerMessage = (cpuBetween(cpu0, cpu1) * 1000) / Math.max(1, accepted);
  const serverCpuMsPerMessage = server0.size + server1.size > 0 ? (cpuBetween(server0, server1) * 1000) / Math.max(1, accepted) : null;
  process.stdout.write(`${label}: ${accepted.toLocaleString('en-US')} accepted of ${last.sent.toLocaleString('en-US')} sent in ${round(seconds)} s of the window: ${round(accepted / seconds)} msg/s; `
    + `first send ${startLagS === null ? '?' : round(startLagS, 2)} s after the window opened; daemons' CPU ${round(cpuMsPerMessage, 2)} ms per message`
    + `${serverCpuMsPerMessage === null ? '' : `, PostgreSQL backends' ${round(serverCpuMsPerMessage, 2)} ms`}; load ${machine().loadavg1}\n`);
  if (logged.errors + logged.fatal > 0) process.stdout.write(`${label}: the daemons logged ${logged.errors} errors and ${logged.fatal} fatal (failed closed: stopped sending)\n`);
  return { perSecond: accepted / seconds, sent: last.sent, accepted, seconds, cpuMsPerMessage, serverCpuMsPerMessage, startLagS, daemonErrors: logged.errors, daemonsFailedClosed: logged.fatal };
}

const cli = values.cli ?? buildCli(repo);
const dir = mkdtempSync(join(tmpdir(), 'warmup-bench-fleet-'));
const sink = start('/usr/sbin/smtp-sink', ['-u', 'nobody', `${SINK.host}:${SINK.port}`, '1000']);
try {
  await waitForPort(SINK.host, SINK.port);
  process.stdout.write(`${IPS.length} IPs, ${PER_LANE.toLocaleString('en-US')} messages per lane (${(PER_LANE * IPS.length).toLocaleString('en-US')} in all) due over a ${WINDOW_S} s window (x${round(SPEED)} clock), smtp-sink on ${SINK.host}:${SINK.port}\n`);

  // One daemon on SQLite, all nine IPs.
  let one: Measured | null = null;
  if (ONLY !== 'fleet') {
    const sqlitePath = join(dir, 'single.db');
    const single = plan(dir, 'bench-fleet-single', `{ path: ${sqlitePath} }`, false);
    const readSqlite: Read = async () => {
      const db = new BetterSqlite3(sqlitePath, { readonly: true, fileMustExist: true });
      try {
        const d = db.prepare('select coalesce(sum(sent), 0) as sent, coalesce(sum(accepted), 0) as accepted from lane_days').get() as { sent: number; accepted: number };
        const leased = (db.prepare('select count(*) from ip_leases').pluck().get() as number) ?? 0;
        const run = db.prepare('select started_at, real_started_at, speed from runs order by id limit 1').get() as Parameters<typeof opensAt>[0];
        return { ...d, leased, windowOpensAt: opensAt(run) };
      } finally { db.close(); }
    };
    one = await measure('1 daemon on SQLite', [{ file: single, host: null, db: null }], readSqlite, cli);
  }

  // Three daemons on PostgreSQL, three IPs each.
  let three: Measured | null = null;
  if (ONLY !== 'single') {
    const url = await createPostgresDatabase('bench_fleet');
    const fleet = plan(dir, 'bench-fleet', `{ url: "${url}" }`, true);
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    // Every statement of the fleet's database into the server's log, with its duration (new connections take it).
    if (LOG_STATEMENTS) await client.query(`alter database "${new URL(url).pathname.slice(1)}" set log_min_duration_statement = 0`);
    const readPg: Read = async () => {
      const d = await client.query('select coalesce(sum(sent), 0)::int as sent, coalesce(sum(accepted), 0)::int as accepted, (select count(*)::int from ip_leases) as leased from lane_days');
      const run = await client.query('select started_at::float8, real_started_at::float8, speed::float8 from runs order by id limit 1');
      return { ...(d.rows[0] as { sent: number; accepted: number; leased: number }), windowOpensAt: opensAt(run.rows[0]) };
    };
    // The backends serving the fleet's database (this reader's own excluded): PostgreSQL's share of the work.
    const backends = async (): Promise<number[]> =>
      (await client.query('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()')).rows.map((r: { pid: number }) => r.pid);
    try {
      three = await measure('3 daemons on PostgreSQL', ['a', 'b', 'c'].map((h) => ({ file: fleet, host: h, db: null })), readPg, cli, backends);
    } finally {
      await client.end();
    }
  }
  const ratio = one && three ? three.perSecond / one.perSecond : null;
  process.stdout.write(`${ratio === null ? '' : `ratio (fleet / single): ${round(ratio, 2)}; `}machine: ${JSON.stringify(machine())}\n`);
  const side = (m: Measured | null, store: string, daemons: number) => m && {
    store, daemons, perSecond: round(m.perSecond), sent: m.sent, accepted: m.accepted, seconds: round(m.seconds), startLagS: m.startLagS === null ? null : round(m.startLagS, 2),
    cpuMsPerMessage: round(m.cpuMsPerMessage, 2), ...(m.serverCpuMsPerMessage === null ? {} : { pgCpuMsPerMessage: round(m.serverCpuMsPerMessage, 2) }),
    daemonErrors: m.daemonErrors, daemonsFailedClosed: m.daemonsFailedClosed,
  };
  result({
    bench: 'fleet', ips: IPS.length, planned: PER_LANE * IPS.length, windowSeconds: WINDOW_S,
    single: side(one, 'sqlite', 1), fleet: side(three, 'postgres', 3), ratio: ratio === null ? null : round(ratio, 3), ...machine(),
  });
} finally {
  await stop(sink);
}
