/**
 * Lanes: one per (IP, provider), and their state changes (which any process may make).
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import { chunks } from '../util/chunks.js';
import type { Db, LaneRow } from './schema.js';

/** Creates missing lanes (stage 0, active) and returns every lane of the plan. */
export async function ensureLanes(db: Db, plan: string, lanes: ReadonlyArray<{ ip: string; provider: string }>, now: number): Promise<LaneRow[]> {
  if (lanes.length > 0) {
    await db.transaction().execute(async (trx) => {
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


/** Which lanes a control applies to: an IP, a provider, both (one lane), or neither (every lane). */
export interface LaneTarget {
  readonly ip?: string | undefined;
  readonly provider?: string | undefined;
}

export interface StateChange {
  readonly state: LaneRow['state'];
  /** When a suspension or timed pause lapses (epoch ms), or null. */
  readonly until: number | null;
  readonly reason: string;
  /** operator | policy | rule:<name> | dnsbl | daemon */
  readonly actor: string;
  readonly kind?: string;
  readonly cause?: Record<string, unknown>;
}

/**
 * Moves every matching lane to a new state and writes one event per lane that
 * changed. The daemon re-reads lane rows every tick, so any process (the CLI,
 * the DNSBL monitor) may call this. Returns the lanes that changed.
 */
export async function changeLaneStates(db: Db, plan: string, target: LaneTarget, change: StateChange, now: number): Promise<LaneRow[]> {
  return db.transaction().execute(async (trx) => {
    let q = trx.selectFrom('lanes').selectAll().where('plan', '=', plan);
    if (target.ip) q = q.where('ip', '=', target.ip);
    if (target.provider) q = q.where('provider', '=', target.provider);
    const lanes = await q.execute();
    const changed: LaneRow[] = [];
    for (const l of lanes) {
      if (l.state === change.state && l.state_until === change.until && l.state_reason === change.reason) continue;
      await trx.updateTable('lanes').set({ state: change.state, state_until: change.until, state_reason: change.reason, updated_at: now }).where('id', '=', l.id).execute();
      await trx.insertInto('events').values({
        at: now, plan, lane_id: l.id, ip: l.ip, provider: l.provider, kind: change.kind ?? change.state,
        from_state: l.state, to_state: change.state, actor: change.actor,
        cause: JSON.stringify({ reason: change.reason, until: change.until, ...change.cause }),
      }).execute();
      changed.push({ ...l, state: change.state, state_until: change.until, state_reason: change.reason, updated_at: now });
    }
    return changed;
  });
}
