/**
 * `npm run bench -- scrape [--per-lane-day 700] [--runs 5] [--keep DIR]`:
 * one Prometheus scrape (GET /metrics, the daemon's own metrics server, from
 * the request to the last byte) on the status bench's database of 14 days x
 * 64 IPs x 8 providers and 5M+ attempts (gen-status-db.ts; `--keep DIR`
 * shares it with `npm run bench -- status --keep DIR`). Median of the runs
 * after one warm-up scrape.
 *
 * `ms` is a scrape during a sending day: noon of the last day the generator
 * filled, its 512 lane-days open, so the text has today's 15 figures per lane
 * (about 830 KB). `msBeforeDayOpens` is the same server then asked at 07:00 on
 * the launch day, before the window opens any lane-day (about 300 KB): what
 * this bench measured until the sending-day view was added.
 *
 * The client is curl, in its own process, as Prometheus scrapes from its own
 * process: curl's `time_total` (connect to last byte). `msInProcessFetch` is
 * the same sending-day scrape read by `fetch` in the bench's own process, whose
 * HTTP parsing and decoding of the body into a string then share the server's
 * thread (what this bench measured before curl). Without curl on the machine,
 * `ms` falls back to the in-process fetch and says so (`client`).
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { loadPlanFile } from '../../src/plan/load.js';
import { addDays, zonedInstant } from '../../src/schedule/calendar.js';
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
  const sendingDay = zonedInstant(addDays(plan.launch, -1), 12 * 60, plan.timezone);
  const beforeOpen = zonedInstant(plan.launch, 7 * 60, plan.timezone);
  const clock = manualClock(sendingDay);
  const server = await startMetricsServer({ plan, store: store.store, clock, lastTick: () => clock.now(), listen: { host: '127.0.0.1', port: 0 } });
  const url = `http://127.0.0.1:${server.address.port}/metrics`;
  const hasCurl = spawnSync('curl', ['--version']).status === 0;
  const run = promisify(execFile);
  /** One scrape: its time (ms, request to last byte), status and body size. */
  const once = async (client: 'curl' | 'fetch'): Promise<{ ms: number; status: number; bytes: number; head: string }> => {
    if (client === 'curl') {
      const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url], { encoding: 'utf8' });
      const [code, size, total] = stdout.trim().split(' ');
      return { ms: Number(total) * 1000, status: Number(code), bytes: Number(size), head: '' };
    }
    const t0 = performance.now();
    const res = await fetch(url);
    const body = await res.text();
    return { ms: performance.now() - t0, status: res.status, bytes: Buffer.byteLength(body), head: body.slice(0, 200) };
  };
  /** One warm-up scrape, then RUNS timed ones: their times (ms) and the body's size. */
  const scrapes = async (client: 'curl' | 'fetch'): Promise<{ times: number[]; bytes: number }> => {
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < RUNS + 1; i++) {
      const r = await once(client);
      if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.head}`);
      bytes = r.bytes;
      if (i > 0) times.push(r.ms); // the first scrape warms the page cache and prom-client
    }
    return { times: times.sort((a, b) => a - b), bytes };
  };
  const client = hasCurl ? 'curl' : 'fetch';
  let day: Awaited<ReturnType<typeof scrapes>>;
  let early: Awaited<ReturnType<typeof scrapes>>;
  let inProcess: Awaited<ReturnType<typeof scrapes>>;
  try {
    day = await scrapes(client);
    inProcess = await scrapes('fetch');
    clock.set(beforeOpen);
    early = await scrapes(client);
  } finally {
    await server.close();
    await store.close();
  }
  const median = (t: number[]) => t[Math.floor(t.length / 2)]!;
  const line = (what: string, r: typeof day) => `${what} GET /metrics (${r.bytes} bytes): runs ${r.times.map((t) => t.toFixed(1)).join(', ')} ms; median ${median(r.times).toFixed(1)} ms\n`;
  process.stdout.write(`machine: ${JSON.stringify(machine())}\n`);
  process.stdout.write(`client: ${client === 'curl' ? 'curl, in its own process (time_total)' : 'fetch in this process (curl not found)'}\n`);
  process.stdout.write(line('sending day (noon, 512 lane-days open):', day));
  process.stdout.write(line('sending day, read by fetch in the server\'s own process:', inProcess));
  process.stdout.write(line('before the day opens (07:00 on launch):', early));
  result({
    bench: 'scrape', ms: round(median(day.times), 1), minMs: round(day.times[0]!, 1), maxMs: round(day.times.at(-1)!, 1), bytes: day.bytes, client,
    msInProcessFetch: round(median(inProcess.times), 1), msBeforeDayOpens: round(median(early.times), 1), bytesBeforeDayOpens: early.bytes, lanes: 512, days: 14, nproc: machine().nproc,
  });
} finally {
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
