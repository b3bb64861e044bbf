/**
 * `npm run bench -- simulate [--plan plans/launch.yaml] [--days N] [--seed N] [--store memory|sqlite]`:
 * the seconds `plans/launch.yaml` (the goal's plan) takes to launch, and simulated
 * messages per second; `--plan test/bench/launch-31.yaml` for the former 31-IP example, the whole plan
 * (the daemon against the modelled receivers, as `warmup simulate` runs it:
 * on the memory store, or `--store sqlite` on a throwaway SQLite file as
 * `warmup simulate --db` does). `cpuSeconds` is the process's CPU time over
 * the run: on a shared machine it moves less with the load than `seconds`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPlanFile } from '../../src/plan/load.js';
import { defaultModels } from '../../src/simulate/model-file.js';
import { simulatePlan } from '../../src/simulate/run.js';
import { openStore } from '../../src/store/open.js';
import { openTarget } from '../../src/store/select.js';
import { createLogger } from '../../src/util/log.js';
import { machine, result, round, throwawayKey } from './lib.js';

const { values } = parseArgs({ options: { plan: { type: 'string' }, days: { type: 'string' }, seed: { type: 'string' }, store: { type: 'string' } } });
const kind = values.store ?? 'memory';
if (kind !== 'memory' && kind !== 'sqlite') throw new Error(`--store memory|sqlite (got ${kind})`);
const repo = resolve(import.meta.dirname, '..', '..');
const planFile = resolve(repo, values.plan ?? 'plans/launch.yaml');
const dir = mkdtempSync(join(tmpdir(), 'warmup-bench-simulate-'));
throwawayKey(dir); // the plan reads ${CREDENTIALS_DIRECTORY}/dkim.pem
try {
  const loaded = loadPlanFile(planFile, { env: { ...process.env, CREDENTIALS_DIRECTORY: dir } });
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => `${e.line}:${e.column} ${e.path} ${e.message}`).join('\n'));
  const plan = loaded.plan;
  const store = kind === 'sqlite' ? await openStore(join(dir, 'simulate.db'), { durability: 'throwaway' }) : await openTarget({ kind: 'memory' });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let lastDay = t0;
  const r = await simulatePlan({
    plan, models: defaultModels(plan), seed: Number(values.seed ?? 1), store, log: createLogger({ level: 'silent' }),
    ...(values.days ? { days: Number(values.days) } : {}),
    onDay: (date) => { const now = performance.now(); process.stderr.write(`${date} (+${((now - lastDay) / 1000).toFixed(1)} s)\n`); lastDay = now; },
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await store.close();
  const attempts = r.totals.attempts;
  process.stdout.write(`machine: ${JSON.stringify(machine())}\n`);
  process.stdout.write(`plan ${plan.name}: ${plan.ips.length} IPs x ${plan.providers.length} providers, ${r.from}..${r.until}, ${Math.round(r.stepMs / 60000)}-minute steps, ${kind} store\n`);
  process.stdout.write(`${r.totals.messages} messages, ${attempts} attempts (${r.totals.accepted} accepted) in ${seconds.toFixed(1)} s (${cpuSeconds.toFixed(1)} s of CPU) = ${(r.totals.messages / seconds).toFixed(0)} messages/s, ${(attempts / seconds).toFixed(0)} attempts/s\n`);
  result({ bench: 'simulate', store: kind, plan: plan.name, seconds: round(seconds), cpuSeconds: round(cpuSeconds), loadavg1: machine().loadavg1, messagesPerSecond: round(r.totals.messages / seconds, 0), attemptsPerSecond: round(attempts / seconds, 0), messages: r.totals.messages, attempts, days: r.days.length / r.lanes.length, lanes: r.lanes.length, nproc: machine().nproc });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
