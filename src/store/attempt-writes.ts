/**
 * The statements that write a group of attempts (the send path's group commit, and a batch of
 * Postfix's delivery lines): the attempt rows, each message's new state and the counters they
 * move, in the caller's transaction. Apart from ./messages.ts so that other store modules can
 * write a group without it being a store operation of its own.
 */
import { attemptCounts, greylistOutcome } from '../policy/counting.js';
import { chunks } from '../util/chunks.js';
import type { AttemptRecord, MessageResult } from './messages.js';
import { addToLaneDays, type LaneDayCounter } from './postgres-batch.js';
import { execute, valuesList } from './prepared.js';
import { addReplyTallies, tallyReply, type ReplyTally } from './reply-tallies.js';
import type { Db, Outcome } from './schema.js';
import { isPostgres } from './transaction.js';

/**
 * The values of a map keyed `lane|...`, by lane id and then key: the order
 * every transaction locks counter rows (lane_outcomes, lane_replies; lane_days: see
 * {@link addToLaneDays}) in. On
 * PostgreSQL two transactions that lock the same rows in different orders
 * deadlock (one of them fails after a second's wait); in one order the second
 * only waits for the first's commit.
 */
function inLockOrder<V>(map: ReadonlyMap<string, V>): V[] {
  const lane = (k: string) => Number(k.slice(0, k.indexOf('|')));
  return [...map.keys()].sort((a, b) => lane(a) - lane(b) || (a < b ? -1 : a > b ? 1 : 0)).map((k) => map.get(k)!);
}

/** Rows per multi-row insert: well under SQLite's and PostgreSQL's bound on parameters (13 columns x 100). */
export const INSERT_CHUNK = 100;

/** A lane-day's counter moves summed over a group; `raw_deferred`: sender deferrals before greylisting is confirmed (routed_deferred counts those). */
type DayCounts = Record<'accepted' | 'bounced' | 'hygiene_bounced' | 'expired' | 'deferred' | 'raw_deferred' | 'mailbox_deferred' | 'greylisted' | 'greylist_passed' | 'failed' | 'retries', number>;

/**
 * What ./messages.ts's `writeAttempt` writes, for a group, with as few statements as the group allows: the attempt rows
 * in multi-row inserts, one running-count upsert for the (lane, outcome) pairs and one per
 * (lane-day, outcome, reply shape) of what was not accepted, the lane-days' counters with the
 * group's sums (one statement on PostgreSQL, one per lane-day on SQLite), and each message's new
 * state (one statement for the group on PostgreSQL, one per message on SQLite).
 */
export async function writeAttempts(trx: Db, list: ReadonlyArray<{ readonly attempt: AttemptRecord; readonly result: MessageResult }>, routed = false): Promise<void> {
  for (const part of chunks(list, INSERT_CHUNK)) {
    const params: unknown[] = [];
    for (const { attempt: a } of part) {
      params.push(a.messageId, a.laneId, a.day, a.startedAt, a.latencyMs, a.mxHost, a.mxAddress, a.outcome, a.code, a.enhanced, a.reply, a.stage, a.retry);
    }
    await execute(trx, `insert into "attempts" ("message_id", "lane_id", "day", "started_at", "latency_ms", "mx_host", "mx_address", "outcome", "code", "enhanced", "reply", "stage", "retry") values ${valuesList('(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', part.length)}`, params);
  }
  const outcomes = new Map<string, { lane_id: number; outcome: Outcome; n: number }>();
  const replies = new Map<string, ReplyTally>();
  const days = new Map<string, { laneId: number; day: string; c: DayCounts }>();
  const pg = isPostgres(trx);
  const updates: unknown[][] = [];
  for (const { attempt: a, result } of list) {
    const o = outcomes.get(`${a.laneId}|${a.outcome}`);
    if (o) o.n++;
    else outcomes.set(`${a.laneId}|${a.outcome}`, { lane_id: a.laneId, outcome: a.outcome, n: 1 });
    tallyReply(replies, a);
    // Which counters move is policy (src/policy/counting.ts); moving them with the rows is the store's.
    const c = attemptCounts(a, result.status);
    const grey = result.status === 'accepted' && a.retry > 0
      ? greylistOutcome(await trx.selectFrom('messages').select(['greylisted', 'grey_suspect']).where('id', '=', a.messageId).executeTakeFirstOrThrow())
      : { passed: 0, confirmed: 0 };
    const deferred = result.status === 'deferred';
    const update = [result.status, deferred ? result.nextAttemptAt : null, deferred ? null : result.at, c.greylisted, c.grey_suspect, a.messageId];
    if (pg) updates.push(update);
    else await execute(trx, UPDATE_MESSAGE, update);
    const key = `${a.laneId}|${a.day}`;
    let d = days.get(key);
    if (!d) {
      d = { laneId: a.laneId, day: a.day, c: { accepted: 0, bounced: 0, hygiene_bounced: 0, expired: 0, deferred: 0, raw_deferred: 0, mailbox_deferred: 0, greylisted: 0, greylist_passed: 0, failed: 0, retries: 0 } };
      days.set(key, d);
    }
    d.c.accepted += c.accepted;
    d.c.bounced += c.bounced;
    d.c.hygiene_bounced += c.hygiene_bounced;
    d.c.expired += c.expired;
    d.c.deferred += c.deferred - grey.confirmed;
    d.c.raw_deferred += c.deferred;
    d.c.mailbox_deferred += c.mailbox_deferred;
    d.c.greylisted += c.greylisted + grey.confirmed;
    d.c.greylist_passed += grey.passed;
    d.c.failed += c.failed;
    d.c.retries += c.retries;
  }
  // PostgreSQL: the group's messages in one statement, one array per column (a round trip per group, not per message).
  if (updates.length > 0) await execute(trx, UPDATE_MESSAGES_PG, [0, 1, 2, 3, 4, 5].map((i) => updates.map((u) => u[i])));
  // One upsert for the group's (lane, outcome) pairs, locked in the order given.
  const upserts = inLockOrder(outcomes);
  await execute(trx, `insert into "lane_outcomes" ("lane_id", "outcome", "n") values ${valuesList('(?, ?, ?)', upserts.length)} on conflict ("lane_id", "outcome") do update set "n" = "lane_outcomes"."n" + excluded."n"`,
    upserts.flatMap((o) => [o.lane_id, o.outcome, o.n]));
  await addReplyTallies(trx, inLockOrder(replies));
  // Each lane's last attempt of the group (the latest start; of equal ones, the last in the list, which gets the larger id).
  const last = new Map<string, AttemptRecord>();
  for (const { attempt: a } of list) {
    const before = last.get(`${a.laneId}|`);
    if (!before || a.startedAt >= before.startedAt) last.set(`${a.laneId}|`, a);
  }
  const lasts = inLockOrder(last);
  await execute(trx, `insert into "lane_last" ("lane_id", "at", "outcome", "code", "reply") values ${valuesList('(?, ?, ?, ?, ?)', lasts.length)} `
    + 'on conflict ("lane_id") do update set "at" = excluded."at", "outcome" = excluded."outcome", "code" = excluded."code", "reply" = excluded."reply" '
    + 'where excluded."at" >= "lane_last"."at"', lasts.flatMap((a) => [a.laneId, a.startedAt, a.outcome, a.code, a.reply]));
  await addToLaneDays(trx, [...days.values()].map(({ laneId, day, c }) => ({
    laneId, day, add: routed ? { ...c, routed_accepted: c.accepted, routed_bounced: c.bounced, routed_deferred: c.raw_deferred, routed_failed: c.failed } : c,
  })), routed ? [...DAY_COUNTERS, ...ROUTED_COUNTERS] : DAY_COUNTERS);
}

/** A message's new state after an attempt (status, next attempt, finished at, greylisting counts), by id. */
const UPDATE_MESSAGE = 'update "messages" set "status" = ?, "attempts" = "attempts" + 1, "next_attempt_at" = ?, "finished_at" = ?, '
  + '"greylisted" = "greylisted" + ?, "grey_suspect" = "grey_suspect" + ? where "id" = ?';
/** {@link UPDATE_MESSAGE} for a group on PostgreSQL: the same columns in the same order, as arrays. */
const UPDATE_MESSAGES_PG = 'update "messages" as m set "status" = v."status", "attempts" = m."attempts" + 1, "next_attempt_at" = v."next_attempt_at", '
  + '"finished_at" = v."finished_at", "greylisted" = m."greylisted" + v."greylisted", "grey_suspect" = m."grey_suspect" + v."grey_suspect" '
  + 'from unnest(?::text[], ?::bigint[], ?::bigint[], ?::int[], ?::int[], ?::bigint[]) as v("status", "next_attempt_at", "finished_at", "greylisted", "grey_suspect", "id") '
  + 'where m."id" = v."id"';
/** The lane-day counters an attempt moves, and those routed mail's attempts move too. */
const DAY_COUNTERS: readonly LaneDayCounter[] = ['accepted', 'bounced', 'hygiene_bounced', 'expired', 'deferred', 'mailbox_deferred', 'greylisted', 'greylist_passed', 'failed', 'retries'];
const ROUTED_COUNTERS: readonly LaneDayCounter[] = ['routed_accepted', 'routed_bounced', 'routed_deferred', 'routed_failed'];
