import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsServer, type MetricsServer } from '../../src/ops/metrics.js';
import { loadPlan } from '../../src/plan/load.js';
import type { OpenedSqlite } from '../../src/store/open.js';
import { manualClock } from '../../src/util/clock.js';
import { DAYS, NOW, PLAN_TEXT, buildFixture, fixturePlan, type Expected } from './fixture.js';

const plan = fixturePlan();
let store: OpenedSqlite;
let expected: Expected;
const clock = manualClock(NOW);
let tick = NOW - 2_000;
let server: MetricsServer;

beforeAll(async () => {
  ({ store, expected } = await buildFixture(plan));
  server = await startMetricsServer({ plan, store: store.store, clock, lastTick: () => tick, listen: { host: '127.0.0.110', port: 0 }, staleAfterMs: 30_000 });
});
afterAll(async () => {
  await server?.close();
  await store?.close();
});

/** `name{a="b",...} value` lines -> samples (comments skipped). */
function parse(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((line) => {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    return { name: m[1]!, labels, value: Number(m[3]) };
  });
}

async function scrape() {
  const res = await fetch(`http://127.0.0.110:${server.address.port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parse(await res.text());
}

function value(samples: ReturnType<typeof parse>, name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('metrics endpoint', () => {
  it('listens on the asked loopback address', () => {
    expect(server.address.host).toBe('127.0.0.110');
    expect(server.address.port).toBeGreaterThan(0);
  });

  it('counts attempts by lane and outcome as the database has them', async () => {
    const s = await scrape();
    expect(expected.attempts.size).toBeGreaterThan(6);
    for (const [key, n] of expected.attempts) {
      const [ip, provider, outcome] = key.split('|') as [string, string, string];
      expect(value(s, 'warmup_attempts_total', { ip, provider, outcome }), key).toBe(n);
    }
    const total = s.filter((x) => x.name === 'warmup_attempts_total').reduce((a, x) => a + x.value, 0);
    expect(total).toBe([...expected.attempts.values()].reduce((a, n) => a + n, 0));
  });

  it('serves attempt counts from running counters, not by scanning the attempts table', async () => {
    const before = await scrape();
    const total = (s: typeof before) => s.filter((x) => x.name === 'warmup_attempts_total').reduce((a, x) => a + x.value, 0);
    // Hide the attempts table from the scrape: the counts stay because they come from lane_outcomes.
    await sql`alter table attempts rename to attempts_hidden`.execute(store.db);
    try {
      expect(total(await scrape())).toBe(total(before));
    } finally {
      await sql`alter table attempts_hidden rename to attempts`.execute(store.db);
    }
  });

  it('gives each lane its stage and state', async () => {
    const s = await scrape();
    // Four advances from stage 1; the struggling lane held on day 3 and backed off on day 4 (3 -> 1).
    expect(value(s, 'warmup_lane_stage', { ip: '127.0.0.63', provider: 'yahoo' })).toBe(5);
    expect(value(s, 'warmup_lane_stage', { ip: '127.0.0.64', provider: 'yahoo' })).toBe(1);
    expect(value(s, 'warmup_lane_state', { ip: '127.0.0.63', provider: 'gmail', state: 'paused' })).toBe(1);
    expect(value(s, 'warmup_lane_state', { ip: '127.0.0.63', provider: 'gmail', state: 'active' })).toBe(0);
    expect(value(s, 'warmup_lane_state', { ip: '127.0.0.64', provider: 'yahoo', state: 'suspended' })).toBe(1);
    expect(value(s, 'warmup_lane_state', { ip: '127.0.0.64', provider: 'gmail', state: 'active' })).toBe(1);
    expect(s.filter((x) => x.name === 'warmup_lane_state' && x.value === 1)).toHaveLength(4);
  });

  it('reports the retry queue per lane and today\'s figures', async () => {
    const s = await scrape();
    for (const lane of ['127.0.0.63|gmail', '127.0.0.63|yahoo', '127.0.0.64|gmail', '127.0.0.64|yahoo']) {
      const [ip, provider] = lane.split('|') as [string, string];
      expect(value(s, 'warmup_retry_queue', { ip, provider }), lane).toBe(expected.retries.get(lane) ?? 0);
      expect(value(s, 'warmup_lane_today', { ip, provider, figure: 'target' })).toBe(expected.targets.get(`${DAYS[4]}|${lane}`));
    }
    expect(expected.retries.get('127.0.0.64|yahoo')).toBeGreaterThan(0);
    expect(value(s, 'warmup_lane_today', { ip: '127.0.0.63', provider: 'gmail', figure: 'inbox' })).toBe(7);
  });

  it('shows the newest DNSBL answer, read again at each scrape', async () => {
    let s = await scrape();
    expect(value(s, 'warmup_dnsbl_listed', { ip: '127.0.0.64', zone: 'zen.dnsbl.test' })).toBe(0);
    expect(s.filter((x) => x.name === 'warmup_dnsbl_listed')).toHaveLength(4);
    await store.db.insertInto('dnsbl_results').values({ at: NOW, ip: '127.0.0.63', zone: 'bl.dnsbl.test', status: 'listed', answer: '127.0.0.2', meaning: null, txt: null }).execute();
    s = await scrape();
    expect(value(s, 'warmup_dnsbl_listed', { ip: '127.0.0.63', zone: 'bl.dnsbl.test' })).toBe(1);
    expect(value(s, 'warmup_dnsbl_checked_timestamp_seconds', { ip: '127.0.0.63', zone: 'bl.dnsbl.test' })).toBe(NOW / 1000);
  });

  it('shows which host holds each IP of a fleet and how old its heartbeat is', async () => {
    const real = Date.now();
    await store.db.insertInto('ip_leases').values([
      { plan: plan.name, ip: '127.0.0.63', host: 'a', pid: 1, token: 't1', acquired_at: real - 60_000, heartbeat_at: real - 1_000, unattended_at: null },
      { plan: plan.name, ip: '127.0.0.64', host: 'b', pid: 2, token: 't2', acquired_at: real - 60_000, heartbeat_at: real - 30_000, unattended_at: real - 20_000 },
    ]).execute();
    const s = await scrape();
    await store.db.deleteFrom('ip_leases').execute();
    expect(value(s, 'warmup_ip_attended', { ip: '127.0.0.63', host: 'a' })).toBe(1);
    expect(value(s, 'warmup_ip_attended', { ip: '127.0.0.64', host: 'b' })).toBe(0);
    expect(value(s, 'warmup_ip_heartbeat_age_seconds', { ip: '127.0.0.64', host: 'b' })).toBeGreaterThanOrEqual(30);
    expect(value(s, 'warmup_ip_heartbeat_age_seconds', { ip: '127.0.0.63', host: 'a' })).toBeLessThan(30);
  });

  it('exports the last tick and its age', async () => {
    const s = await scrape();
    expect(value(s, 'warmup_last_tick_timestamp_seconds', {})).toBe(tick / 1000);
    expect(value(s, 'warmup_last_tick_age_seconds', {})).toBe((NOW - tick) / 1000);
  });

  it('answers /healthz 200 while ticks are recent and 503 when they stop or never came', async () => {
    const health = async () => {
      const r = await fetch(`http://127.0.0.110:${server.address.port}/healthz`);
      return { status: r.status, body: (await r.json()) as { status: string; ageMs: number | null } };
    };
    expect(await health()).toMatchObject({ status: 200, body: { status: 'ok', ageMs: 2_000 } });
    clock.advance(60_000);
    expect(await health()).toMatchObject({ status: 503, body: { status: 'stale', ageMs: 62_000 } });
    const before = tick;
    tick = Number.NaN;
    expect(await health()).toMatchObject({ status: 503, body: { status: 'stale', ageMs: null } });
    tick = before;
    clock.set(NOW);
  });

  it('answers 404 elsewhere', async () => {
    const r = await fetch(`http://127.0.0.110:${server.address.port}/`);
    expect(r.status).toBe(404);
    await r.text();
  });

  it('listens on the plan\'s metrics.listen by default and refuses a taken port', async () => {
    const m = await startMetricsServer({ plan, store: store.store, clock, lastTick: () => tick, processMetrics: false });
    try {
      expect(m.address).toEqual({ host: '127.0.0.111', port: 9464 });
      const text = await (await fetch('http://127.0.0.111:9464/metrics')).text();
      expect(text).toContain('warmup_lane_stage{ip="127.0.0.64",provider="gmail"} 5');
      await expect(startMetricsServer({ plan, store: store.store, clock, lastTick: () => tick })).rejects.toMatchObject({ code: 'METRICS_LISTEN' });
    } finally {
      await m.close();
    }
  });
});

describe('metrics.listen in the plan', () => {
  const withListen = (line: string) => PLAN_TEXT.replace(/^metrics: .*$/m, line);
  it.each([
    ['metrics: { listen: "127.0.0.1:9464" }', { host: '127.0.0.1', port: 9464 }],
    ['metrics: { listen: "[::1]:9100" }', { host: '::1', port: 9100 }],
    ['metrics: { listen: "192.0.2.7:9464", allow_remote: true }', { host: '192.0.2.7', port: 9464 }],
    ['store: { path: /tmp/x.db }', null],
  ] as const)('%s is accepted', (line, metrics) => {
    const r = loadPlan(withListen(line), { env: {} });
    expect(r.ok && r.plan.metrics).toEqual(metrics);
  });
  it.each([
    ['metrics: { listen: "192.0.2.7:9464" }', 'is not a loopback address'],
    ['metrics: { listen: "0.0.0.0:9464" }', 'is not a loopback address'],
    ['metrics: { listen: "localhost:9464" }', 'must be IP:port'],
    ['metrics: { listen: "127.0.0.1" }', 'must be IP:port'],
    ['metrics: { listen: "127.0.0.1:70000" }', 'must be IP:port'],
  ] as const)('%s is refused', (line, message) => {
    const r = loadPlan(withListen(line), { env: {} });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.find((e) => e.path === 'metrics.listen')?.message).toContain(message);
  });
});
