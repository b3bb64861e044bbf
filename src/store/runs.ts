/**
 * Runs of the daemon, and the clock of the one running.
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import type { Db } from './schema.js';
import { sqlRows } from './prepared.js';
import * as Reads from './reads.js';
import type { RunRow } from './reads.js';

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
export function daemonNow(db: Db, plan: string, realNow: number): Promise<number> {
  return Reads.daemonNow(sqlRows(db), plan, realNow);
}

/** The database's own clock: the plan time of its last run, else the wall clock (see reads.ts). */
export function storeNow(db: Db, plan: string, realNow: number): Promise<number> {
  return Reads.storeNow(sqlRows(db), plan, realNow);
}

/** The run most recently started for a plan. */
export function lastRun(db: Db, plan: string): Promise<RunRow | undefined> {
  return Reads.lastRun(sqlRows(db), plan);
}
