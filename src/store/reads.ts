/**
 * The reads of `warmup status` (runs, lanes, lane days, holds, queues,
 * replies, IP leases), each written once as SQL text that SQLite and
 * PostgreSQL both read (double-quoted names, `?` placeholders), with the
 * shaping of its rows, over any way of running a statement (`Rows`):
 * kysely's executor in the SQL store (the query modules bind these to their
 * database: days.ts, lanes.ts, ...) or better-sqlite3's statements directly
 * (./sqlite-reader.ts), which spares a read-only command loading kysely at
 * all. Nothing here imports kysely.
 */
import type { DecisionTally } from '../policy/forecast.js';
import { chunks } from '../util/chunks.js';
import type { HoldRow } from './holds.js';
import type { IpLeaseView } from './lease.js';
import type { LaneQueue, LastReply, ReplyCount } from './replies.js';
import { NOT_ACCEPTED, shapeOf } from '../policy/reply-shape.js';
import type { Selectable } from 'kysely';
import type { LaneDayRow, LaneRow, Outcome, RunsTable } from './schema.js';

/** Runs one statement (`?` placeholders) and gives its rows as objects keyed by column name. */
export type Rows = <R>(text: string, params: readonly unknown[]) => Promise<R[]>;

/** A row of `runs`. */
export type RunRow = Selectable<RunsTable>;

/** `?, ?, ?`: the placeholders of an `in (...)` list of `n` values. */
function marks(n: number): string {
  return n === 1 ? '?' : `?${', ?'.repeat(n - 1)}`;
}

/** The run most recently started for a plan. */
export async function lastRun(run: Rows, plan: string): Promise<RunRow | undefined> {
  return (await run<RunRow>('select * from "runs" where "plan" = ? order by "id" desc limit 1', [plan]))[0];
}

/**
 * "Now" on the clock of the plan's running daemon (which may be accelerated),
 * so that operator commands line up with it; the wall clock when none runs.
 */
export async function daemonNow(run: Rows, plan: string, realNow: number): Promise<number> {
  return daemonClock(await lastRun(run, plan), realNow);
}

function daemonClock(last: RunRow | undefined, realNow: number): number {
  if (!last) return realNow;
  // A finished accelerated run may have stopped "in the future": now is never before it.
  if (last.ended_at !== null) return Math.max(realNow, last.ended_at);
  if (last.real_started_at === null) return realNow;
  return last.started_at + (realNow - last.real_started_at) * last.speed;
}

/**
 * The database's own clock, which every view of it (status, report, events) uses unless told
 * otherwise: the plan time of its last run (the end of a finished run, the running daemon's clock
 * while it runs), so a simulated or rehearsed database is shown as of its own days, not today's
 * date. The wall clock only when no run was recorded.
 */
export async function storeNow(run: Rows, plan: string, realNow: number): Promise<number> {
  const last = await lastRun(run, plan);
  if (!last) return realNow;
  if (last.ended_at !== null) return last.ended_at;
  return daemonClock(last, realNow);
}

/** Every lane of a plan, by id. */
export function loadLanes(run: Rows, plan: string): Promise<LaneRow[]> {
  return run<LaneRow>('select * from "lanes" where "plan" = ? order by "id"', [plan]);
}

const LANE_DAYS = 'select "lane_days".*, "lanes"."ip", "lanes"."provider" from "lane_days" inner join "lanes" on "lanes"."id" = "lane_days"."lane_id" where "lanes"."plan" = ?';

/** Every lane-day of a plan, optionally one day only (status, reports), by day then lane. */
export function laneDays(run: Rows, plan: string, day?: string): Promise<Array<LaneDayRow & { ip: string; provider: string }>> {
  return day === undefined
    ? run(`${LANE_DAYS} order by "lane_days"."day", "lanes"."id"`, [plan])
    : run(`${LANE_DAYS} and "lane_days"."day" = ? order by "lane_days"."day", "lanes"."id"`, [plan, day]);
}

/**
 * The latest day of a plan with a lane-day on or before `upTo` (YYYY-MM-DD), or undefined.
 * Each lane's latest is one seek of the lane-days index (the maximum under a lane id), then the
 * latest of those: the maximum over a join read every lane-day of the plan (7,168 rows for 512
 * lanes x 14 days, ~6M instructions of a `warmup status`; ~2M so).
 */
export async function latestLaneDay(run: Rows, plan: string, upTo: string): Promise<string | undefined> {
  const [r] = await run<{ day: string | null }>('select max("t"."day") as "day" from (select (select max("lane_days"."day") from "lane_days" '
    + 'where "lane_days"."lane_id" = "lanes"."id" and "lane_days"."day" <= ?) as "day" from "lanes" where "lanes"."plan" = ?) as "t"', [upTo, plan]);
  return r?.day ?? undefined;
}

/**
 * Per lane of the plan with lane-days: its decided days, how many advanced, and its last
 * decided day (ordered by lane id): the launch forecast's input in one row per lane rather
 * than one per lane-day (`warmup status`). Counted from the lane-days index alone, in lane
 * order (no join, no sort: half the time of counting over a join with the lanes, which
 * SQLite then sorted), and named from the plan's lanes read apart.
 */
export async function decisionTallies(run: Rows, plan: string): Promise<DecisionTally[]> {
  const rows = await run<{ lane_id: number; decided: number; advanced: number; last_decided: string | null }>(
    'select "lane_days"."lane_id", count("lane_days"."decision") as "decided", '
    + 'sum(case when "lane_days"."decision" = \'advance\' then 1 else 0 end) as "advanced", '
    + 'max(case when "lane_days"."decision" is not null then "lane_days"."day" end) as "last_decided" '
    + 'from "lane_days" where "lane_days"."lane_id" in (select "id" from "lanes" where "plan" = ?) '
    + 'group by "lane_days"."lane_id" order by "lane_days"."lane_id"', [plan]);
  const names = new Map<number, { ip: string; provider: string }>();
  for (const l of await run<{ id: number; ip: string; provider: string }>('select "id", "ip", "provider" from "lanes" where "plan" = ?', [plan])) names.set(Number(l.id), l);
  return rows.flatMap((r) => {
    const lane = names.get(Number(r.lane_id));
    return lane ? [{ ip: lane.ip, provider: lane.provider, decided: Number(r.decided), advanced: Number(r.advanced), lastDecided: r.last_decided ?? null }] : [];
  });
}

/** The holds of a plan (or of some of its lanes), by lane then id. */
export function listHolds(run: Rows, plan: string, laneIds?: readonly number[]): Promise<HoldRow[]> {
  if (laneIds === undefined) return run<HoldRow>('select * from "holds" where "plan" = ? order by "lane_id", "id"', [plan]);
  if (laneIds.length === 0) return Promise.resolve([]);
  return run<HoldRow>(`select * from "holds" where "plan" = ? and "lane_id" in (${marks(laneIds.length)}) order by "lane_id", "id"`, [plan, ...laneIds]);
}

/** Waiting and in-flight messages per lane, with the oldest and the next due. */
export async function laneQueues(run: Rows, plan: string): Promise<Map<number, LaneQueue>> {
  const rows = await run<{ lane_id: number; status: string; n: number; oldest: number | null; next: number | null }>(
    'select "messages"."lane_id", "messages"."status", count(*) as "n", min("messages"."created_at") as "oldest", min("messages"."next_attempt_at") as "next" '
    + 'from "messages" inner join "lanes" on "lanes"."id" = "messages"."lane_id" where "lanes"."plan" = ? and "messages"."status" in (\'in_flight\', \'deferred\') '
    + 'group by "messages"."lane_id", "messages"."status"', [plan]);
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
 * The last attempt of each lane, from the running `lane_last` the writes keep (one small
 * row per lane). A database the daemon has not migrated yet (a reader never migrates) is
 * read from the attempts: a seek of the `attempts_lane_time` index per lane (a correlated
 * subquery picks each lane's last id).
 */
export async function lastReplies(run: Rows, laneIds: readonly number[]): Promise<Map<number, LastReply>> {
  const out = new Map<number, LastReply>();
  for (const part of chunks(laneIds, 500)) {
    let rows: Array<{ lane_id: number; started_at: number; outcome: Outcome; code: number | null; reply: string | null }>;
    try {
      rows = await run(`select "lane_id", "at" as "started_at", "outcome", "code", "reply" from "lane_last" where "lane_id" in (${marks(part.length)})`, part);
    } catch (e) {
      if (!missingTable(e)) throw e;
      rows = await run('select "lane_id", "started_at", "outcome", "code", "reply" from "attempts" where "id" in '
        + `(select (select "last"."id" from "attempts" as "last" where "last"."lane_id" = "lanes"."id" order by "last"."started_at" desc, "last"."id" desc limit 1) as "id" from "lanes" where "lanes"."id" in (${marks(part.length)}))`, part);
    }
    for (const r of rows) out.set(r.lane_id, { at: Number(r.started_at), outcome: r.outcome, code: r.code, reply: r.reply });
  }
  return out;
}

/**
 * The non-accepted replies of each lane on `day`, most frequent first, from the running
 * counts (`lane_replies`) the writes keep: O(lanes x distinct replies), not one table
 * row per deferral. Texts that differ only in an address or a queue id are counted as one.
 * A database the daemon has not migrated yet (a reader never migrates) is read from
 * the attempts themselves.
 */
export async function replyCounts(run: Rows, laneIds: readonly number[], day: string, outcomes?: readonly Outcome[]): Promise<Map<number, ReplyCount[]>> {
  const wanted = (outcomes ?? NOT_ACCEPTED).filter((o) => o !== 'accepted');
  const perLane = new Map<number, ReplyCount[]>();
  if (wanted.length > 0) {
    let rows: Array<{ lane_id: number; outcome: Outcome; reply: string; n: number }>;
    try {
      rows = [];
      for (const part of chunks(laneIds, 500)) {
        rows.push(...await run<{ lane_id: number; outcome: Outcome; reply: string; n: number }>(
          // `"outcome" || ''`: the primary key is sought per lane and day, and the outcome tested on the rows found
          // (an index term would make SQLite seek every lane x outcome pair: 4,096 seeks for 512 lanes).
          `select "lane_id", "outcome", "reply", "n" from "lane_replies" where "lane_id" in (${marks(part.length)}) and "day" = ? and ("outcome" || '') in (${marks(wanted.length)})`,
          [...part, day, ...wanted]));
      }
    } catch (e) {
      if (!missingTable(e)) throw e;
      rows = await replyCountsFromAttempts(run, laneIds, day, wanted);
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
async function replyCountsFromAttempts(run: Rows, laneIds: readonly number[], day: string, wanted: readonly Outcome[]): Promise<Array<{ lane_id: number; outcome: Outcome; reply: string; n: number }>> {
  const merged = new Map<string, { lane_id: number; outcome: Outcome; reply: string; n: number }>();
  for (const part of chunks(laneIds, 500)) {
    // `outcome in (...)` rather than `!= 'accepted'`: the index then skips a day's acceptances.
    const rows = await run<{ lane_id: number; outcome: Outcome; reply: string | null; n: number }>(
      `select "lane_id", "outcome", "reply", count(*) as "n" from "attempts" where "lane_id" in (${marks(part.length)}) and "day" = ? and "outcome" in (${marks(wanted.length)}) `
      + 'group by "lane_id", "outcome", "reply"', [...part, day, ...wanted]);
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

/** A row of `ip_leases` as callers see it. */
export const ipView = (r: { ip: string; host: string; pid: number; acquired_at: number; heartbeat_at: number; unattended_at: number | null; stale_ms?: number | null }): IpLeaseView => ({
  ip: r.ip, host: r.host, pid: Number(r.pid), acquiredAt: Number(r.acquired_at), heartbeatAt: Number(r.heartbeat_at),
  unattendedAt: r.unattended_at === null ? null : Number(r.unattended_at),
  // A database read before migration 0018 (a read-only status) has no column: as a lease without it.
  staleMs: r.stale_ms === undefined || r.stale_ms === null ? null : Number(r.stale_ms),
});

/** Every IP lease of a plan (by host, then IP). */
export async function ipLeases(run: Rows, plan: string): Promise<IpLeaseView[]> {
  const rows = await run<{ ip: string; host: string; pid: number; acquired_at: number; heartbeat_at: number; unattended_at: number | null; stale_ms?: number | null }>(
    'select * from "ip_leases" where "plan" = ? order by "host", "ip"', [plan]);
  return rows.map(ipView);
}
