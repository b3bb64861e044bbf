/**
 * Lanes: one per (IP, provider). Why a lane does not send lives in holds (./holds.ts).
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import { chunks } from '../util/chunks.js';
import { arrayRows } from './array-rows.js';
import { sqlRows } from './prepared.js';
import * as Reads from './reads.js';
import { inTransaction } from './transaction.js';
import type { Db, LaneRow, LaneState } from './schema.js';

/** Creates missing lanes (stage 0, active) and returns every lane of the plan. */
export async function ensureLanes(db: Db, plan: string, lanes: ReadonlyArray<{ ip: string; provider: string }>, now: number): Promise<LaneRow[]> {
  if (lanes.length > 0) {
    await inTransaction(db, async (trx) => {
      for (const chunk of chunks(lanes, 200)) {
        await trx.insertInto('lanes')
          .values(chunk.map((l) => ({ plan, ip: l.ip, provider: l.provider, stage: 0, state: 'active' as const, rate_factor: 1, holds_in_row: 0, updated_at: now })))
          .onConflict((oc) => oc.columns(['plan', 'ip', 'provider']).doNothing())
          .execute();
      }
    });
  }
  return loadLanes(db, plan);
}

/** Every lane of a plan, by id. */
export function loadLanes(db: Db, plan: string): Promise<LaneRow[]> {
  return Reads.loadLanes(sqlRows(db), plan);
}

/** A lane's shaping: its rate factor and connection cap, and until when they hold (null: lifted). */
export interface LaneShaping {
  readonly rate_factor: number;
  readonly max_connections?: number | null;
  readonly rate_until: number | null;
}

/** Sets (or, with factor 1 and no cap, lifts) a lane's shaping. */
export async function setLaneShaping(db: Db, laneId: number, shaping: LaneShaping | Omit<LaneShaping, 'rate_factor'>, now: number): Promise<void> {
  await db.updateTable('lanes').set({ ...shaping, updated_at: now }).where('id', '=', laneId).execute();
}

/** The day counters {@link laneGauges} reads, in this order (lane_days column names). routed*: mail Postfix routed through the lane, counted in sent, accepted... too. */
export const DAY_FIGURES = ['target', 'sent', 'accepted', 'deferred', 'bounced', 'failed', 'expired', 'inbox', 'spam', 'missing', 'routed', 'routed_accepted', 'routed_deferred', 'routed_bounced', 'routed_failed'] as const;
export type DayFigure = typeof DAY_FIGURES[number];

/** A lane as the metrics show it: its stage, state and rate factor, and one day's counters. */
export interface LaneGauge {
  readonly id: number;
  readonly ip: string;
  readonly provider: string;
  readonly stage: number;
  readonly state: LaneState;
  readonly rate_factor: number;
  /** The day's counters in {@link DAY_FIGURES} order; null when the lane has no row for that day (not opened yet). */
  readonly day: readonly number[] | null;
}

// The day's counters come as one text of space-separated integers (null without a row for the day):
// better-sqlite3 hands each value to JavaScript through a slow per-element path, and 15 of the 21
// would be these (2.2 -> 1.8 ms of CPU for 512 lanes on the bench machine).
const GAUGES_SQL = `select l."id", l."ip", l."provider", l."stage", l."state", l."rate_factor", ${DAY_FIGURES.map((f) => `d."${f}"`).join(` || ' ' || `)}
  from "lanes" l left join "lane_days" d on d."lane_id" = l."id" and d."day" = ?
  where l."plan" = ? order by l."id"`;

/**
 * Every lane of the plan (by id) with `day`'s counters, in one read of only
 * the columns shown: what a /metrics scrape reads per lane (loadLanes reads
 * every column as row objects, about twice the time for 512 lanes).
 */
export async function laneGauges(db: Db, plan: string, day: string): Promise<LaneGauge[]> {
  const rows = await arrayRows(db, GAUGES_SQL, [day, plan]);
  const out: LaneGauge[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    out[i] = { id: Number(r[0]), ip: r[1] as string, provider: r[2] as string, stage: Number(r[3]), state: r[4] as LaneState, rate_factor: Number(r[5]), day: r[6] === null ? null : (r[6] as string).split(' ').map(Number) };
  }
  return out;
}
