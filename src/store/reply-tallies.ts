/**
 * The running counts of `lane_replies` (migration 0012): what each lane-day was
 * answered besides acceptances, per outcome and reply shape, added in the same
 * transaction as the attempts rows (messages.ts) so `warmup status` reads them
 * instead of each deferral's row (replies.ts). Not a store operation: the
 * writes of attempts call it.
 */
import { createRequire } from 'node:module';
import { chunks } from '../util/chunks.js';
import { execute, valuesList } from './prepared.js';
import type { Db, Outcome } from './schema.js';
import { shapeOf } from '../policy/reply-shape.js';

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
  else tallies.set(id, { lane_id: a.laneId, day: a.day, outcome: a.outcome, reply_key: shapeDigest(reply), reply, n });
}

/**
 * Adds the tallies to `lane_replies` (inside the caller's transaction), in the order given (the
 * order their rows are locked in on PostgreSQL): one multi-row upsert per 100 tallies, fixed SQL
 * (./prepared.ts), not a statement built per tally: a group of attempts with deferrals wrote
 * one per distinct reply, each a round trip on PostgreSQL. Tallies have distinct keys.
 */
export async function addReplyTallies(trx: Db, tallies: Iterable<ReplyTally>): Promise<void> {
  for (const part of chunks([...tallies], UPSERT_CHUNK)) {
    const params: unknown[] = [];
    for (const t of part) params.push(t.lane_id, t.day, t.outcome, t.reply_key, t.reply, t.n);
    await execute(trx, `insert into "lane_replies" ("lane_id", "day", "outcome", "reply_key", "reply", "n") values ${valuesList('(?, ?, ?, ?, ?, ?)', part.length)} `
      + 'on conflict ("lane_id", "day", "outcome", "reply_key") do update set "n" = "lane_replies"."n" + excluded."n"', params);
  }
}

/** Tallies per upsert: 600 parameters, well under SQLite's and PostgreSQL's bounds. */
const UPSERT_CHUNK = 100;

/**
 * `reply_key`, the primary-key part naming a reply shape: a digest, so any length of reply fits an
 * index entry. Stored: it must stay what it is (test/store/reply-tallies.test.ts pins it).
 */
function shapeDigest(shape: string): string {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return crypto.createHash('sha256').update(shape).digest('base64url').slice(0, 24);
}

/**
 * node:crypto, loaded when a reply is first counted: every command that opens the
 * SQL store loads this module, and loading node:crypto took tens of milliseconds
 * of a `warmup status`, which only reads.
 */
let crypto: typeof import('node:crypto') | undefined;
