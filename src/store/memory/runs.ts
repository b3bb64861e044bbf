/**
 * Daemon runs and their clock in memory: src/store/runs.ts row for row.
 */
import { copy, type MemState, type RunRow } from './state.js';

export function startRun(s: MemState, run: { plan: string; planFile: string | null; host: string; pid: number; now: number; speed: number; realNow: number }): number {
  const id = s.nextId('runs');
  s.push(s.runs, {
    id, plan: run.plan, plan_file: run.planFile, host: run.host, pid: run.pid, started_at: run.now, speed: run.speed,
    real_started_at: run.realNow, ended_at: null, end_reason: null,
  });
  return id;
}

export function endRun(s: MemState, id: number, now: number, reason: string): void {
  const run = s.runs[id - 1];
  if (run) s.patch(run, { ended_at: now, end_reason: reason });
}

export function daemonNow(s: MemState, plan: string, realNow: number): number {
  const run = lastRun(s, plan);
  if (!run) return realNow;
  if (run.ended_at !== null) return Math.max(realNow, run.ended_at);
  if (run.real_started_at === null) return realNow;
  return run.started_at + (realNow - run.real_started_at) * run.speed;
}

export function storeNow(s: MemState, plan: string, realNow: number): number {
  const run = lastRun(s, plan);
  if (!run) return realNow;
  if (run.ended_at !== null) return run.ended_at;
  return daemonNow(s, plan, realNow);
}

export function lastRun(s: MemState, plan: string): RunRow | undefined {
  for (let i = s.runs.length - 1; i >= 0; i--) if (s.runs[i]!.plan === plan) return copy(s.runs[i]!);
  return undefined;
}
