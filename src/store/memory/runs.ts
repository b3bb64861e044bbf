/**
 * Daemon runs, their clock, and the single-daemon lease in memory:
 * src/store/runs.ts and src/store/lease.ts row for row.
 */
import type { LeaseClaim, LeaseHolder, LeaseResult } from '../lease.js';
import { copy, type LeaseRow, type MemState, type RunRow } from './state.js';

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

const holderOf = (row: LeaseRow): LeaseHolder => ({ host: row.host, pid: row.pid, acquiredAt: row.acquired_at, heartbeatAt: row.heartbeat_at });

export function acquireLease(s: MemState, plan: string, claim: LeaseClaim): LeaseResult {
  const row = s.leases.get(plan);
  const holder = row ? holderOf(row) : null;
  if (row && holder) {
    const mine = row.token === claim.token;
    const stale = claim.now - row.heartbeat_at > claim.staleMs || (row.host === claim.host && row.pid !== claim.pid && !claim.alive(row.pid));
    if (!mine && !stale) return { ok: false, holder };
  }
  const values = { host: claim.host, pid: claim.pid, acquired_at: claim.now, heartbeat_at: claim.now, token: claim.token };
  const takenOver = row && row.token !== claim.token ? holder : null;
  if (row) s.patch(row, values);
  else s.mapSet(s.leases, plan, { plan, ...values });
  return { ok: true, takenOver };
}

export function renewLease(s: MemState, plan: string, token: string, now: number): boolean {
  const row = s.leases.get(plan);
  if (!row || row.token !== token) return false;
  s.patch(row, { heartbeat_at: now });
  return true;
}

export function releaseLease(s: MemState, plan: string, token: string): void {
  const row = s.leases.get(plan);
  if (row && row.token === token) s.mapDelete(s.leases, plan);
}

export function currentLease(s: MemState, plan: string): LeaseHolder | null {
  const row = s.leases.get(plan);
  return row ? holderOf(row) : null;
}
