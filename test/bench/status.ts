/**
 * `npm run bench -- status [--per-lane-day 700] [--runs 5] [--keep DIR]`:
 * `warmup status --json` (compiled, whole process) on a database of 14 days x
 * 64 IPs x 8 providers and 5M+ attempts, filled by gen-status-db.ts; and
 * the bytes each attempt takes on disk (the attempts table with its indexes,
 * and the whole file divided by the attempts).
 *
 * Status is asked as of the plan's launch (`--at`), so it shows the last day
 * of the data (its lane-days, replies and queues) whatever the machine's date:
 * before the plan's start it would show no day at all. The cache folder (the plan
 * cache and status's code cache) is the bench's own, emptied first: the first run
 * (not counted in the median, it also warms the page cache) loads the plan,
 * compiles status without a code cache and fills both (`coldMs`).
 *
 * When NODE_EXTRA_CA_CERTS is set (Node 20 reads and parses that file at start-up: ~50 ms
 * of every process on the bench machine), each run is followed by one without it
 * (`msWithoutExtraCaCerts`, `nodeStartWithoutExtraCaCertsMs`): `ms` stays the figure with
 * the environment the bench was given.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqlite } from '../../src/store/open.js';
import { generateStatusDb } from './gen-status-db.js';
import { bytesPerAttempt } from './db-size.js';
import { buildCli, machine, result, round } from './lib.js';
import { widePlan } from './plans.js';

const { values } = parseArgs({ options: { 'per-lane-day': { type: 'string' }, runs: { type: 'string' }, keep: { type: 'string' } } });
const PER = Number(values['per-lane-day'] ?? 700);
const RUNS = Number(values.runs ?? 5);
const repo = resolve(import.meta.dirname, '..', '..');
const dir = values.keep ? resolve(values.keep) : mkdtempSync(join(tmpdir(), 'warmup-bench-status-'));
mkdirSync(dir, { recursive: true });
const dbPath = join(dir, 'status.db');
const planText = widePlan({ name: 'bench-status', ips: 64, providers: 8, store: dbPath });
writeFileSync(join(dir, 'plan.yaml'), planText);
/** The plan's launch date (UTC plan): status is asked as of its midnight, the end of the data's last day. */
const LAUNCH = /^launch: (\d{4}-\d\d-\d\d)$/m.exec(planText)![1]!;
buildCli(repo);
/** What `warmup` runs: package.json's bin (dist/bundle/warmup.cjs; main.js is the same bin as an ES module). */
const main = join(repo, (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { bin: { warmup: string } }).bin.warmup);
try {
  let gen: { attempts: number; messages: number; laneDays: number } | null = null;
  if (existsSync(dbPath)) {
    // A kept database from an older warmup: bring it to this one's schema as the daemon would.
    await (await openSqlite(dbPath)).close();
  } else {
    const t0 = performance.now();
    gen = await generateStatusDb(join(dir, 'plan.yaml'), dbPath, PER);
    process.stdout.write(`generated ${gen.attempts} attempts, ${gen.messages} messages, ${gen.laneDays} lane-days in ${((performance.now() - t0) / 1000).toFixed(0)} s; ${(statSync(dbPath).size / 2 ** 20).toFixed(0)} MB\n`);
  }
  const times: number[] = [];
  /** `node -e 0` between the runs: Node's own start on this machine now, the floor of any CLI. */
  const nodeTimes: number[] = [];
  const extraCa = process.env.NODE_EXTRA_CA_CERTS !== undefined;
  const bareEnv = { ...process.env };
  delete bareEnv.NODE_EXTRA_CA_CERTS;
  const bareTimes: number[] = [];
  const bareNodeTimes: number[] = [];
  let bytes = 0;
  let coldMs = 0;
  const cache = join(dir, 'plan-cache');
  rmSync(cache, { recursive: true, force: true });
  const at = new Date(`${LAUNCH}T00:00:00Z`).toISOString();
  for (let i = 0; i < RUNS + 1; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [main, 'status', join(dir, 'plan.yaml'), '--json', '--at', at], {
      encoding: 'utf8', maxBuffer: 64 * 2 ** 20, env: { ...process.env, WARMUP_CACHE_DIR: cache },
    });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`warmup status exited ${r.status}: ${r.stderr}`);
    bytes = r.stdout.length;
    if (i > 0) times.push(ms); // the first run warms the page cache and fills the plan cache
    else coldMs = ms;
    const n0 = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    if (i > 0) nodeTimes.push(performance.now() - n0);
    if (extraCa && i > 0) {
      const b0 = performance.now();
      const b = spawnSync(process.execPath, [main, 'status', join(dir, 'plan.yaml'), '--json', '--at', at], {
        encoding: 'utf8', maxBuffer: 64 * 2 ** 20, env: { ...bareEnv, WARMUP_CACHE_DIR: cache },
      });
      bareTimes.push(performance.now() - b0);
      if (b.status !== 0 || b.stdout.length !== bytes) throw new Error(`warmup status without NODE_EXTRA_CA_CERTS: exit ${b.status}, ${b.stdout.length} bytes: ${b.stderr}`);
      const bn0 = performance.now();
      spawnSync(process.execPath, ['-e', '0'], { env: bareEnv });
      bareNodeTimes.push(performance.now() - bn0);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  nodeTimes.sort((a, b) => a - b);
  const nodeMs = nodeTimes[Math.floor(nodeTimes.length / 2)]!;
  const size = bytesPerAttempt(dbPath);
  process.stdout.write(`machine: ${JSON.stringify(machine())}\n`);
  process.stdout.write(`on disk: ${size.bytesPerAttempt.toFixed(0)} bytes per attempt in attempts and its indexes (${Object.entries(size.byObject).map(([k, v]) => `${k} ${(v / size.attempts).toFixed(0)}`).join(', ')}), ${size.dbBytesPerAttempt.toFixed(0)} bytes per attempt for the whole database\n`);
  process.stdout.write(`warmup status --json --at ${at} (whole process, ${bytes} bytes of JSON): first run (plan not cached yet, page cache cold) ${coldMs.toFixed(0)} ms; runs ${times.map((t) => t.toFixed(0)).join(', ')} ms; median ${median.toFixed(0)} ms; \`node -e 0\` between them: median ${nodeMs.toFixed(0)} ms\n`);
  if (extraCa) process.stdout.write(`the same without NODE_EXTRA_CA_CERTS (set here; Node reads it at start): runs ${bareTimes.map((t) => t.toFixed(0)).join(', ')} ms; median ${med(bareTimes).toFixed(0)} ms; \`node -e 0\` median ${med(bareNodeTimes).toFixed(0)} ms\n`);
  result({ bench: 'status', ms: round(median, 0), minMs: round(times[0]!, 0), maxMs: round(times.at(-1)!, 0), coldMs: round(coldMs, 0), nodeStartMs: round(nodeMs, 0), ...(extraCa ? { msWithoutExtraCaCerts: round(med(bareTimes), 0), nodeStartWithoutExtraCaCertsMs: round(med(bareNodeTimes), 0) } : {}), jsonBytes: bytes, attempts: size.attempts, bytesPerAttempt: round(size.bytesPerAttempt, 0), dbBytesPerAttempt: round(size.dbBytesPerAttempt, 0), lanes: 512, days: 14, nproc: machine().nproc });
} finally {
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
