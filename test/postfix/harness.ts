/**
 * Routing tests against the production-MTA peer: a plan with a postfix: section, `warmup start`
 * as a real process, Postfix's config from `warmup postfix PLAN`, mail submitted like an application.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import nodemailer from 'nodemailer';
import { encodeNetstring, NetstringDecoder } from '../../src/postfix/netstring.js';
import { installWarmupConfig, loadMta } from '../peers/mta.js';
import { until } from '../daemon/harness.js';

export { until };
const root = fileURLToPath(new URL('../../', import.meta.url));
export const SOCKETMAP_PORT = 10113;

export interface RoutingPlan { file: string; dir: string; db: string }

/** A plan whose providers warm up on routed mail only (no seeds), read from the MTA's log. */
export function writeRoutingPlan(o: { name: string; ips: string[]; providers: Record<string, string[]>; ramp: string; start: string; overflow?: string; extra?: string }): RoutingPlan {
  const dir = mkdtempSync(path.join(tmpdir(), `warmup-route-${o.name}-`));
  const file = path.join(dir, 'plan.yaml');
  const launch = new Date(Date.parse(`${o.start}T00:00:00Z`) + 14 * 86_400_000).toISOString().slice(0, 10);
  writeFileSync(file, [
    `name: ${o.name}`, 'timezone: UTC', `start: ${o.start}`, `launch: ${launch}`, 'window: { start: "00:00", end: "24:00" }',
    'sender:', '  from: { address: news@warmup.test }', '  unsubscribe: { url: "https://warmup.test/u" }',
    'ips:', ...o.ips.map((ip) => `  - { address: ${ip}, ehlo: mta${ip.split('.')[3]}.warmup.test }`),
    'providers:', ...Object.entries(o.providers).flatMap(([n, domains]) => [`  ${n}:`, `    domains: [${domains.join(', ')}]`, `    ramp: ${o.ramp}`]),
    'delivery:', '  dns_servers: [127.0.0.60]', '  catch_up_factor: 100',
    'dnsbl: { zones: [zen.dnsbl.test] }',
    `store: { path: ${dir}/warmup.db }`,
    'postfix:', `  listen: 127.0.0.1:${SOCKETMAP_PORT}`, `  log_file: ${loadMta().logFile}`, `  overflow: ${o.overflow ?? 'defer'}`,
    o.extra ?? '',
  ].join('\n'));
  return { file, dir, db: path.join(dir, 'warmup.db') };
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: root, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout)));
  });
}

/** Runs the bundled CLI and returns its stdout. */
export function cli(...args: string[]): Promise<string> {
  return run(process.execPath, [path.join(root, 'dist/bundle/main.js'), ...args]);
}

/** Installs what `warmup postfix PLAN` prints into the production MTA (passing `postfix check`). */
export async function configureMta(plan: RoutingPlan): Promise<void> {
  const main = await cli('postfix', plan.file, '--main');
  const master = await cli('postfix', plan.file, '--master');
  await installWarmupConfig(main, master);
}

/** Deletes whatever an earlier test left in the MTA's queue. */
export async function emptyMtaQueue(): Promise<void> {
  await run('postsuper', ['-c', loadMta().configDir, '-d', 'ALL']);
}

export interface Warmup { child: ChildProcess; output: () => string; stop(): Promise<number | null> }

/** `warmup start` as a real process (the bundled CLI), ready once it answers Postfix. */
export async function startWarmup(plan: RoutingPlan, from: string, speed = 1): Promise<Warmup> {
  const child = spawn(process.execPath, [path.join(root, 'dist/bundle/main.js'), 'start', plan.file, '--force', '--from', from, '--speed', String(speed), '--tick', '200', '--log-level', 'debug'], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await until('warmup to answer Postfix', 30_000, () => out.includes('routing real mail for Postfix') || (child.exitCode !== null && Promise.reject(new Error(`warmup start exited:\n${out}`))));
  return { child, output: () => out, stop: async () => { child.kill('SIGTERM'); return exited; } };
}

/** Submits one message per recipient to the MTA's submission listener, like an application. */
export async function submit(recipients: readonly string[], from = 'app@sink.test'): Promise<void> {
  const { host, port } = loadMta().submission;
  const t = nodemailer.createTransport({ host, port, secure: false, ignoreTLS: true, pool: true, maxConnections: 2 });
  try {
    await Promise.all(recipients.map((to) => t.sendMail({ from, to, subject: `routed ${to}`, text: `hello ${to}` })));
  } finally {
    t.close();
  }
}

/** One query on the plan's database (read-only, while the daemon runs). */
export function query<T>(plan: RoutingPlan, sql: string, ...params: unknown[]): T[] {
  const d = new BetterSqlite3(plan.db, { readonly: true, fileMustExist: true });
  try { return d.prepare(sql).all(...params) as T[]; } finally { d.close(); }
}

/**
 * The MTA peer, its config and the socketmap port are one shared resource: two test runs on the
 * machine (two worktrees, a CI rehearsal) must take turns. Takes a lock directory in the peers'
 * state dir (owner PID inside; a dead owner's lock is taken over) and returns its release.
 */
export async function lockMta(timeoutMs = 10 * 60_000): Promise<() => Promise<void>> {
  const lock = path.join(path.dirname(loadMta().configDir), '..', 'locks', 'mta-routing');
  await mkdir(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(path.join(lock, 'owner'), String(process.pid));
      return () => rm(lock, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number((await readFile(path.join(lock, 'owner'), 'utf8').catch(() => '')).trim());
    const alive = owner > 0 && (() => { try { process.kill(owner, 0); return true; } catch { return false; } })();
    if (!alive && (owner > 0 || Date.now() - ((await stat(lock).catch(() => null))?.mtimeMs ?? 0) > 10_000)) {
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the production MTA peer is in use by another test run (pid ${owner}) for over ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A run id for unique recipients: mailboxes and greylisting remember earlier runs. */
export const runId = (): string => Date.now().toString(36);

/** A Postfix-like client: one connection, requests one at a time. */
export async function socketmapClient(connect: net.NetConnectOpts) {
  const sock = net.connect(connect);
  await new Promise<void>((r, j) => { sock.once('connect', r); sock.once('error', j); });
  const dec = new NetstringDecoder();
  const replies: string[] = [];
  let wake: (() => void) | null = null;
  sock.on('data', (c: Buffer) => { replies.push(...dec.push(c)); wake?.(); });
  return {
    async ask(req: string): Promise<string> {
      sock.write(encodeNetstring(req));
      while (replies.length === 0) await new Promise<void>((r) => { wake = r; });
      return replies.shift()!;
    },
    raw: (b: string) => sock.write(b),
    closed: () => new Promise<void>((r) => sock.once('close', () => r())),
    end: () => sock.destroy(),
  };
}
