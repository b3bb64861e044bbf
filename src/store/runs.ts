/**
 * Runs of the daemon, and the clock of the one running.
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import type { Db } from './schema.js';

export async function startRun(db: Db, run: { plan: string; planFile: string | null; host: string; pid: number; now: number; speed: number; realNow: number }): Promise<number> {
  const { id } = await db.insertInto('runs').values({
    plan: run.plan, plan_file: run.planFile, host: run.host, pid: run.pid, started_at: run.now, speed: run.speed, ended_at: null, end_reason: null,
    real_started_at: run.realNow,
  }).returning('id').executeTakeFirstOrThrow();
  return id;
}

export async function endRun(db: Db, id: number, now: number, reason: string): Promise<void> {
  await db.updateTable('runs').set({ ended_at: now, end_reason: reason }).where('id', '=', id).execute();
}

/**
 * "Now" on the clock of the plan's running daemon (which may be accelerated),
 * so that operator commands line up with it; the wall clock when none runs.
 */
export async function daemonNow(db: Db, plan: string, realNow: number): Promise<number> {
  const run = await lastRun(db, plan);
  if (!run) return realNow;
  // A finished accelerated run may have stopped "in the future": now is never before it.
  if (run.ended_at !== null) return Math.max(realNow, run.ended_at);
  if (run.real_started_at === null) return realNow;
  return run.started_at + (realNow - run.real_started_at) * run.speed;
}

/**
 * The database's own clock, which every view of it (status, report, events) uses unless told
 * otherwise: the plan time of its last run (the end of a finished run, the running daemon's clock
 * while it runs), so a simulated or rehearsed database is shown as of its own days, not today's
 * date. The wall clock only when no run was recorded.
 */
export async function storeNow(db: Db, plan: string, realNow: number): Promise<number> {
  const run = await lastRun(db, plan);
  if (!run) return realNow;
  if (run.ended_at !== null) return run.ended_at;
  return daemonNow(db, plan, realNow);
}

/** The run most recently started for a plan. */
export function lastRun(db: Db, plan: string) {
  return db.selectFrom('runs').selectAll().where('plan', '=', plan).orderBy('id', 'desc').limit(1).executeTakeFirst();
}
