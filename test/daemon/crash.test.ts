/**
 * The daemon as a real process: SIGTERM and kill -9 in the middle of a day,
 * then a restart. Nothing counted may be lost and no message may be sent
 * twice, except one that was in flight at the crash (recorded as interrupted).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { readMaildir, waitForMxQueue } from '../peers/peers.js';
import { until, writePlan } from './harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const FROM = Date.parse('2026-12-01T07:30:00Z'); // half an hour (0.25 s real) before the window: time to start up
const SPEED = 7_200; // the 12-hour window lasts 6 real seconds
/** Seeds of this run's own: the MX's Maildirs outlive a run, so a re-run against the same peers counts only its mail. */
const RUN = randomUUID().slice(0, 8);

function startProcess(file: string, fromMs: number): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', file, '--speed', String(SPEED), '--from', new Date(fromMs).toISOString(), '--tick', '50', '--force'], {
    cwd: root, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => {
    if (code && code !== 0) console.error(stderr);
    resolve({ code, signal });
  }));
  return { child, exited };
}

function db(dir: string) {
  return new BetterSqlite3(`${dir}/warmup.db`, { readonly: true, fileMustExist: true });
}

function count(dir: string, sql: string): number {
  const d = db(dir);
  try { return d.prepare(sql).pluck().get() as number; } finally { d.close(); }
}

/**
 * Where the first process's clock is now (its run row: clock and wall time at its start), so the
 * restart carries on from there; the first process's start-up does not count as plan time.
 */
function clockNow(dir: string): number {
  const d = db(dir);
  try {
    const run = d.prepare('select started_at, real_started_at from runs order by id limit 1').get() as { started_at: number; real_started_at: number };
    return run.started_at + (Date.now() - run.real_started_at) * SPEED;
  } finally { d.close(); }
}

/** Deliveries per Message-ID, once every message the MX accepted for `local` has left its queue. */
async function deliveriesById(local: string): Promise<Map<string, number>> {
  await waitForMxQueue([`${local}@postfix.test`]);
  const byId = new Map<string, number>();
  for (const m of await readMaildir('postfix.test', local)) {
    const id = /^Message-ID: <([^>]+)>/m.exec(m.raw.toString('latin1'))?.[1] ?? '';
    byId.set(id, (byId.get(id) ?? 0) + 1);
  }
  return byId;
}

describe('warmup start as a process', () => {
  it('SIGTERM mid-day: finishes what is in flight, exits 0, and the restart completes the day without a duplicate', async () => {
    const { file, dir } = writePlan({
      name: 'sigterm', ips: ['127.0.0.33'], ramp: '{ daily: [60] }', launch: '2026-12-02',
      // Let the restarted lane catch up the gap while it was down within the window.
      delivery: ['catch_up_factor: 20'],
      providers: { postfix: { domains: ['postfix.test'], seeds: [`term-${RUN}@postfix.test`] } },
    });
    const first = startProcess(file, FROM);
    await until('some mail to be accepted', 20_000, () => { try { return count(dir, "select count(*) from messages where status = 'accepted'") >= 10; } catch { return false; } });
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(count(dir, "select count(*) from messages where status = 'in_flight'")).toBe(0);
    expect(count(dir, "select end_reason = 'SIGTERM' from runs order by id desc limit 1")).toBe(1);
    const sentBefore = count(dir, 'select sent from lane_days');
    expect(sentBefore).toBeGreaterThan(0);
    expect(sentBefore).toBeLessThan(60);

    // Carry on where the first process's clock would be now.
    const second = startProcess(file, clockNow(dir));
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(count(dir, 'select sent from lane_days')).toBe(60);
    expect(count(dir, 'select accepted from lane_days')).toBe(60);
    expect(count(dir, "select count(*) from attempts where outcome = 'interrupted'")).toBe(0);
    const byId = await deliveriesById(`term-${RUN}`);
    expect(byId.size).toBe(60);
    expect([...byId.values()].every((n) => n === 1)).toBe(true);
  }, 60_000);

  it('kill -9 mid-day: no accounting lost, only the messages in flight at the crash may arrive twice, and they are recorded', async () => {
    const { file, dir } = writePlan({
      name: 'kill9', ips: ['127.0.0.34'], ramp: '{ daily: [60] }', launch: '2026-12-02',
      delivery: ['catch_up_factor: 20'],
      providers: { postfix: { domains: ['postfix.test'], seeds: [`kill-${RUN}@postfix.test`] } },
    });
    const first = startProcess(file, FROM);
    await until('some mail to be accepted', 20_000, () => { try { return count(dir, "select count(*) from messages where status = 'accepted'") >= 10; } catch { return false; } });
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const inFlightAtCrash = count(dir, "select count(*) from messages where status = 'in_flight'");
    const sentAtCrash = count(dir, 'select sent from lane_days');
    expect(count(dir, 'select count(*) from messages')).toBe(sentAtCrash);

    const second = startProcess(file, clockNow(dir));
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(count(dir, 'select sent from lane_days')).toBe(60);
    expect(count(dir, 'select count(*) from messages')).toBe(60);
    expect(count(dir, 'select accepted from lane_days')).toBe(60);
    expect(count(dir, "select count(*) from attempts where outcome = 'interrupted'")).toBe(inFlightAtCrash);
    const byId = await deliveriesById(`kill-${RUN}`);
    expect(byId.size).toBe(60);
    const twice = [...byId.values()].filter((n) => n > 1).length;
    expect(twice).toBeLessThanOrEqual(inFlightAtCrash);
    expect([...byId.values()].every((n) => n <= 2)).toBe(true);
  }, 60_000);
});
