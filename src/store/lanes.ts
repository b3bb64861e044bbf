/**
 * Lanes: one per (IP, provider). Why a lane does not send lives in holds (./holds.ts).
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import { chunks } from '../util/chunks.js';
import { inTransaction } from './transaction.js';
import type { Db, LaneRow } from './schema.js';

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

export function loadLanes(db: Db, plan: string): Promise<LaneRow[]> {
  return db.selectFrom('lanes').selectAll().where('plan', '=', plan).orderBy('id').execute();
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
