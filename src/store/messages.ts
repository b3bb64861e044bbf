/**
 * Messages and attempts. Counters in lane_days move in the same transaction as the rows
 * they count, so a kill -9 at any point leaves them consistent.
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import type { Db, Outcome } from './schema.js';
import { chunks } from '../util/chunks.js';
import { arrayRows } from './array-rows.js';
import { INSERT_CHUNK, writeAttempts } from './attempt-writes.js';
import { rows, valuesList } from './prepared.js';
import { addToLaneDays } from './postgres-batch.js';
import { forUpdateSkipLocked, inTransaction, isPostgres } from './transaction.js';

/**
 * Creates the next message of a lane's day, marked in flight, and counts it
 * as sent, before any byte goes out: a crash after this point can at worst
 * resend this one message, never lose the count.
 */
export async function createMessage(db: Db, m: { laneId: number; day: string; recipient: string; messageId: string; now: number }): Promise<{ id: number; seq: number }> {
  return inTransaction(db, async (trx) => {
    const { sent } = await trx.updateTable('lane_days').set((eb) => ({ sent: eb('sent', '+', 1) }))
      .where('lane_id', '=', m.laneId).where('day', '=', m.day).returning('sent').executeTakeFirstOrThrow();
    const { id } = await trx.insertInto('messages').values({
      lane_id: m.laneId, day: m.day, seq: sent, recipient: m.recipient, message_id: m.messageId,
      status: 'in_flight', attempts: 0, created_at: m.now, next_attempt_at: null, finished_at: null,
    }).returning('id').executeTakeFirstOrThrow();
    return { id, seq: sent };
  });
}

/** One message of a batch for {@link createMessages}. */
export interface NewMessage {
  readonly laneId: number;
  readonly day: string;
  readonly recipient: string;
  readonly messageId: string;
}

/**
 * {@link createMessage} for a whole tick's sends in one transaction: every
 * message is in the database, marked in flight and counted as sent, before
 * the first byte of any of them goes out. Each lane-day's counter moves once;
 * messages get their sequence numbers in the order given. Returns the new
 * rows in the same order.
 */
export async function createMessages(db: Db, messages: readonly NewMessage[], now: number): Promise<Array<{ id: number; seq: number }>> {
  if (messages.length === 0) return [];
  return inTransaction(db, async (trx) => {
    const counts = new Map<string, { laneId: number; day: string; n: number; next: number }>();
    for (const m of messages) {
      const key = `${m.laneId}|${m.day}`;
      const c = counts.get(key);
      if (c) c.n++;
      else counts.set(key, { laneId: m.laneId, day: m.day, n: 1, next: 0 });
    }
    const sent = await addToLaneDays(trx, [...counts.values()].map((c) => ({ laneId: c.laneId, day: c.day, add: { sent: c.n } })), ['sent']);
    for (const [key, c] of counts) {
      const now = sent.get(key);
      if (now === undefined) throw new Error(`no lane-day ${c.laneId} ${c.day}`);
      c.next = now - c.n + 1;
    }
    // Multi-row inserts (a statement per 100 messages, not one each); rows come back by their
    // unique (lane, day, seq), in whatever order the database returns them.
    const created = messages.map((m) => {
      const c = counts.get(`${m.laneId}|${m.day}`)!;
      return { lane_id: m.laneId, day: m.day, seq: c.next++, recipient: m.recipient, message_id: m.messageId };
    });
    const ids = new Map<string, number>();
    for (const part of chunks(created, INSERT_CHUNK)) {
      const params: unknown[] = [];
      for (const r of part) params.push(r.lane_id, r.day, r.seq, r.recipient, r.message_id, now);
      const inserted = await rows<{ id: number; lane_id: number; day: string; seq: number }>(trx,
        `insert into "messages" ("lane_id", "day", "seq", "recipient", "message_id", "status", "attempts", "created_at", "next_attempt_at", "finished_at") values ${valuesList("(?, ?, ?, ?, ?, 'in_flight', 0, ?, null, null)", part.length)} returning "id", "lane_id", "day", "seq"`,
        params);
      for (const r of inserted) ids.set(`${r.lane_id}|${r.day}|${r.seq}`, Number(r.id));
    }
    return created.map((r) => ({ id: ids.get(`${r.lane_id}|${r.day}|${r.seq}`)!, seq: r.seq }));
  });
}


export interface DueRetry {
  readonly id: number;
  readonly lane_id: number;
  readonly day: string;
  readonly seq: number;
  readonly recipient: string;
  readonly message_id: string;
  readonly attempts: number;
  readonly created_at: number;
}

/**
 * Claims deferred messages whose retry is due, at most `limit` per lane, and
 * marks them in flight so no one else takes them. First, in the same
 * transaction, a due message whose expiry has passed is expired instead
 * (counted in its day's `expired`): after days down nothing stale goes out.
 */
export async function claimDueRetries(db: Db, now: number, lanes: ReadonlyArray<{ readonly laneId: number; readonly limit: number }>, expireMs: number): Promise<{ claimed: DueRetry[]; expired: number }> {
  const wanted = lanes.filter((l) => l.limit > 0);
  if (wanted.length === 0) return { claimed: [], expired: 0 };
  return inTransaction(db, async (trx) => {
    const ids = wanted.map((l) => l.laneId);
    // Conditional updates that return what they changed: a message another process claimed or
    // expired meanwhile no longer matches `status = 'deferred'` (PostgreSQL re-checks it after
    // waiting for that process's row lock), so nothing is claimed or counted twice.
    const stale = await trx.updateTable('messages').set({ status: 'expired', next_attempt_at: null, finished_at: now })
      .where('status', '=', 'deferred').where('next_attempt_at', '<=', now).where('lane_id', 'in', ids).where('created_at', '<=', now - expireMs)
      .returning(['id', 'lane_id', 'day']).execute();
    if (stale.length > 0) {
      const perDay = new Map<string, { laneId: number; day: string; n: number }>();
      for (const s of stale) {
        const k = `${s.lane_id}|${s.day}`;
        const e = perDay.get(k) ?? { laneId: s.lane_id, day: s.day, n: 0 };
        e.n++;
        perDay.set(k, e);
      }
      await addToLaneDays(trx, [...perDay.values()].map((e) => ({ laneId: e.laneId, day: e.day, add: { expired: e.n } })), ['expired']);
    }
    const claimed: DueRetry[] = [];
    for (const l of wanted) {
      const due = trx.selectFrom('messages').select('id')
        .where('status', '=', 'deferred').where('next_attempt_at', '<=', now).where('lane_id', '=', l.laneId)
        .orderBy('next_attempt_at').orderBy('id').limit(l.limit);
      // PostgreSQL takes the ids first: planned as a nested loop, an `in (select ... limit n for update skip
      // locked)` subquery is run again for each row the update reaches, and each run skips the rows the update
      // itself just changed, so more than `limit` rows were claimed (seen once messages had another column).
      const ids = isPostgres(trx) ? (await forUpdateSkipLocked(trx, due).execute()).map((r) => r.id) : null;
      if (ids?.length === 0) continue;
      const rows = await trx.updateTable('messages').set({ status: 'in_flight' })
        .where('id', 'in', ids ?? due)
        .where('status', '=', 'deferred')
        .returning(['id', 'lane_id', 'day', 'seq', 'recipient', 'message_id', 'attempts', 'created_at', 'next_attempt_at']).execute();
      rows.sort((a, b) => (a.next_attempt_at ?? 0) - (b.next_attempt_at ?? 0) || a.id - b.id);
      claimed.push(...rows.map(({ next_attempt_at: _due, ...r }) => r));
    }
    return { claimed, expired: stale.length };
  });
}

/** Puts messages that were claimed but never sent (no connection opened) back in the retry queue, due now. */
export async function returnUnsent(db: Db, ids: readonly number[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await db.updateTable('messages').set({ status: 'deferred', next_attempt_at: now }).where('id', 'in', [...ids]).where('status', '=', 'in_flight').execute();
}

export interface AttemptRecord {
  readonly messageId: number;
  readonly laneId: number;
  readonly day: string;
  readonly startedAt: number;
  readonly latencyMs: number | null;
  readonly mxHost: string | null;
  readonly mxAddress: string | null;
  readonly outcome: Outcome;
  readonly code: number | null;
  readonly enhanced: string | null;
  readonly reply: string | null;
  readonly stage: string | null;
  /** 0 for the first try. */
  readonly retry: number;
  /** The reply was about the mailbox, not the IP (kept out of the lane's deferral count). */
  readonly mailboxSignal?: boolean;
  /** A local error: nothing reached the receiver (counted as failed, never as bounced). */
  readonly local?: boolean;
  /** A 4xx that is greylisting by its text (`certain`) or may be (`likely`: confirmed by the retry that succeeds). */
  readonly greylisting?: 'certain' | 'likely' | null;
}

/** What an attempt did to its message. */
export type MessageResult =
  | { readonly status: 'accepted' | 'bounced'; readonly at: number }
  /** nextAttemptAt null: someone else retries it (Postfix, for routed mail). */
  | { readonly status: 'deferred'; readonly nextAttemptAt: number | null }
  | { readonly status: 'expired'; readonly at: number };

/**
 * Writes a group of attempts (each with its message's new state and its day's counters) in one
 * transaction: all or none. The daemon groups the results that arrive together.
 */
export async function recordAttempts(db: Db, attempts: ReadonlyArray<{ readonly attempt: AttemptRecord; readonly result: MessageResult }>): Promise<void> {
  if (attempts.length === 0) return;
  await inTransaction(db, (trx) => writeAttempts(trx, attempts));
}

/**
 * Writes one attempt, its message's new state and the day's counters in one transaction.
 *
 * Greylisting: an answer that says so is counted in `greylisted`, not `deferred`. A bare "try
 * again later" on a first try counts as a deferral until the retry that succeeds shows it was
 * greylisting; then it moves from `deferred` to `greylisted`, and `greylist_passed` counts the message.
 */
export async function recordAttempt(db: Db, a: AttemptRecord, result: MessageResult): Promise<void> {
  await inTransaction(db, (trx) => writeAttempts(trx, [{ attempt: a, result }]));
}

/**
 * The body of {@link recordAttempt} inside the caller's transaction: the
 * attempt row, the message's new state and the day's counters; `routed` also
 * moves the routed_* counters (real mail through Postfix).
 */
export async function writeAttempt(trx: Db, a: AttemptRecord, result: MessageResult, routed = false): Promise<void> {
  await writeAttempts(trx, [{ attempt: a, result }], routed);
}


/**
 * After a crash: every message still marked in flight gets an `interrupted`
 * attempt and is queued for retry now. Returns how many there were. In a
 * fleet `ips` limits it to the IPs this daemon holds: the other daemons'
 * messages in flight are theirs (being sent now), never re-queued.
 */
export async function recoverInFlight(db: Db, plan: string, now: number, ips?: readonly string[]): Promise<number> {
  if (ips !== undefined && ips.length === 0) return 0;
  let q = db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
    .select(['messages.id', 'messages.lane_id', 'messages.day', 'messages.attempts'])
    .where('lanes.plan', '=', plan).where('messages.status', '=', 'in_flight');
  if (ips !== undefined) q = q.where('lanes.ip', 'in', [...ips]);
  const rows = await q.execute();
  for (const r of rows) {
    await recordAttempt(db, {
      messageId: r.id, laneId: r.lane_id, day: r.day, startedAt: now, latencyMs: null, mxHost: null, mxAddress: null,
      outcome: 'interrupted', code: null, enhanced: null, reply: 'in flight when the daemon stopped; outcome unknown', stage: null, retry: r.attempts,
    }, { status: 'deferred', nextAttemptAt: now });
  }
  return rows.length;
}

const QUEUE_COUNTS_SQL = `select m."lane_id", m."status", count(*) as "n" from "messages" m join "lanes" l on l."id" = m."lane_id"
  where l."plan" = ? and m."status" in ('in_flight', 'deferred') and m."source" = 'seed' group by m."lane_id", m."status"`;

/** Seed messages in flight and retries queued, per lane (status, metrics); routed mail waits in Postfix's queue, not here. */
export async function queueCounts(db: Db, plan: string): Promise<Map<number, { inFlight: number; retries: number }>> {
  // Fixed SQL (./prepared.ts): every /metrics scrape runs it, and building it cost more than running it.
  const found = await rows<{ lane_id: number; status: string; n: number | string }>(db, QUEUE_COUNTS_SQL, [plan]);
  const out = new Map<number, { inFlight: number; retries: number }>();
  for (const r of found) {
    const e = out.get(r.lane_id) ?? { inFlight: 0, retries: 0 };
    if (r.status === 'in_flight') e.inFlight = Number(r.n);
    else e.retries = Number(r.n);
    out.set(r.lane_id, e);
  }
  return out;
}

/**
 * Messages still waiting for a retry on lanes that will send again: lanes of
 * the plan as it stands (`laneIds`; a lane removed from the plan never sends
 * again) that are not paused (a paused lane waits for an operator, so its
 * queue does not keep the plan open).
 */
export async function pendingRetries(db: Db, plan: string, laneIds: readonly number[]): Promise<number> {
  if (laneIds.length === 0) return 0;
  const r = await db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
    .select((eb) => eb.fn.countAll<number>().as('n')).where('lanes.plan', '=', plan).where('lanes.state', '!=', 'paused').where('lanes.id', 'in', [...laneIds])
    .where('messages.status', 'in', ['deferred', 'in_flight']).where('messages.source', '=', 'seed').executeTakeFirstOrThrow();
  return Number(r.n);
}

const OUTCOME_COUNTS_SQL = `select o."lane_id", o."outcome", o."n" from "lane_outcomes" o join "lanes" l on l."id" = o."lane_id"
  where l."plan" = ? order by o."lane_id", o."outcome"`;

/** Attempts per lane and outcome over a plan's whole run (Prometheus counters). */
export async function attemptOutcomeCounts(db: Db, plan: string): Promise<Array<{ lane_id: number; outcome: Outcome; n: number }>> {
  // From the running counts (O(lanes x outcomes)), never a scan of the attempts table; rows as arrays (./array-rows.ts).
  const rows = await arrayRows(db, OUTCOME_COUNTS_SQL, [plan]);
  return rows.map((r) => ({ lane_id: Number(r[0]), outcome: r[1] as Outcome, n: Number(r[2]) }));
}

/** When the earliest deferred message is due again, or null when none waits. */
export async function nextRetryDue(db: Db): Promise<number | null> {
  const r = await db.selectFrom('messages').select((eb) => eb.fn.min('next_attempt_at').as('at')).where('status', '=', 'deferred').executeTakeFirst();
  return r?.at === null || r?.at === undefined ? null : Number(r.at);
}
