/**
 * `npm run bench -- scrape [--per-lane-day 700] [--runs 5] [--keep DIR]`:
 * one Prometheus scrape (GET /metrics, the daemon's own metrics server, from
 * the request to the last byte) on the status bench's database of 14 days x
 * 64 IPs x 8 providers and 5M+ attempts (gen-status-db.ts; `--keep DIR`
 * shares it with `npm run bench -- status --keep DIR`). Median of the runs
 * after one warm-up scrape.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPlanFile } from '../../src/plan/load.js';
import { zonedInstant } from '../../src/schedule/calendar.js';
import { startMetricsServer } from '../../src/ops/metrics.js';
import { openSqlite } from '../../src/store/open.js';
import { manualClock } from '../../src/util/clock.js';
import { generateStatusDb } from './gen-status-db.js';
import { machine, result, round } from './lib.js';
import { widePlan } from './plans.js';

const { values } = parseArgs({ options: { 'per-lane-day': { type: 'string' }, runs: { type: 'string' }, keep: { type: 'string' } } });
const PER = Number(values['per-lane-day'] ?? 700);
const RUNS = Number(values.runs ?? 5);
const dir = values.keep ? resolve(values.keep) : mkdtempSync(join(tmpdir(), 'warmup-bench-scrape-'));
mkdirSync(dir, { recursive: true });
const dbPath = join(dir, 'status.db');
writeFileSync(join(dir, 'plan.yaml'), widePlan({ name: 'bench-status', ips: 64, providers: 8, store: dbPath }));
try {
  if (!existsSync(dbPath)) {
    const t0 = performance.now();
    const gen = await generateStatusDb(join(dir, 'plan.yaml'), dbPath, PER);
    process.stdout.write(`generated ${gen.attempts} attempts, ${gen.messages} messages, ${gen.laneDays} lane-days in ${((performance.now() - t0) / 1000).toFixed(0)} s; ${(statSync(dbPath).size / 2 ** 20).toFixed(0)} MB\n`);
  }
  const loaded = loadPlanFile(join(dir, 'plan.yaml'));
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join('\n'));
  const plan = loaded.plan;
  const store = await openSqlite(dbPath);
  // The launch day's morning: "today" is the last day the generator filled.
  const clock = manualClock(zonedInstant(plan.launch, 7 * 60, plan.timezone));
  const server = await startMetricsServer({ plan, store: store.store, clock, lastTick: () => clock.now(), listen: { host: '127.0.0.1', port: 0 } });
  const url = `http://127.0.0.1:${server.address.port}/metrics`;
  const times: number[] = [];
  let bytes = 0;
  try {
    for (let i = 0; i < RUNS + 1; i++) {
      const t0 = performance.now();
      const res = await fetch(url);
      const body = await res.text();
      const ms = performance.now() - t0;
      if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${body.slice(0, 200)}`);
      bytes = body.length;
      if (i > 0) times.push(ms); // the first scrape warms the page cache and prom-client
    }
  } finally {
    await server.close();
    await store.close();
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  process.stdout.write(`machine: ${JSON.stringify(machine())}\n`);
  process.stdout.write(`GET /metrics (${bytes} bytes): runs ${times.map((t) => t.toFixed(1)).join(', ')} ms; median ${median.toFixed(1)} ms\n`);
  result({ bench: 'scrape', ms: round(median, 1), minMs: round(times[0]!, 1), maxMs: round(times.at(-1)!, 1), bytes, lanes: 512, days: 14, nproc: machine().nproc });
} finally {
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
