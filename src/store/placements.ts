/**
 * Placements of messages in seed mailboxes read over IMAP, and engagement.
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import { sql } from 'kysely';
import { spamCrossed, spamRate } from '../policy/counting.js';
import { inTransaction } from './transaction.js';
import type { Db } from './schema.js';
import { forUpdate } from './transaction.js';

/** An accepted warm-up message to a seed mailbox whose placement is not known yet. */
export interface PendingPlacement {
  readonly id: number;
  readonly lane_id: number;
  readonly day: string;
  readonly recipient: string;
  /** Without angle brackets; the part before '@' is the X-Warmup-Id value. */
  readonly message_id: string;
  readonly created_at: number;
  /** When the receiving MX accepted it (null only for rows written before acceptance was timed). */
  readonly finished_at: number | null;
}

/**
 * Accepted messages of a plan to these mailboxes whose placement is not recorded yet, oldest
 * first. It reads only those: the partial index messages_placement_pending (0017) holds an
 * accepted message until {@link recordPlacements} sets its `placed_at`, so a poll's work follows
 * what is new or still pending, not the mailboxes' history.
 */
export async function pendingPlacements(db: Db, plan: string, mailboxes: readonly string[]): Promise<PendingPlacement[]> {
  if (mailboxes.length === 0) return [];
  return db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
    .select(['messages.id', 'messages.lane_id', 'messages.day', 'messages.recipient', 'messages.message_id', 'messages.created_at', 'messages.finished_at'])
    // Literals, as the partial index's own terms: SQLite picks a partial index only for those.
    .where('messages.status', '=', sql.lit('accepted')).where('messages.placed_at', 'is', null)
    .where('messages.recipient', 'in', [...mailboxes]).where('lanes.plan', '=', plan)
    .orderBy('messages.id').execute();
}

/** Where one message was found (or that it was not found in time). */
export interface PlacementRecord {
  readonly messageId: number;
  readonly laneId: number;
  readonly day: string;
  readonly mailbox: string;
  /** IMAP folder path; null for missing. */
  readonly folder: string | null;
  readonly placement: 'inbox' | 'spam' | 'other' | 'missing';
  readonly arrivedAfterMs: number | null;
  readonly checkedAt: number;
  /** Engagement due time (null: this message is left alone). */
  readonly engageAt: number | null;
}

/** A lane-day whose spam placement rate went above its threshold with this batch. */
export interface SpamCrossing {
  readonly laneId: number;
  readonly ip: string;
  readonly provider: string;
  readonly day: string;
  readonly inbox: number;
  readonly spam: number;
  readonly rate: number;
  readonly threshold: number;
}

/**
 * Writes a batch of placements, moves the lane_days counters (inbox, spam,
 * missing; `other` is kept in placements only) and writes a `placement_spam`
 * event for each lane-day whose spam rate (spam / (inbox + spam)) crosses its
 * provider's `maxSpamRate` upwards, and stamps each message's `placed_at` (it is
 * not pending any more), all in one transaction. A message that already has a
 * placement is skipped, so a batch may be written twice.
 */
export async function recordPlacements(
  db: Db, plan: string, records: readonly PlacementRecord[], maxSpamRate: (provider: string) => number,
): Promise<{ written: number; crossings: SpamCrossing[] }> {
  if (records.length === 0) return { written: 0, crossings: [] };
  return inTransaction(db, async (trx) => {
    const keyOf = (laneId: number, day: string) => `${laneId}|${day}`;
    const before = new Map<string, { inbox: number; spam: number }>();
    let written = 0;
    for (const r of records) {
      const key = keyOf(r.laneId, r.day);
      if (!before.has(key)) {
        // Locked (PostgreSQL) so a crossing is seen by one writer only.
        const row = await forUpdate(trx, trx.selectFrom('lane_days').select(['inbox', 'spam']).where('lane_id', '=', r.laneId).where('day', '=', r.day)).executeTakeFirst();
        before.set(key, { inbox: row?.inbox ?? 0, spam: row?.spam ?? 0 });
      }
      const inserted = await trx.insertInto('placements').values({
        message_id: r.messageId, lane_id: r.laneId, day: r.day, mailbox: r.mailbox, folder: r.folder, placement: r.placement,
        arrived_after_ms: r.arrivedAfterMs, checked_at: r.checkedAt, engage_at: r.engageAt, engaged_at: null, engaged: null,
      }).onConflict((oc) => oc.column('message_id').doNothing()).executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) continue;
      // Out of the pending index: no later poll reads this message again.
      await trx.updateTable('messages').set({ placed_at: r.checkedAt }).where('id', '=', r.messageId).execute();
      written++;
      const col = r.placement;
      if (col === 'other') continue;
      await trx.updateTable('lane_days').set((eb) => ({ [col]: eb(col, '+', 1) }))
        .where('lane_id', '=', r.laneId).where('day', '=', r.day).execute();
    }
    const crossings: SpamCrossing[] = [];
    for (const [key, was] of before) {
      const [laneIdText, day] = key.split('|') as [string, string];
      const laneId = Number(laneIdText);
      const row = await trx.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
        .select(['lane_days.inbox', 'lane_days.spam', 'lanes.ip', 'lanes.provider'])
        .where('lane_days.lane_id', '=', laneId).where('lane_days.day', '=', day).executeTakeFirst();
      if (!row) continue;
      const threshold = maxSpamRate(row.provider);
      const rate = spamRate(row);
      if (spamCrossed(was, row, threshold)) {
        crossings.push({ laneId, ip: row.ip, provider: row.provider, day, inbox: row.inbox, spam: row.spam, rate, threshold });
        await trx.insertInto('events').values({
          at: records[0]!.checkedAt, plan, lane_id: laneId, ip: row.ip, provider: row.provider, kind: 'placement_spam',
          from_state: null, to_state: null, actor: 'placement',
          cause: JSON.stringify({ day, inbox: row.inbox, spam: row.spam, spamRate: rate, maxSpamRate: threshold }),
        }).execute();
      }
    }
    return { written, crossings };
  });
}

/** A placement whose engagement is due. */
export interface DueEngagement {
  readonly id: number;
  readonly mailbox: string;
  readonly folder: string;
  readonly placement: 'inbox' | 'spam' | 'other';
  readonly message_id: string;
}

/** Placements in these mailboxes whose engagement is due and not done, oldest first. */
export async function dueEngagements(db: Db, mailboxes: readonly string[], now: number, limit: number): Promise<DueEngagement[]> {
  if (mailboxes.length === 0) return [];
  const rows = await db.selectFrom('placements').innerJoin('messages', 'messages.id', 'placements.message_id')
    .select(['placements.id', 'placements.mailbox', 'placements.folder', 'placements.placement', 'messages.message_id'])
    .where('placements.mailbox', 'in', [...mailboxes]).where('placements.engage_at', '<=', now)
    .where('placements.engaged_at', 'is', null).where('placements.folder', 'is not', null)
    .orderBy('placements.engage_at').orderBy('placements.id').limit(limit).execute();
  return rows.filter((r): r is DueEngagement => r.folder !== null && r.placement !== 'missing');
}

/** Marks a placement's engagement done; `done` lists what was done ("read,flag,move", or "none: <why>"). */
export async function markEngaged(db: Db, placementId: number, done: string, now: number): Promise<void> {
  await db.updateTable('placements').set({ engaged_at: now, engaged: done }).where('id', '=', placementId).execute();
}
