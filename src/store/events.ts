/**
 * Events: every state change with its cause.
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import type { Selectable } from 'kysely';
import type { Database, Db } from './schema.js';
import { rows } from './prepared.js';

export interface EventInput {
  readonly at: number;
  readonly plan: string;
  readonly laneId?: number | null;
  readonly ip?: string | null;
  readonly provider?: string | null;
  readonly kind: string;
  readonly from?: string | null;
  readonly to?: string | null;
  readonly actor: string;
  readonly cause?: Record<string, unknown>;
}

export async function addEvent(db: Db, e: EventInput): Promise<void> {
  await db.insertInto('events').values({
    at: e.at, plan: e.plan, lane_id: e.laneId ?? null, ip: e.ip ?? null, provider: e.provider ?? null, kind: e.kind,
    from_state: e.from ?? null, to_state: e.to ?? null, actor: e.actor, cause: JSON.stringify(e.cause ?? {}),
  }).execute();
}

export type EventRow = Selectable<Database['events']>;

/** A plan's events in the order they happened (simulate, reports); `kinds` filters. */
export function listEvents(db: Db, plan: string, options: { kinds?: readonly string[] } = {}): Promise<EventRow[]> {
  let q = db.selectFrom('events').selectAll().where('plan', '=', plan);
  if (options.kinds && options.kinds.length > 0) q = q.where('kind', 'in', [...options.kinds]);
  return q.orderBy('at').orderBy('id').execute();
}

/** The latest event that changed a lane's state (who paused it, and when). */
export function lastStateEvent(db: Db, laneId: number) {
  return db.selectFrom('events').selectAll().where('lane_id', '=', laneId).where('to_state', 'is not', null)
    .orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/** The latest event of one kind for an IP of a plan. */
export function lastIpEvent(db: Db, plan: string, ip: string, kind: string) {
  return db.selectFrom('events').selectAll().where('plan', '=', plan).where('ip', '=', ip).where('kind', '=', kind)
    .orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/** Events of a plan after an id (or, without one, at or after an instant), oldest first. */
export function eventsAfter(db: Db, plan: string, after: { id: number } | { at: number }, limit: number) {
  let q = db.selectFrom('events').selectAll().where('plan', '=', plan);
  q = 'id' in after ? q.where('id', '>', after.id) : q.where('at', '>=', after.at);
  return q.orderBy('id').limit(limit).execute();
}

/**
 * The newest event id: every lane state change, by any process, writes an
 * event, so the daemon re-reads lanes only when this moves (O(1): rowid max).
 */
export async function lastEventId(db: Db): Promise<number> {
  // Asked on every tick: written once as SQL (see prepared.ts).
  const [r] = await rows<{ id: number | string | null }>(db, 'select max("id") as "id" from "events"', []);
  return Number(r?.id ?? 0);
}

/**
 * The ids of every plan's events after `after`, ascending (at most `limit`): on PostgreSQL an id
 * comes from a sequence when its row is written and becomes visible when its transaction commits,
 * so a missing id may be a transaction still under way (see src/daemon/lanes.ts).
 */
export async function eventIdsAfter(db: Db, after: number, limit: number): Promise<number[]> {
  const r = await db.selectFrom('events').select('id').where('id', '>', after).orderBy('id').limit(limit).execute();
  return r.map((e) => Number(e.id));
}

/** The instant of a plan's newest event, or null when it has none. */
export async function newestEventAt(db: Db, plan: string): Promise<number | null> {
  const r = await db.selectFrom('events').select((eb) => eb.fn.max('at').as('at')).where('plan', '=', plan).executeTakeFirst();
  return r?.at === null || r?.at === undefined ? null : Number(r.at);
}

/** The kinds of event a plan's log holds. */
export async function eventKindsSeen(db: Db, plan: string): Promise<string[]> {
  return (await db.selectFrom('events').select('kind').distinct().where('plan', '=', plan).orderBy('kind').execute()).map((r) => r.kind);
}

/** What `warmup events` filters on. */
export interface EventFilter {
  readonly since?: number | null;
  readonly ip?: string | undefined;
  readonly provider?: string | undefined;
  readonly kind?: string | undefined;
  /** The newest `limit` events are returned, oldest first. */
  readonly limit: number;
}

/** The newest events of a plan matching `filter`, oldest first (`warmup events`). */
export async function recentEvents(db: Db, plan: string, filter: EventFilter): Promise<EventRow[]> {
  let qb = db.selectFrom('events').selectAll().where('plan', '=', plan);
  if (filter.since !== null && filter.since !== undefined) qb = qb.where('at', '>=', filter.since);
  if (filter.ip) qb = qb.where('ip', '=', filter.ip);
  if (filter.provider) qb = qb.where('provider', '=', filter.provider);
  if (filter.kind) qb = qb.where('kind', '=', filter.kind);
  return (await qb.orderBy('id', 'desc').limit(filter.limit).execute()).reverse();
}
