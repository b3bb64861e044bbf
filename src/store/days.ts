/**
 * Lane days: each lane's day with its stage, target, counters and day-end decision.
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import type { Insertable } from 'kysely';
import type { DecisionTally } from '../policy/forecast.js';
import type { Db, LaneDayRow, LaneDaysTable } from './schema.js';
import { rows, sqlRows } from './prepared.js';
import * as Reads from './reads.js';
import { inTransaction } from './transaction.js';

export function getLaneDay(db: Db, laneId: number, day: string): Promise<LaneDayRow | undefined> {
  return db.selectFrom('lane_days').selectAll().where('lane_id', '=', laneId).where('day', '=', day).executeTakeFirst();
}

/** The lane's most recent day strictly before `day`. */
export function previousLaneDay(db: Db, laneId: number, day: string): Promise<LaneDayRow | undefined> {
  return db.selectFrom('lane_days').selectAll().where('lane_id', '=', laneId).where('day', '<', day)
    .orderBy('day', 'desc').limit(1).executeTakeFirst();
}

/** Every lane-day of a plan, optionally one day only (status, reports), by day then lane. */
export function laneDays(db: Db, plan: string, day?: string): Promise<Array<LaneDayRow & { ip: string; provider: string }>> {
  return Reads.laneDays(sqlRows(db), plan, day);
}

/** Opens a lane's day at `stage` with its target and spread window. */
export async function openLaneDay(db: Db, row: Pick<Insertable<LaneDaysTable>, 'lane_id' | 'day' | 'stage' | 'target' | 'spread_from' | 'spread_until'>, now: number): Promise<void> {
  await inTransaction(db, async (trx) => {
    await trx.insertInto('lane_days').values({ ...row, decision: null, decided_at: null }).onConflict((oc) => oc.columns(['lane_id', 'day']).doNothing()).execute();
    await trx.updateTable('lanes').set({ stage: row.stage, updated_at: now }).where('id', '=', row.lane_id).execute();
  });
}

/**
 * Records the day-end decision on the day and the lane's next stage, only if
 * the day is still undecided: returns false (and changes nothing) when
 * another pass decided it first, so a day is decided exactly once.
 */
export async function decideLaneDay(db: Db, laneId: number, day: string, decision: string, nextStage: number, holdsInRow: number, now: number): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const r = await trx.updateTable('lane_days').set({ decision, decided_at: now }).where('lane_id', '=', laneId).where('day', '=', day).where('decision', 'is', null).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return false;
    await trx.updateTable('lanes').set({ stage: nextStage, holds_in_row: holdsInRow, decided_day: day, updated_at: now }).where('id', '=', laneId).execute();
    return true;
  });
}

/** Undecided lane-days of a plan whose window ended at or before `endedBy` (the day-end pass). */
export function undecidedDays(db: Db, plan: string, endedBy: number): Promise<LaneDayRow[]> {
  // Asked on every tick: written once as SQL (see prepared.ts).
  return rows<LaneDayRow>(db, 'select "lane_days".* from "lane_days" inner join "lanes" on "lanes"."id" = "lane_days"."lane_id" '
    + 'where "lanes"."plan" = ? and "lane_days"."decision" is null and "lane_days"."spread_until" <= ? order by "lane_days"."day", "lane_days"."lane_id"', [plan, endedBy]);
}

/** Messages of a lane-day still waiting for an outcome (deferred or in flight): its retries have not settled. */
export async function unsettledMessages(db: Db, laneId: number, day: string): Promise<number> {
  const r = await db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('lane_id', '=', laneId).where('day', '=', day).where('status', 'in', ['deferred', 'in_flight']).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Every lane's days with their decisions (the launch forecast's input), from a covering index. */
export function laneHistory(db: Db, plan: string): Promise<Array<{ ip: string; provider: string; day: string; decision: string | null }>> {
  return db.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
    .select(['lanes.ip', 'lanes.provider', 'lane_days.day', 'lane_days.decision']).where('lanes.plan', '=', plan)
    .orderBy('lane_days.lane_id').orderBy('lane_days.day').execute();
}

/**
 * Per lane of the plan with lane-days: its decided days, how many advanced, and its last
 * decided day (ordered by lane id): the launch forecast's input in one row per lane rather
 * than one per lane-day (`warmup status`).
 */
export function decisionTallies(db: Db, plan: string): Promise<DecisionTally[]> {
  return Reads.decisionTallies(sqlRows(db), plan);
}

/** A lane's decided days, oldest first (the pace the launch forecast projects). */
export function laneDecisions(db: Db, laneId: number): Promise<Array<{ day: string; decision: string | null }>> {
  return db.selectFrom('lane_days').select(['day', 'decision']).where('lane_id', '=', laneId).orderBy('day').execute();
}

/** The latest day of a plan with a lane-day on or before `upTo` (YYYY-MM-DD), or undefined. */
export function latestLaneDay(db: Db, plan: string, upTo: string): Promise<string | undefined> {
  return Reads.latestLaneDay(sqlRows(db), plan, upTo);
}

/**
 * Keeps the launch forecast made after a lane-day's decision with the day,
 * once: returns the lane's forecast before this one (null when none) when
 * this call wrote it, or undefined when another daemon of a fleet already
 * had. So a lane falling behind is announced once, whichever host decided.
 */
export async function recordForecast(db: Db, laneId: number, day: string, verdict: string): Promise<string | null | undefined> {
  return inTransaction(db, async (trx) => {
    const r = await trx.updateTable('lane_days').set({ forecast: verdict }).where('lane_id', '=', laneId).where('day', '=', day).where('forecast', 'is', null).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return undefined;
    const prev = await trx.selectFrom('lane_days').select('forecast').where('lane_id', '=', laneId).where('day', '<', day).where('forecast', 'is not', null)
      .orderBy('day', 'desc').limit(1).executeTakeFirst();
    return prev?.forecast ?? null;
  });
}
