import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { openSqlite } from '../../src/store/open.js';
import * as q from '../../src/store/queries.js';
import { load, startDaemon, until, writePlan } from '../daemon/harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
let file = '';

async function run(...argv: string[]) {
  const io = memoryIo({}, root);
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

beforeAll(async () => {
  ({ file } = writePlan({
    name: 'ops', ips: ['127.0.0.23', '127.0.0.25'], ramp: '{ daily: [3, 5, 8] }', launch: '2026-12-04',
    providers: { sink: { domains: ['sink.test'], seeds: ['ops-a@sink.test', 'ops-b@sink.test'] } },
  }));
  const r = await startDaemon(load(file), { from: '2026-12-01T07:30:00Z', speed: 40_000 });
  await until('two days decided', 30_000, async () => {
    const rows = await r.db.selectFrom('lane_days').select('decision').where('decision', 'is not', null).execute();
    return rows.length >= 4 || undefined;
  });
  await r.stop();
}, 60_000);

describe('warmup status', () => {
  it('shows every lane with its figures, totals per IP and provider, and the launch forecast', async () => {
    const r = await run('status', file, '--day', '2');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Plan "ops", day 2 of 3 (2026-12-02); launch 2026-12-04; times in UTC');
    // state, ready on, stage, target, sent, accepted, deferred, mbox-def, bounced, expired, failed, queue
    expect(r.out).toMatch(/127\.0\.0\.23\s+sink\s+advance\s+2026-12-0\d\s+2\s+5\s+5\s+5\s+0\s+0\s+0\s+0\s+0\s+0/);
    expect(r.out).toMatch(/Per IP[^\n]*:[\s\S]*127\.0\.0\.25\s+ready\s+8\s+5\s+5\s+5/);
    expect(r.out).toMatch(/Per provider:[\s\S]*sink\s+2\s+0\s+0\s+100\.0%\s+10\s+10\s+10/);
    expect(r.out).toContain('Launch-day capacity per provider (sign-up mail each can take on 2026-12-04): sink 16');
  });

  it('gives the same as JSON', async () => {
    const r = await run('status', file, '--day', '1', '--json');
    const s = JSON.parse(r.out);
    expect(s.lanes).toHaveLength(2);
    expect(s.lanes[0]).toMatchObject({ ip: '127.0.0.23', provider: 'sink', stage: 1, target: 3, sent: 3, accepted: 3, decision: 'advance', state: 'active' });
    expect(s.forecast.ips.map((i: { verdict: string }) => i.verdict)).toEqual(['ready', 'ready']);
  });

  it('refuses a database that does not exist with exit 2 and creates none', async () => {
    const r = await run('status', file, '--db', '/tmp/does-not-exist/warmup.db');
    expect(r.code).toBe(2);
    expect(r.err).toContain('STORE_MISSING');
  });

  it('--watch redraws until interrupted', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'status', file, '--watch', '1'], { cwd: root });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    await until('two frames', 10_000, () => (out.match(/refreshing every 1s/g) ?? []).length >= 2);
    child.kill('SIGINT');
    await new Promise((r) => child.on('exit', r));
    expect(out).toContain('\x1b[2J\x1b[H');
    expect(out).toContain('Plan "ops"');
  });
});

describe('warmup plan --adapted', () => {
  it('shows the days run as they ran, today marked, from the database', async () => {
    const r = await run('plan', file, '--adapted', '--ip', '127.0.0.23', '--json');
    expect(r.code).toBe(0);
    const p = JSON.parse(r.out) as { adapted: boolean; today: string; days: Array<{ date: string; lanes: Array<{ stage: number; volume: number }> }> };
    expect(p.adapted).toBe(true);
    expect(p.days.slice(0, 2).map((d) => d.lanes[0])).toEqual([{ ip: '127.0.0.23', provider: 'sink', stage: 1, volume: 3 }, { ip: '127.0.0.23', provider: 'sink', stage: 2, volume: 5 }]);
    const text = await run('plan', file, '--adapted');
    expect(text.out).toMatch(/as adapted up to 2026-12-0\d/);
  });
});

describe('warmup events', () => {
  it('lists the day-end decisions with their figures', async () => {
    const r = await run('events', file, '--kind', 'day_advance');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/127\.0\.0\.23\/sink\s+day_advance\s+stage 1 -> stage 2\s+policy\s+accepted 100\.0% of 3, deferrals 0\.0%; target=3 accepted=3/);
  });

  it('filters and gives JSON', async () => {
    const r = await run('events', file, '--ip', '127.0.0.25', '--json');
    const events = JSON.parse(r.out) as Array<{ ip: string; cause: { target: number } }>;
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.every((e) => e.ip === '127.0.0.25')).toBe(true);
  });
});

describe('warmup pause and resume', () => {
  it('pauses an IP for a while and resumes it, writing operator events', async () => {
    expect((await run('pause', file, '127.0.0.25', '--for', '2h', '--reason', 'rDNS fix')).out).toContain('paused IP 127.0.0.25: 1 lane changed (until ');
    const paused = JSON.parse((await run('status', file, '--json')).out);
    expect(paused.lanes.find((l: { ip: string }) => l.ip === '127.0.0.25')).toMatchObject({
      state: 'paused', stateReason: 'operator: rDNS fix', holds: [expect.objectContaining({ kind: 'operator', actor: 'operator', reason: 'rDNS fix' })],
    });
    expect((await run('status', file)).out).toMatch(/127\.0\.0\.25 .*paused: operator until \S+ \S+ \(rDNS fix\)/);
    expect((await run('resume', '127.0.0.25', '--plan', file)).out).toContain('resumed IP 127.0.0.25: 1 lane changed (1 hold removed: operator)');
    const ev = JSON.parse((await run('events', file, '--json', '--limit', '2')).out);
    expect(ev.map((e: { kind: string; actor: string }) => `${e.kind}/${e.actor}`)).toEqual(['operator_pause/operator', 'operator_resume/operator']);
  });

  it('resume leaves holds of other kinds unless named with --holds, and says which remain', async () => {
    const plan = load(file);
    const store = await openSqlite(plan.storePath);
    await q.addHold(store.db, plan.name, { ip: '127.0.0.23' }, { kind: 'dnsbl', actor: 'dnsbl', reason: 'listed in zen.dnsbl.test', until: null, eventKind: 'dnsbl_listed' }, Date.now());
    await store.close();
    expect((await run('pause', file, '127.0.0.23', '--reason', 'and by hand')).code).toBe(0);
    const plain = await run('resume', '127.0.0.23', '--plan', file);
    expect(plain.out).toContain('resumed IP 127.0.0.23: 1 lane changed (1 hold removed: operator)');
    expect(plain.out).toContain('still held: 127.0.0.23/sink by dnsbl (dnsbl): listed in zen.dnsbl.test; add --holds dnsbl to remove it');
    expect(JSON.parse((await run('status', file, '--json')).out).lanes.find((l: { ip: string }) => l.ip === '127.0.0.23')).toMatchObject({ state: 'paused', holds: [expect.objectContaining({ kind: 'dnsbl' })] });
    expect((await run('resume', '127.0.0.23', '--plan', file, '--holds', 'bogus')).code).toBe(2);
    const named = await run('resume', '127.0.0.23', '--plan', file, '--holds', 'dnsbl');
    expect(named.out).toContain('1 hold removed: operator, dnsbl');
    expect(named.out).not.toContain('still held');
    expect(JSON.parse((await run('status', file, '--json')).out).lanes.find((l: { ip: string }) => l.ip === '127.0.0.23')).toMatchObject({ state: 'active', holds: [] });
  });

  it('explains a target that is not in the plan, and a missing plan, with exit 2', async () => {
    const bad = await run('pause', file, 'hotmail');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('"hotmail" is neither an IP nor a provider of plan ops (providers: sink)');
    const noPlan = await run('resume', 'sink');
    expect(noPlan.code).toBe(2);
    expect(noPlan.err).toContain('which plan? give --plan PLAN.yaml or set WARMUP_PLAN');
    expect((await run('pause', file, '127.0.0.23', '--for', 'soon')).code).toBe(2);
  });
});
