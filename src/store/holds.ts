/**
 * Holds: why a lane does not send. A lane sends only while no hold is on it.
 * Each actor adds and removes only its own holds (an operator's pause, the
 * day-end policy's pause, a DNSBL listing, a reply rule's suspension, a
 * circuit breaker), so no actor can undo another's decision. The lane's
 * `state` column is a summary kept in step with its holds in the same
 * transaction (see {@link summarize}), so readers of lanes need not join holds.
 *
 * Every hold added, extended or removed writes an event with the hold in its
 * cause (`cause.hold`), so alerts and `warmup events` see each one.
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import type { Selectable } from 'kysely';
import type { Db, HoldsTable, LaneRow, LaneState } from './schema.js';
import { rows, sqlRows } from './prepared.js';
import * as Reads from './reads.js';
import { forUpdate, inTransaction } from './transaction.js';

/** Who put a hold on: each kind is added and removed by its own actor. */
export type HoldKind = 'operator' | 'policy' | 'dnsbl' | 'rule' | 'breaker';
export const HOLD_KINDS: readonly HoldKind[] = Object.freeze(['operator', 'policy', 'dnsbl', 'rule', 'breaker']);

export type HoldRow = Selectable<HoldsTable>;

/** Which lanes a control applies to: an IP, a provider, both (one lane), or neither (every lane). */
export interface LaneTarget {
  readonly ip?: string | undefined;
  readonly provider?: string | undefined;
}

/** A hold to put on every lane of a target. */
export interface HoldInput {
  readonly kind: HoldKind;
  /**
   * Who within the kind: `operator`, `policy`, `dnsbl`, `rule:<name>`,
   * `policy:circuit-breaker`... A lane has at most one hold per (kind, actor):
   * adding it again extends it, never replaces another actor's hold.
   */
  readonly actor: string;
  readonly reason: string;
  /** When it lapses by itself (epoch ms), or null: until removed. */
  readonly until: number | null;
  /** What justified it (e.g. the top replies), stored as JSON and shown by status. */
  readonly evidence?: unknown;
  /** The event kind written (default `hold_added`); e.g. `operator_pause`, `dnsbl_listed`. */
  readonly eventKind?: string;
  /** Extra fields for the event's cause. */
  readonly cause?: Record<string, unknown>;
}

/** Which holds to take off the lanes of a target. */
export interface HoldRemoval {
  readonly kinds: readonly HoldKind[];
  /** Only this actor's holds (e.g. one rule's); default any actor of those kinds. */
  readonly actor?: string;
  /** Only holds that started at or before this instant (a de-listing removes only the holds from before it). */
  readonly createdUpTo?: number;
  /** Who removes them, for the event: `operator`, `dnsbl`, `daemon`. */
  readonly by: string;
  readonly reason: string;
  /** The event kind written (default `hold_removed`); e.g. `operator_resume`. */
  readonly eventKind?: string;
}

/** One hold that changed on one lane. */
export interface HoldChange {
  readonly laneId: number;
  readonly ip: string;
  readonly provider: string;
  readonly kind: HoldKind;
  readonly actor: string;
  readonly change: 'added' | 'extended' | 'removed' | 'lapsed';
  readonly until: number | null;
  /** The lane's summary state before and after. */
  readonly from: LaneState;
  readonly to: LaneState;
}

/**
 * The lane's summary state from its holds: active with none; paused when a
 * person or the monitors hold it (operator, policy, dnsbl) or a hold has no
 * end; otherwise suspended (rules and breakers that lapse by themselves).
 * `until` is when the last hold lapses (null when one has no end); the reason
 * shown is the open-ended hold's, else the one lapsing last.
 */
export function summarize(holds: ReadonlyArray<Pick<HoldRow, 'until' | 'reason' | 'kind'>>): { state: LaneState; until: number | null; reason: string | null } {
  if (holds.length === 0) return { state: 'active', until: null, reason: null };
  const open = holds.find((h) => h.until === null);
  const last = open ?? holds.reduce((a, b) => ((b.until ?? 0) > (a.until ?? 0) ? b : a));
  const paused = open !== undefined || holds.some((h) => h.kind === 'operator' || h.kind === 'policy' || h.kind === 'dnsbl');
  return { state: paused ? 'paused' : 'suspended', until: open ? null : last.until, reason: `${last.kind}: ${last.reason}` };
}

/** The target's lanes, locked (PostgreSQL) until the transaction ends: hold changes of one lane happen one at a time. */
async function targetLanes(db: Db, plan: string, target: LaneTarget): Promise<LaneRow[]> {
  let q = db.selectFrom('lanes').selectAll().where('plan', '=', plan);
  if (target.ip) q = q.where('ip', '=', target.ip);
  if (target.provider) q = q.where('provider', '=', target.provider);
  return forUpdate(db, q.orderBy('id')).execute();
}

/** Re-derives the lane's summary columns from its holds; returns the new state. */
async function resummarize(db: Db, laneId: number, now: number): Promise<{ state: LaneState; until: number | null; reason: string | null }> {
  // In (kind, actor) order, as SQLite reads them through the unique index: ties in the summary are settled the same way on every engine.
  const holds = await db.selectFrom('holds').select(['until', 'reason', 'kind']).where('lane_id', '=', laneId).orderBy('kind').orderBy('actor').execute();
  const s = summarize(holds);
  await db.updateTable('lanes').set({ state: s.state, state_until: s.until, state_reason: s.reason, updated_at: now }).where('id', '=', laneId).execute();
  return s;
}

async function holdEvent(db: Db, plan: string, lane: LaneRow, kind: string, to: LaneState, actor: string, cause: Record<string, unknown>, now: number): Promise<void> {
  await db.insertInto('events').values({
    at: now, plan, lane_id: lane.id, ip: lane.ip, provider: lane.provider, kind,
    from_state: lane.state, to_state: to, actor, cause: JSON.stringify(cause),
  }).execute();
}

/**
 * Puts a hold on every lane of the target, in one transaction: a lane with
 * this (kind, actor) hold already has it extended when the new one lasts
 * longer, and is left alone otherwise. Writes one event per lane changed.
 *
 * @example
 * await addHold(db, plan.name, { ip: '127.0.0.5' }, { kind: 'operator', actor: 'operator', reason: 'rDNS fix', until: null, eventKind: 'operator_pause' }, now);
 */
export async function addHold(db: Db, plan: string, target: LaneTarget, hold: HoldInput, now: number): Promise<HoldChange[]> {
  return inTransaction(db, async (trx) => {
    const changes: HoldChange[] = [];
    const evidence = hold.evidence === undefined ? null : JSON.stringify(hold.evidence);
    for (const lane of await targetLanes(trx, plan, target)) {
      const existing = await trx.selectFrom('holds').selectAll().where('lane_id', '=', lane.id).where('kind', '=', hold.kind).where('actor', '=', hold.actor).executeTakeFirst();
      let change: 'added' | 'extended';
      if (!existing) {
        await trx.insertInto('holds').values({ plan, lane_id: lane.id, kind: hold.kind, actor: hold.actor, reason: hold.reason, until: hold.until, evidence, created_at: now, updated_at: now }).execute();
        change = 'added';
      } else {
        // Covered already: an open-ended hold, or one lasting at least as long.
        if (existing.until === null || (hold.until !== null && existing.until >= hold.until)) continue;
        await trx.updateTable('holds').set({ until: hold.until, reason: hold.reason, evidence: evidence ?? existing.evidence, updated_at: now }).where('id', '=', existing.id).execute();
        change = 'extended';
      }
      const s = await resummarize(trx, lane.id, now);
      await holdEvent(trx, plan, lane, change === 'added' ? hold.eventKind ?? 'hold_added' : 'hold_extended', s.state, hold.actor, holdAddedCause(hold, change), now);
      changes.push({ laneId: lane.id, ip: lane.ip, provider: lane.provider, kind: hold.kind, actor: hold.actor, change, until: hold.until, from: lane.state, to: s.state });
    }
    return changes;
  });
}

/**
 * Takes the named kinds of hold (optionally one actor's) off every lane of
 * the target, in one transaction, writing one event per hold removed.
 */
export async function removeHolds(db: Db, plan: string, target: LaneTarget, removal: HoldRemoval, now: number): Promise<HoldChange[]> {
  if (removal.kinds.length === 0) return [];
  return inTransaction(db, async (trx) => {
    const changes: HoldChange[] = [];
    for (const lane of await targetLanes(trx, plan, target)) {
      let q = trx.selectFrom('holds').selectAll().where('lane_id', '=', lane.id).where('kind', 'in', [...removal.kinds]);
      if (removal.actor !== undefined) q = q.where('actor', '=', removal.actor);
      if (removal.createdUpTo !== undefined) q = q.where('created_at', '<=', removal.createdUpTo);
      const holds = await q.orderBy('id').execute();
      changes.push(...await dropHolds(trx, plan, lane, holds, 'removed', removal.by, removal.reason, removal.eventKind ?? 'hold_removed', now));
    }
    return changes;
  });
}

/** Removes holds whose `until` has come (the daemon calls this every tick); one event per hold. */
export async function lapseHolds(db: Db, plan: string, now: number): Promise<HoldChange[]> {
  // Lanes in the order their first due hold lapses.
  // Asked on every tick: written once as SQL (see prepared.ts).
  const due = await rows<{ lane_id: number }>(db, 'select "lane_id" from "holds" where "plan" = ? and "until" <= ? group by "lane_id" order by min("until"), "lane_id"', [plan, now]);
  if (due.length === 0) return [];
  return inTransaction(db, async (trx) => {
    const changes: HoldChange[] = [];
    for (const { lane_id } of due) {
      // Locked first, then its holds read again: another process may have lapsed them meanwhile.
      const lane = await forUpdate(trx, trx.selectFrom('lanes').selectAll().where('id', '=', lane_id)).executeTakeFirst();
      if (!lane) continue;
      const holds = await trx.selectFrom('holds').selectAll().where('lane_id', '=', lane_id).where('until', '<=', now).orderBy('id').execute();
      changes.push(...await dropHolds(trx, plan, lane, holds, 'lapsed', 'daemon', 'lapsed', 'hold_lapsed', now));
    }
    return changes;
  });
}

async function dropHolds(trx: Db, plan: string, lane: LaneRow, holds: readonly HoldRow[], change: 'removed' | 'lapsed', by: string, reason: string, eventKind: string, now: number): Promise<HoldChange[]> {
  const out: HoldChange[] = [];
  let from = lane.state;
  for (const h of holds) {
    // Another daemon of a fleet may have lapsed or removed it first: it changes (and is told) once.
    const gone = await trx.deleteFrom('holds').where('id', '=', h.id).executeTakeFirst();
    if (Number(gone.numDeletedRows) === 0) continue;
    const s = await resummarize(trx, lane.id, now);
    await holdEvent(trx, plan, { ...lane, state: from }, eventKind, s.state, by, holdDroppedCause(h, change, reason), now);
    out.push({ laneId: lane.id, ip: lane.ip, provider: lane.provider, kind: h.kind as HoldKind, actor: h.actor, change, until: h.until, from, to: s.state });
    from = s.state;
  }
  return out;
}

/** The cause of the event written when a hold is added or extended (pure). */
export function holdAddedCause(hold: HoldInput, change: 'added' | 'extended'): Record<string, unknown> {
  return {
    reason: hold.reason, until: hold.until, ...hold.cause,
    hold: { kind: hold.kind, actor: hold.actor, until: hold.until, change },
    ...(hold.evidence !== undefined ? { evidence: hold.evidence } : {}),
  };
}

/** The cause of the event written when a hold is removed or lapses (pure). */
export function holdDroppedCause(h: Pick<HoldRow, 'kind' | 'actor' | 'until' | 'reason' | 'created_at'>, change: 'removed' | 'lapsed', reason: string): Record<string, unknown> {
  return {
    reason: change === 'lapsed' ? `${h.kind} hold lapsed: ${h.reason}` : reason,
    hold: { kind: h.kind, actor: h.actor, until: h.until, change, reason: h.reason, since: h.created_at },
  };
}

/** Every hold of a plan (optionally of some lanes), oldest first. */
export function listHolds(db: Db, plan: string, laneIds?: readonly number[]): Promise<HoldRow[]> {
  return Reads.listHolds(sqlRows(db), plan, laneIds);
}

export { holdView, type HoldView } from './hold-view.js';
