/**
 * The running counts of `lane_replies` (migration 0012): what each lane-day was
 * answered besides acceptances, per outcome and reply shape, added in the same
 * transaction as the attempts rows (messages.ts) so `warmup status` reads them
 * instead of each deferral's row (replies.ts). Not a store operation: the
 * writes of attempts call it.
 */
import { createRequire } from 'node:module';
import type { Db, Outcome } from './schema.js';
import { shapeOf } from './replies.js';

/** One running count of `lane_replies`: a lane-day's attempts with one outcome and reply shape. */
export interface ReplyTally {
  readonly lane_id: number;
  readonly day: string;
  readonly outcome: Outcome;
  readonly reply_key: string;
  readonly reply: string;
  n: number;
}

/**
 * Adds `n` attempts with `a`'s lane-day, outcome and reply to `tallies` (keyed by the
 * reply's shape) unless they were accepted: what a write of attempts adds to `lane_replies`.
 */
export function tallyReply(tallies: Map<string, ReplyTally>, a: { readonly laneId: number; readonly day: string; readonly outcome: Outcome; readonly reply: string | null }, n = 1): void {
  if (a.outcome === 'accepted') return;
  const reply = shapeOf(a.outcome, a.reply);
  const id = `${a.laneId}|${a.day}|${a.outcome}|${reply}`;
  const t = tallies.get(id);
  if (t) t.n += n;
  else tallies.set(id, { lane_id: a.laneId, day: a.day, outcome: a.outcome, reply_key: replyKey(reply), reply, n });
}

/** Adds the tallies to `lane_replies` (inside the caller's transaction). */
export async function addReplyTallies(trx: Db, tallies: Iterable<ReplyTally>): Promise<void> {
  for (const t of tallies) {
    await trx.insertInto('lane_replies').values(t)
      .onConflict((oc) => oc.columns(['lane_id', 'day', 'outcome', 'reply_key']).doUpdateSet((eb) => ({ n: eb('lane_replies.n', '+', t.n) }))).execute();
  }
}

/** The primary-key part naming a reply shape: a digest, so any length of reply fits an index entry. */
export function replyKey(shape: string): string {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return crypto.createHash('sha256').update(shape).digest('base64url').slice(0, 24);
}

/**
 * node:crypto, loaded when a reply is first counted: every command that opens the
 * SQL store loads this module, and loading node:crypto took tens of milliseconds
 * of a `warmup status`, which only reads.
 */
let crypto: typeof import('node:crypto') | undefined;
