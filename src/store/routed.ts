/**
 * Real mail routed through Postfix: each delivery line of a warmup transport
 * becomes an attempt of a `routed` message on its lane, counted in the lane's
 * day beside seed sends, in the same transaction as the log position reached,
 * so a crash can neither count a line twice nor skip one.
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import type { Outcome } from './schema.js';
import { inTransaction } from './transaction.js';
import type { Db } from './schema.js';
import { writeAttempt, type AttemptRecord, type MessageResult } from './messages.js';

/** Where warmup has read Postfix's log up to. */
export interface LogPosition {
  readonly path: string;
  /** Inode of the file, as text (large inode numbers exceed 2^53 on some file systems). */
  readonly inode: string;
  /** Byte offset after the last complete line read. */
  readonly offset: number;
}

/** One delivery line, resolved to its lane. */
export interface RoutedDelivery {
  readonly laneId: number;
  /** Plan-local day the message counts against when it is new on this lane. */
  readonly day: string;
  readonly queueId: string;
  readonly recipient: string;
  readonly at: number;
  readonly mxHost: string | null;
  readonly mxAddress: string | null;
  readonly outcome: Outcome;
  readonly code: number | null;
  readonly enhanced: string | null;
  readonly reply: string;
  readonly stage: string | null;
  readonly status: 'sent' | 'deferred' | 'bounced';
  readonly mailboxSignal: boolean;
  readonly greylisting?: 'certain' | 'likely' | undefined;
  readonly rejection?: 'policy' | 'hygiene' | undefined;
}

export interface RoutedRecord {
  /** True when this was the message's first try on the lane (it counts against the day's room). */
  readonly counted: boolean;
  /** The day it was counted against (a retry counts against the day of the first try). */
  readonly day: string;
  /** The day's messages carried so far (seed and routed) after this one (0 for a retry). */
  readonly daySent: number;
}

/**
 * Records one routed delivery and the log position after its line. A queue id
 * + recipient seen again on the same lane is a retry (not new volume); a
 * message Postfix re-routes to another lane is new volume there.
 */
export async function recordRoutedDelivery(db: Db, plan: string, d: RoutedDelivery, position: LogPosition): Promise<RoutedRecord> {
  return (await recordRoutedDeliveries(db, plan, [d], position))[0]!;
}

/**
 * Records the deliveries of one batch of log lines and the position after the batch, in one
 * transaction (a crash leaves the batch unrecorded and the position before it: it is read again).
 */
export async function recordRoutedDeliveries(db: Db, plan: string, ds: readonly RoutedDelivery[], position: LogPosition, now?: number): Promise<RoutedRecord[]> {
  return inTransaction(db, async (trx) => {
    const out: RoutedRecord[] = [];
    for (const d of ds) out.push(await recordOne(trx, d));
    await saveLogPositionTx(trx, plan, position, now ?? ds.at(-1)?.at ?? 0);
    return out;
  });
}

async function recordOne(trx: Db, d: RoutedDelivery): Promise<RoutedRecord> {
  {
    const key = routedKey(d);
    const existing = await trx.selectFrom('messages').select(['id', 'day', 'status', 'attempts', 'seq']).where('message_id', '=', key).executeTakeFirst();
    let message: { id: number; day: string; attempts: number };
    let counted = false;
    let daySent = 0;
    if (existing && existing.status === 'deferred') {
      message = existing;
    } else {
      // First try on this lane (or a queue id Postfix reused for a new message).
      let row = await trx.updateTable('lane_days').set((eb) => ({ sent: eb('sent', '+', 1), routed: eb('routed', '+', 1) }))
        .where('lane_id', '=', d.laneId).where('day', '=', d.day).returning('sent').executeTakeFirst();
      if (!row) {
        // A day the daemon never opened for this lane (a delivery after a restart, outside the window): open it without a target.
        const lane = await trx.selectFrom('lanes').select(['stage']).where('id', '=', d.laneId).executeTakeFirstOrThrow();
        await trx.insertInto('lane_days').values({ lane_id: d.laneId, day: d.day, stage: Math.max(1, lane.stage), target: 0, spread_from: d.at, spread_until: d.at, decision: null, decided_at: null, sent: 1, routed: 1 }).execute();
        row = { sent: 1 };
      }
      const { sent } = row;
      daySent = sent;
      const { id } = await trx.insertInto('messages').values({
        lane_id: d.laneId, day: d.day, seq: sent, recipient: d.recipient, message_id: existing ? `${key}:${d.at}` : key, source: 'routed',
        status: 'in_flight', attempts: 0, created_at: d.at, next_attempt_at: null, finished_at: null,
      }).returning('id').executeTakeFirstOrThrow();
      message = { id, day: d.day, attempts: 0 };
      counted = true;
    }
    const { attempt, result } = routedAttempt(d, message);
    await writeAttempt(trx, attempt, result, true);
    return { counted, day: message.day, daySent };
  }
}

/** The Message-ID under which a routed message is kept on its lane (pure). */
export function routedKey(d: Pick<RoutedDelivery, 'queueId' | 'recipient' | 'laneId'>): string {
  return `postfix:${d.queueId}:${d.recipient}:${d.laneId}`;
}

/** The attempt a delivery line records on its message, and what it does to the message (pure). */
export function routedAttempt(d: RoutedDelivery, message: { readonly id: number; readonly day: string; readonly attempts: number }): { attempt: AttemptRecord; result: MessageResult } {
  return {
    attempt: {
      messageId: message.id, laneId: d.laneId, day: message.day, startedAt: d.at, latencyMs: null, mxHost: d.mxHost, mxAddress: d.mxAddress,
      outcome: d.outcome, code: d.code, enhanced: d.enhanced, reply: d.reply, stage: d.stage, retry: message.attempts, mailboxSignal: d.mailboxSignal, greylisting: d.greylisting ?? null,
    },
    result: d.status === 'deferred' ? { status: 'deferred', nextAttemptAt: null } : { status: d.status === 'sent' ? 'accepted' : 'bounced', at: d.at },
  };
}

async function saveLogPositionTx(trx: Db, plan: string, p: LogPosition, now: number): Promise<void> {
  await trx.insertInto('postfix_log').values({ plan, path: p.path, inode: p.inode, offset: p.offset, updated_at: now })
    .onConflict((oc) => oc.column('plan').doUpdateSet({ path: p.path, inode: p.inode, offset: p.offset, updated_at: now })).execute();
}

/** Saves how far the log was read (after lines that recorded nothing). */
export async function saveLogPosition(db: Db, plan: string, p: LogPosition, now: number): Promise<void> {
  await saveLogPositionTx(db, plan, p, now);
}

export async function loadLogPosition(db: Db, plan: string): Promise<LogPosition | null> {
  const r = await db.selectFrom('postfix_log').select(['path', 'inode', 'offset']).where('plan', '=', plan).executeTakeFirst();
  return r ? { path: r.path, inode: r.inode, offset: Number(r.offset) } : null;
}

/** Routed messages whose last try was deferred, per recipient: Postfix will ask for them again. */
export async function deferredRouted(db: Db, plan: string): Promise<Array<{ recipient: string; lane_id: number }>> {
  return db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id').select(['messages.recipient', 'messages.lane_id'])
    .where('lanes.plan', '=', plan).where('messages.source', '=', 'routed').where('messages.status', '=', 'deferred').orderBy('messages.id').execute();
}

/** Routed messages counted per lane since `since` (this hour's room after a restart). */
export async function routedSince(db: Db, plan: string, since: number): Promise<Map<number, number>> {
  const rows = await db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
    .select(['messages.lane_id']).select((eb) => eb.fn.countAll<number>().as('n'))
    .where('lanes.plan', '=', plan).where('messages.source', '=', 'routed').where('messages.created_at', '>=', since)
    .groupBy('messages.lane_id').execute();
  return new Map(rows.map((r) => [r.lane_id, Number(r.n)]));
}
