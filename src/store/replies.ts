/**
 * What receivers answered and what waits, per lane (warmup status): the last reply, the most
 * frequent non-accepted replies of a day, and the retry queue. One named function per query;
 * kept within what kysely also runs on PostgreSQL.
 */
import type { ReplySample } from '../policy/evidence.js';
import { chunks } from '../util/chunks.js';
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
export async function lastReplies(db: Db, laneIds: readonly number[]): Promise<Map<number, LastReply>> {
  const out = new Map<number, LastReply>();
  for (const part of chunks(laneIds, 500)) {
    const rows = await db.selectFrom('attempts').select(['lane_id', 'started_at', 'outcome', 'code', 'reply'])
      .where('id', 'in', (eb) => eb.selectFrom('lanes').where('lanes.id', 'in', part)
        .select((l) => l.selectFrom('attempts as last').select('last.id').whereRef('last.lane_id', '=', 'lanes.id')
          .orderBy('last.started_at', 'desc').orderBy('last.id', 'desc').limit(1).as('id')))
      .execute();
    for (const r of rows) out.set(r.lane_id, { at: Number(r.started_at), outcome: r.outcome, code: r.code, reply: r.reply });
  }
  return out;
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
export async function replyCounts(db: Db, laneIds: readonly number[], day: string, outcomes?: readonly Outcome[]): Promise<Map<number, ReplyCount[]>> {
  const wanted = (outcomes ?? NOT_ACCEPTED).filter((o) => o !== 'accepted');
  const perLane = new Map<number, ReplyCount[]>();
  if (wanted.length > 0) {
    let rows: Array<{ lane_id: number; outcome: Outcome; reply: string; n: number }>;
    try {
      rows = [];
      for (const part of chunks(laneIds, 500)) {
        rows.push(...await db.selectFrom('lane_replies').select(['lane_id', 'outcome', 'reply', 'n'])
          .where('lane_id', 'in', part).where('day', '=', day).where('outcome', 'in', wanted).execute() as typeof rows);
      }
    } catch (e) {
      if (!missingTable(e)) throw e;
      rows = await replyCountsFromAttempts(db, laneIds, day, wanted);
    }
    for (const r of rows) {
      let list = perLane.get(r.lane_id);
      if (!list) { list = []; perLane.set(r.lane_id, list); }
      list.push({ outcome: r.outcome, reply: r.reply, n: Number(r.n) });
    }
  }
  const out = new Map<number, ReplyCount[]>();
  for (const id of laneIds) {
    const list = perLane.get(id);
    if (list) out.set(id, list.sort((a, b) => b.n - a.n || a.reply.localeCompare(b.reply)));
  }
  return out;
}

/** A lane-day's reply counts from its attempts (`attempts_lane_day` index), shaped and merged: a database from before `lane_replies`. */
async function replyCountsFromAttempts(db: Db, laneIds: readonly number[], day: string, wanted: readonly Outcome[]): Promise<Array<{ lane_id: number; outcome: Outcome; reply: string; n: number }>> {
  const merged = new Map<string, { lane_id: number; outcome: Outcome; reply: string; n: number }>();
  for (const part of chunks(laneIds, 500)) {
    // `outcome in (...)` rather than `!= 'accepted'`: the index then skips a day's acceptances.
    const rows = await db.selectFrom('attempts').select(['lane_id', 'outcome', 'reply']).select((eb) => eb.fn.countAll<number>().as('n'))
      .where('lane_id', 'in', part).where('day', '=', day).where('outcome', 'in', wanted)
      .groupBy(['lane_id', 'outcome', 'reply']).execute();
    for (const r of rows) {
      const reply = shapeOf(r.outcome, r.reply);
      const key = `${r.lane_id}|${r.outcome}|${reply}`;
      const before = merged.get(key);
      if (before) before.n += Number(r.n);
      else merged.set(key, { lane_id: r.lane_id, outcome: r.outcome, reply, n: Number(r.n) });
    }
  }
  return [...merged.values()];
}

/** Whether an error says a table does not exist (SQLite's message, PostgreSQL's undefined_table). */
function missingTable(e: unknown): boolean {
  return /no such table/i.test((e as Error)?.message ?? '') || (e as { code?: string })?.code === '42P01';
}

/** Every outcome but acceptance. */
export const NOT_ACCEPTED: readonly Outcome[] = ['deferred', 'bounced', 'network', 'timeout', 'tls', 'protocol', 'dns', 'interrupted'];

/** The shape an attempt's reply is counted under; an attempt without a reply (a timeout) gets a stand-in. */
export function shapeOf(outcome: Outcome, reply: string | null): string {
  return replyShape(reply ?? `(${outcome}, no reply)`);
}

/** A reply with the per-message parts (addresses, queue ids) blanked, so the same answer counts once. */
export function replyShape(reply: string): string {
  return reply
    .replace(/<[^<>\s]+@[^<>\s]+>/g, '<…>')
    .replace(/\b[\w.+=-]+@[\w.-]+\.[a-z]{2,}\b/gi, '…@…')
    .replace(/\b[0-9A-F]{10,}\b/g, '…')
    .replace(/\s+/g, ' ')
    .trim();
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
export async function laneQueues(db: Db, plan: string): Promise<Map<number, LaneQueue>> {
  const rows = await db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
    .select(['messages.lane_id', 'messages.status'])
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('messages.created_at').as('oldest'), eb.fn.min('messages.next_attempt_at').as('next')])
    .where('lanes.plan', '=', plan).where('messages.status', 'in', ['in_flight', 'deferred'])
    .groupBy(['messages.lane_id', 'messages.status']).execute();
  const out = new Map<number, { waiting: number; inFlight: number; oldestAt: number | null; nextRetryAt: number | null }>();
  for (const r of rows) {
    const e = out.get(r.lane_id) ?? { waiting: 0, inFlight: 0, oldestAt: null, nextRetryAt: null };
    if (r.status === 'in_flight') e.inFlight = Number(r.n);
    else {
      e.waiting = Number(r.n);
      e.oldestAt = r.oldest === null ? null : Number(r.oldest);
      e.nextRetryAt = r.next === null ? null : Number(r.next);
    }
    out.set(r.lane_id, e);
  }
  return out;
}

/**
 * Every distinct reply other than an acceptance that a lane got for a day's
 * messages, with how often (from the attempts_lane_day index): the evidence
 * of its day-end decision. `topReplies` (policy/evidence.ts) groups and ranks them.
 */
export async function dayReplies(db: Db, laneId: number, day: string): Promise<ReplySample[]> {
  const rows = await db.selectFrom('attempts')
    .select(['reply', 'code', 'enhanced']).select((eb) => eb.fn.countAll<number>().as('n'))
    .where('lane_id', '=', laneId).where('day', '=', day).where('outcome', '!=', 'accepted')
    .groupBy(['reply', 'code', 'enhanced']).orderBy('n', 'desc')
    .orderBy('reply', (o) => o.asc().nullsFirst()).orderBy('code', (o) => o.asc().nullsFirst()).orderBy('enhanced', (o) => o.asc().nullsFirst()).execute();
  return rows.map((r) => ({ text: r.reply ?? '', code: r.code, enhanced: r.enhanced, count: Number(r.n) }));
}
