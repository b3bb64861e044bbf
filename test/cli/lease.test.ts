/**
 * `warmup start` as a real process: one daemon per plan and database (the
 * lease), a lease left by kill -9 taken over, and a DNSBL listing found at
 * start reaching the webhook.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { listIp, unlistIp } from '../peers/peers.js';
import { until, writePlan } from '../daemon/harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const children = new Set<ChildProcess>();
afterAll(() => { for (const c of children) c.kill('SIGKILL'); });

function start(file: string, from: string, speed = 60): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', file, '--speed', String(speed), '--from', from, '--tick', '50', '--force'], {
    cwd: root, stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { children.delete(child); resolve(code); }));
  return { child, stderr: () => err, exited };
}

/** The daemon has started (its run is recorded): its signal handlers are in place. */
function running(dir: string, pid: number | undefined): boolean {
  try {
    const d = new BetterSqlite3(`${dir}/warmup.db`, { readonly: true, fileMustExist: true });
    try { return d.prepare('select count(*) from runs where pid = ?').pluck().get(pid) === 1; } finally { d.close(); }
  } catch { return false; }
}

function lease(dir: string): { host: string; pid: number } | undefined {
  try {
    const d = new BetterSqlite3(`${dir}/warmup.db`, { readonly: true, fileMustExist: true });
    try { return d.prepare('select host, pid from ip_leases').get() as { host: string; pid: number } | undefined; } finally { d.close(); }
  } catch { return undefined; }
}

describe('one daemon per plan and database', () => {
  it('a second start refuses with exit 1 naming the host and pid; after kill -9 the next start takes the lease over', async () => {
    const { file, dir } = writePlan({ name: 'lease', ips: ['127.0.0.152'], providers: { sink: { domains: ['sink.test'], seeds: ['lease-a@sink.test'] } } });
    const first = start(file, '2026-12-01T09:00:00Z');
    const held = await until('the first daemon to hold the lease', 20_000, () => lease(dir)?.pid === first.child.pid && lease(dir));
    expect(held).toEqual({ host: hostname().toLowerCase(), pid: first.child.pid });

    const second = start(file, '2026-12-01T09:00:00Z');
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`plan "lease" is already running on host ${hostname().toLowerCase()} as pid ${first.child.pid}`);
    expect(lease(dir)?.pid).toBe(first.child.pid);

    first.child.kill('SIGKILL');
    await first.exited;
    const third = start(file, '2026-12-01T09:30:00Z');
    await until('the restarted daemon to take the lease over', 20_000, () => lease(dir)?.pid === third.child.pid && running(dir, third.child.pid));
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    // A clean stop gives the lease up.
    expect(lease(dir)).toBeUndefined();
  }, 60_000);
});

describe('alerts from the start', () => {
  let server: Server | null = null;
  afterAll(async () => {
    await unlistIp('zen.dnsbl.test', '127.0.0.153');
    await new Promise((r) => (server ? server.close(r) : r(null)));
  });

  it('a DNSBL listing found before the first send reaches the webhook', async () => {
    const bodies: Array<{ type: string; ip: string }> = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => { bodies.push(JSON.parse(body)); res.end('ok'); });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.154', r));
    const port = (server.address() as AddressInfo).port;
    await listIp('zen.dnsbl.test', '127.0.0.153');
    const { file, dir } = writePlan({
      name: 'start-alert', ips: ['127.0.0.153'], providers: { sink: { domains: ['sink.test'], seeds: ['alert-a@sink.test'] } },
      extra: `alerts: { webhook: { url: "http://127.0.0.154:${port}/hook" } }`,
    });
    const d = start(file, '2026-12-01T09:00:00Z');
    await until('the daemon to run', 20_000, () => running(dir, d.child.pid));
    const listed = await until('the listing alert', 20_000, () => bodies.find((b) => b.type === 'dnsbl_listed'));
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(listed).toMatchObject({ type: 'dnsbl_listed', ip: '127.0.0.153' });
  }, 60_000);
});
