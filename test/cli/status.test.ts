/**
 * warmup status an operator can act on, and every view of one database telling the same story:
 * a simulated run of plans/small.yaml (3 days) read by status, report, simulate's own forecast
 * and events.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'warmup-status-'));
const plan = 'plans/small.yaml';
const db = join(dir, 'sim.db');
let simulated: { forecast: { asOf: string; lanes: Array<{ ip: string; provider: string; readyOn: string | null }> } };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[], env: Record<string, string> = {}) {
  const io = memoryIo(env, root);
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

beforeAll(async () => {
  const r = await run(['simulate', plan, '--days', '5', '--db', db, '--json', '--seed', '2']);
  expect(r.code).toBe(0);
  simulated = JSON.parse(r.out);
}, 90_000);

describe('every view of a database tells the same story', () => {
  it("status is as of the database's clock (the end of its last run), not the wall clock", async () => {
    const r = await run(['status', plan, '--db', db]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('As of 2026-12-06 00:00, the end of run #1');
    expect(r.out).toContain('Plan "small", day 5 of 14 (2026-12-05); launch 2026-12-15; times in Europe/Paris');
  });

  it('status, report and simulate give the same ready-on date for every lane', async () => {
    const s = JSON.parse((await run(['status', plan, '--db', db, '--json'])).out) as typeof simulated;
    const html = join(dir, 'r.html');
    expect((await run(['report', plan, '--db', db, '--out', html])).code).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(s.forecast.asOf).toBe(simulated.forecast.asOf);
    for (const lane of simulated.forecast.lanes) {
      const mine = s.forecast.lanes.find((l) => l.ip === lane.ip && l.provider === lane.provider)!;
      expect(mine.readyOn).toBe(lane.readyOn);
      expect(page).toContain(`<td>${lane.ip}</td><td>${lane.provider}</td>`);
    }
    const readyOns = [...page.matchAll(/<td>(\d{4}-\d\d-\d\d|never at this pace)<\/td><\/tr>/g)].map((m) => m[1]);
    expect(readyOns).toEqual(simulated.forecast.lanes.map((l) => l.readyOn ?? 'never at this pace'));
  });
});

describe('warmup status an operator can act on', () => {
  it('shows sent, per-mailbox deferrals and expired beside accepted, deferred and bounced, and the replies', async () => {
    const r = await run(['status', plan, '--db', db]);
    expect(r.out).toMatch(/ip\s+provider\s+state\s+ready on\s+stage\s+target\s+sent\s+accepted\s+deferred\s+mbox-def\s+bounced\s+expired\s+failed\s+queue/);
    expect(r.out).toMatch(/127\.0\.0\.2 gmail\s+last (\d{4}-\d\d-\d\d )?\d\d:\d\d \(\d+h\d\dm ago\) accepted: 250 /);
    const j = JSON.parse((await run(['status', plan, '--db', db, '--json'])).out) as { lanes: Array<Record<string, unknown>> };
    expect(j.lanes[0]).toMatchObject({ sent: expect.any(Number), mailboxDeferred: expect.any(Number), expired: expect.any(Number), lastReply: { outcome: expect.any(String) } });
  });

  it('filters by --ip, --provider, --state and --problems', async () => {
    const ip = JSON.parse((await run(['status', plan, '--db', db, '--json', '--ip', '127.0.0.3'])).out) as { lanes: Array<{ ip: string; provider: string; problems: string[]; state: string }> };
    expect(ip.lanes.map((l) => l.ip)).toEqual(['127.0.0.3', '127.0.0.3', '127.0.0.3']);
    const prov = JSON.parse((await run(['status', plan, '--db', db, '--json', '--provider', 'yahoo'])).out) as typeof ip;
    expect(prov.lanes.map((l) => l.provider)).toEqual(['yahoo', 'yahoo']);
    const problems = JSON.parse((await run(['status', plan, '--db', db, '--json', '--problems'])).out) as typeof ip;
    expect(problems.lanes.every((l) => l.problems.length > 0)).toBe(true);
    const active = JSON.parse((await run(['status', plan, '--db', db, '--json', '--state', 'active'])).out) as typeof ip;
    expect(active.lanes.every((l) => l.state === 'active')).toBe(true);
  });

  it.each([
    [['--ip', '10.9.9.9'], /--ip 10\.9\.9\.9: no such IP in plan "small"/],
    [['--provider', 'aol'], /--provider aol: no such provider .*gmail, yahoo, outlook/],
    [['--state', 'sleepy'], /--state sleepy: must be one of active, suspended, paused, held, behind/],
  ])('status %j exits 2 and says why', async (args, message) => {
    const r = await run(['status', plan, '--db', db, ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('--queue shows what waits per lane: count, oldest, next retry, top deferral replies', async () => {
    const r = await run(['status', plan, '--db', db, '--queue']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Queue: \d+ messages waiting for a retry on \d+ lanes, \d+ in flight/);
  });

  it('fits the terminal width', async () => {
    const r = await run(['status', plan, '--db', db], { COLUMNS: '80' });
    const long = r.out.split('\n').filter((l) => l.length > 80);
    expect(long).toEqual([]);
  });

  it.each([['--ip', '10.9.9.9'], ['--provider', 'aol'], ['--kind', 'no_such_kind']])('events %s with an unknown value exits 2', async (flag, value) => {
    const r = await run(['events', plan, '--db', db, flag, value]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${flag} ${value}`);
  });

  it('the bundled status (its own one-file bundle) maps errors of the modules it loads from the rest of the bundle as the CLI does', () => {
    const bin = (...argv: string[]) => spawnSync(process.execPath, [join(root, 'dist/bundle/main.js'), ...argv], { cwd: root, encoding: 'utf8' });
    // STORE_URL is thrown by the PostgreSQL module, loaded from the split bundle: bad input, exit 2.
    const url = bin('status', plan, '--db', 'postgres://u@127.0.0.1:1/none?sslmode=bogus');
    expect([url.status, url.stderr]).toEqual([2, expect.stringContaining('warmup status: STORE_URL: sslmode must be one of')]);
    const missing = bin('status', plan, '--db', join(root, 'no-such.db'));
    expect([missing.status, missing.stderr]).toEqual([2, expect.stringContaining('warmup status: STORE_MISSING: no database at')]);
    const usage = bin('status', plan, '--db', db, '--day', 'x');
    expect([usage.status, usage.stderr.trim()]).toEqual([2, 'warmup status: --day must be a whole number from 1 (got x)']);
    // Every other command goes through the CLI's table.
    expect(bin('--version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('the bin package.json names (the CommonJS build of the same bin) answers as main.js does', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: { warmup: string } };
    expect(pkg.bin.warmup).toBe('dist/bundle/warmup.cjs');
    const run = (file: string, ...argv: string[]) => {
      const r = spawnSync(process.execPath, [join(root, file), ...argv], { cwd: root, encoding: 'utf8' });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    for (const argv of [['status', plan, '--db', db, '--json', '--all'], ['status', plan, '--db', db, '--day', 'x'], ['status', plan, '--db', join(root, 'no-such.db')], ['--version'], ['events', plan, '--db', db, '--json']]) {
      expect(run(pkg.bin.warmup, ...argv)).toEqual(run('dist/bundle/main.js', ...argv));
    }
    expect(run(pkg.bin.warmup, 'status', plan, '--db', db, '--json').code).toBe(0);
    expect(statSync(join(root, pkg.bin.warmup)).mode & 0o111).not.toBe(0);
  });

  it.each([['status', plan, '--db', db, '--all'], ['events', plan, '--db', db, '--json']])('%s | head: exits 0 quietly when the reader goes away', async (...argv) => {
    const child = spawn(process.execPath, [join(root, 'dist/bundle/main.js'), ...argv], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.destroy(); // the reader is gone before the first write (head -0)
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(err).toBe('');
    expect(code).toBe(0);
  });
});
