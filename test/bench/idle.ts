/**
 * `npm run bench -- idle [--seconds 60]`: the real daemon process (`warmup
 * start`, compiled) with 64 IPs x 8 providers between sends (its clock set
 * to the night, outside the send window), CPU share and RSS read from /proc.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCli, machine, procSample, result, round, start, stop } from './lib.js';
import { widePlan } from './plans.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' } } });
const SECONDS = Number(values.seconds ?? 60);
const repo = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'warmup-bench-idle-'));
writeFileSync(join(dir, 'plan.yaml'), widePlan({ name: 'bench-idle', ips: 64, providers: 8, store: join(dir, 'idle.db') }));
const main = buildCli(repo);

// 02:00 UTC, six hours before the window opens: the daemon ticks every second and finds nothing due.
// --force: the preflight would refuse the TEST-NET addresses and the unresolvable bench domains.
const daemon = start(process.execPath, [main, 'start', join(dir, 'plan.yaml'), '--from', '2026-12-02T02:00:00Z', '--log-level', 'warn', '--force']);
try {
  await new Promise((r) => setTimeout(r, 5000)); // start-up: load, migrate, create 512 lanes
  if (daemon.exitCode !== null) throw new Error(`daemon exited with ${daemon.exitCode}`);
  const first = procSample(daemon.pid!);
  const t0 = performance.now();
  let maxRss = first.rssKB;
  for (let i = 0; i < SECONDS; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    maxRss = Math.max(maxRss, procSample(daemon.pid!).rssKB);
  }
  const last = procSample(daemon.pid!);
  const seconds = (performance.now() - t0) / 1000;
  const cpuPercent = ((last.ticks - first.ticks) / 100 / seconds) * 100;
  process.stdout.write(`machine: ${JSON.stringify(machine())}\n`);
  process.stdout.write(`daemon pid ${daemon.pid}, 64 IPs x 8 providers = 512 lanes, outside the window, sampled ${seconds.toFixed(1)} s\n`);
  process.stdout.write(`CPU ${cpuPercent.toFixed(2)}% of one core; RSS ${(last.rssKB / 1024).toFixed(1)} MB (max ${(maxRss / 1024).toFixed(1)} MB)\n`);
  result({ bench: 'idle', cpuPercent: round(cpuPercent, 2), rssMB: round(last.rssKB / 1024), maxRssMB: round(maxRss / 1024), seconds: round(seconds), lanes: 512, nproc: machine().nproc });
} finally {
  await stop(daemon);
  rmSync(dir, { recursive: true, force: true });
}
