/**
 * What receivers answered and what waits, per lane (warmup status): the last reply, the most
 * frequent non-accepted replies of a day, and the retry queue. One named function per query;
 * kept within what kysely also runs on PostgreSQL.
 */
import { sql } from 'kysely';
import type { ReplySample } from '../policy/evidence.js';
import { sqlRows } from './prepared.js';
import * as Reads from './reads.js';
import type { Db, Outcome } from './schema.js';

/** The last attempt of a lane. */
export interface LastReply {
  readonly at: number;
  readonly outcome: Outcome;
  readonly code: number | null;
  readonly reply: string | null;
}

/**
 * The last attempt of each lane: one statement for all lanes, a seek of the
 * `attempts_lane_time` index per lane (a correlated subquery picks each lane's last id).
 */
export function lastReplies(db: Db, laneIds: readonly number[]): Promise<Map<number, LastReply>> {
  return Reads.lastReplies(sqlRows(db), laneIds);
}

/** How often each reply text came back on a lane that day. */
export interface ReplyCount {
  readonly outcome: Outcome;
  readonly reply: string;
  readonly n: number;
}

/**
 * The non-accepted replies of each lane on `day`, most frequent first, from the running
 * counts (`lane_replies`) the writes keep: O(lanes x distinct replies), not one table
 * row per deferral. Texts that differ only in an address or a queue id are counted as one.
 * A database the daemon has not migrated yet (a reader never migrates) is read from
 * the attempts themselves.
 */
export function replyCounts(db: Db, laneIds: readonly number[], day: string, outcomes?: readonly Outcome[]): Promise<Map<number, ReplyCount[]>> {
  return Reads.replyCounts(sqlRows(db), laneIds, day, outcomes);
}

/** A lane's retry queue. */
export interface LaneQueue {
  /** Deferred messages waiting for their next try. */
  readonly waiting: number;
  readonly inFlight: number;
  /** When the oldest waiting message was first created (its age = now - this). */
  readonly oldestAt: number | null;
  /** The earliest next try among the waiting messages. */
  readonly nextRetryAt: number | null;
}

/** Waiting and in-flight messages per lane, with the oldest and the next due. */
export function laneQueues(db: Db, plan: string): Promise<Map<number, LaneQueue>> {
  return Reads.laneQueues(sqlRows(db), plan);
}

/**
 * Every distinct reply other than an acceptance that a lane got for a day's
 * messages, with how often (from the attempts_lane_day index): the evidence
 * of its day-end decision. `topReplies` (policy/evidence.ts) groups and ranks them.
 */
export async function dayReplies(db: Db, laneId: number, day: string): Promise<ReplySample[]> {
  const rows = await db.selectFrom('attempts')
    .select(['reply', 'code', 'enhanced']).select((eb) => eb.fn.countAll<number>().as('n'))
    .where('lane_id', '=', laneId).where('day', '=', day).where('outcome', '!=', sql.lit('accepted')) // a literal: the partial index (0014)
    .groupBy(['reply', 'code', 'enhanced']).orderBy('n', 'desc')
    .orderBy('reply', (o) => o.asc().nullsFirst()).orderBy('code', (o) => o.asc().nullsFirst()).orderBy('enhanced', (o) => o.asc().nullsFirst()).execute();
  return rows.map((r) => ({ text: r.reply ?? '', code: r.code, enhanced: r.enhanced, count: Number(r.n) }));
}
