/**
 * The chaos test: a real `warmup start` process (the built bundle) runs an
 * accelerated sending day against the Postfix MX peer and is killed with
 * SIGKILL at 22 random moments, restarted each time with the clock carried
 * on. Afterwards every message is accounted for, Postfix received at most as
 * many more messages than the store counts accepted as were in flight at the
 * kills (the documented duplicate bound), every lane-day whose window ended is
 * decided exactly once, and `warmup status` works.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { readMaildir } from '../peers/peers.js';
import { until, writePlan } from './harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = `${root}dist/bundle/main.js`;
const FROM = Date.parse('2026-12-01T07:50:00Z');
// The 12-hour window lasts 72 real seconds; launch day (nothing sends) starts 24 real seconds after it.
const SPEED = 600;
const KILLS = 22;

function start(file: string, fromMs: number): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [bin, 'start', file, '--speed', String(SPEED), '--from', new Date(fromMs).toISOString(), '--tick', '50', '--force'], {
    cwd: root, stdio: ['ignore', 'ignore', 'ignore'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited };
}

function query<T>(dir: string, sql: string): T[] {
  if (!existsSync(`${dir}/warmup.db`)) return [];
  const d = new BetterSqlite3(`${dir}/warmup.db`, { readonly: true, fileMustExist: true });
  try {
    d.pragma('busy_timeout = 5000');
    return d.prepare(sql).all() as T[];
  } catch (e) {
    // Killed before its first migration: the file exists, the tables not yet.
    if (/no such table/.test(String(e))) return [];
    throw e;
  } finally {
    d.close();
  }
}

describe('kill -9 at random moments over an accelerated day', () => {
  it(`loses no message, sends none twice beyond those in flight at the ${KILLS} kills, and decides every ended day exactly once`, async () => {
    expect(existsSync(bin), 'run `npm run build` first: the test runs the bundle').toBe(true);
    const local = `chaos${Date.now().toString(36)}`;
    const { file, dir } = writePlan({
      name: 'chaos', ips: ['127.0.0.160', '127.0.0.161'], ramp: '{ daily: [300] }', launch: '2026-12-02',
      delivery: ['catch_up_factor: 4'],
      providers: { postfix: { domains: ['postfix.test'], seeds: [`${local}@postfix.test`] } },
    });
    const t0 = Date.now();
    const planNow = () => FROM + (Date.now() - t0) * SPEED;
    let inFlightAtKills = 0;
    const kills: Array<{ at: string; inFlight: number }> = [];
    for (let i = 0; i < KILLS; i++) {
      const p = start(file, planNow());
      // Random moments: some while it starts up, most while it sends.
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 2700));
      p.child.kill('SIGKILL');
      const exit = await p.exited;
      expect(exit.signal ?? `exit ${exit.code}`).toBe('SIGKILL');
      const [row] = query<{ n: number }>(dir, "select count(*) as n from messages where status = 'in_flight'");
      inFlightAtKills += row?.n ?? 0;
      kills.push({ at: new Date(planNow()).toISOString(), inFlight: row?.n ?? 0 });
    }
    // The last run carries the day to its end and stops by itself on launch day.
    const last = start(file, planNow());
    expect(await last.exited).toEqual({ code: 0, signal: null });

    const messages = query<{ status: string; n: number }>(dir, 'select status, count(*) as n from messages group by status');
    const total = messages.reduce((s, m) => s + m.n, 0);
    const by = Object.fromEntries(messages.map((m) => [m.status, m.n]));
    // Every message is accounted for: nothing left in flight, every one in a final or retry state.
    expect(by.in_flight ?? 0).toBe(0);
    expect(messages.every((m) => ['accepted', 'bounced', 'deferred', 'expired'].includes(m.status))).toBe(true);
    const days = query<{ lane_id: number; day: string; sent: number; accepted: number; decision: string | null; spread_until: number }>(dir, 'select lane_id, day, sent, accepted, decision, spread_until from lane_days');
    expect(days.reduce((s, d) => s + d.sent, 0)).toBe(total);
    expect(days.reduce((s, d) => s + d.accepted, 0)).toBe(by.accepted ?? 0);
    // Every lane-day whose window ended is decided, exactly once.
    expect(days.length).toBe(2);
    for (const d of days) expect(d.decision, `${d.lane_id} ${d.day}`).not.toBeNull();
    const decisions = query<{ lane_id: number; n: number }>(dir, "select lane_id, count(*) as n from events where kind like 'day_%' group by lane_id");
    expect(decisions.map((d) => d.n)).toEqual([1, 1]);

    // Postfix received minus what the store counts accepted is at most what was in flight at the kills.
    const accepted = by.accepted ?? 0;
    let received = 0;
    await until('Postfix to deliver what it accepted', 30_000, async () => {
      const n = (await readMaildir('postfix.test', local)).length;
      const stable = n === received && n >= accepted;
      received = n;
      return stable || (await new Promise((r) => setTimeout(r, 1000)), false);
    });
    console.info(`chaos: ${KILLS} kills, ${total} messages (${JSON.stringify(by)}), Postfix received ${received}, in flight at kills ${inFlightAtKills}`);
    expect(accepted).toBeGreaterThan(100);
    expect(received).toBeGreaterThanOrEqual(accepted);
    expect(received - accepted, JSON.stringify(kills)).toBeLessThanOrEqual(inFlightAtKills);

    // status works on the database the kills left behind.
    const status = spawn(process.execPath, [bin, 'status', file, '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    status.stdout!.on('data', (d) => { out += d; });
    const code = await new Promise<number | null>((r) => status.on('exit', r));
    expect(code).toBe(0);
    expect(JSON.parse(out).plan).toBe('chaos');
  }, 400_000);
});
