/**
 * Routed mail (Postfix deliveries through lanes), the maillog position, and
 * the reply views of status in memory: src/store/routed.ts and
 * src/store/replies.ts row for row.
 */
import type { ReplySample } from '../../policy/evidence.js';
import { shapeOf } from '../../policy/reply-shape.js';
import type { LastReply, LaneQueue, ReplyCount } from '../replies.js';
import { routedAttempt, routedKey, type LogPosition, type RoutedDelivery, type RoutedRecord } from '../routed.js';
import type { Outcome } from '../schema.js';
import { insertLaneDay, newLaneDay } from './days.js';
import { laneOrThrow } from './lanes.js';
import { insertMessage, writeAttempt } from './messages.js';
import { cmp, dayKey, type MemState } from './state.js';

export function recordRoutedDelivery(s: MemState, plan: string, host: string, d: RoutedDelivery, position: LogPosition): RoutedRecord {
  return recordRoutedDeliveries(s, plan, host, [d], position)[0]!;
}

export function recordRoutedDeliveries(s: MemState, plan: string, host: string, ds: readonly RoutedDelivery[], position: LogPosition, now?: number): RoutedRecord[] {
  const out = ds.map((d) => recordOne(s, host, d));
  saveLogPosition(s, plan, host, position, now ?? ds.at(-1)?.at ?? 0);
  return out;
}

function recordOne(s: MemState, host: string, d: RoutedDelivery): RoutedRecord {
  const key = routedKey(d);
  const existing = s.messageByMessageId.get(key);
  let message: { id: number; day: string; attempts: number };
  let counted = false;
  let daySent = 0;
  if (existing && existing.status === 'deferred') {
    message = existing;
  } else {
    let day = s.laneDays.get(dayKey(d.laneId, d.day));
    if (day) {
      s.add(day, { sent: 1, routed: 1 });
    } else {
      const lane = laneOrThrow(s, d.laneId, 'lane_days');
      day = { ...newLaneDay({ lane_id: d.laneId, day: d.day, stage: Math.max(1, lane.stage), target: 0, spread_from: d.at, spread_until: d.at }), sent: 1, routed: 1 };
      insertLaneDay(s, day);
    }
    daySent = day.sent;
    const row = insertMessage(s, {
      lane_id: d.laneId, day: d.day, seq: day.sent, recipient: d.recipient, message_id: existing || s.releasedMessageIds.has(key) ? `${key}:${d.at}` : key, source: 'routed',
      status: 'in_flight', attempts: 0, created_at: d.at, next_attempt_at: null, finished_at: null, host,
    });
    message = { id: row.id, day: d.day, attempts: 0 };
    counted = true;
  }
  const { attempt, result } = routedAttempt(d, message);
  writeAttempt(s, attempt, result, true);
  return { counted, day: message.day, daySent };
}

export function saveLogPosition(s: MemState, plan: string, host: string, p: LogPosition, now: number): void {
  const row = s.logPositions.get(`${plan}|${host}`);
  const values = { path: p.path, inode: p.inode, offset: p.offset, updated_at: now };
  if (row) s.patch(row, values);
  else s.mapSet(s.logPositions, `${plan}|${host}`, { plan, host, ...values });
}

export function loadLogPosition(s: MemState, plan: string, host: string): LogPosition | null {
  const r = s.logPositions.get(`${plan}|${host}`);
  return r ? { path: r.path, inode: r.inode, offset: r.offset } : null;
}

export function deferredRouted(s: MemState, plan: string, host: string): Array<{ recipient: string; lane_id: number }> {
  return s.routedMessages.filter((m) => m.status === 'deferred' && m.host === host && s.lanes.get(m.lane_id)?.plan === plan)
    .map((m) => ({ recipient: m.recipient, lane_id: m.lane_id }));
}

export function routedSince(s: MemState, plan: string, since: number): Map<number, number> {
  const n = new Map<number, number>();
  for (const m of s.routedMessages) {
    if (m.created_at >= since && s.lanes.get(m.lane_id)?.plan === plan) n.set(m.lane_id, (n.get(m.lane_id) ?? 0) + 1);
  }
  return new Map([...n].sort((a, b) => a[0] - b[0]));
}

export function lastReplies(s: MemState, laneIds: readonly number[]): Map<number, LastReply> {
  const out = new Map<number, LastReply>();
  for (const id of laneIds) {
    const r = s.lastAttempt.get(id);
    if (r) out.set(id, { at: r.started_at, outcome: r.outcome, code: r.code, reply: r.reply });
  }
  return out;
}

/** Groups rows by a key in SQLite's GROUP BY order (the key columns ascending, NULL first). */
function grouped<R>(rows: readonly R[], key: (r: R) => ReadonlyArray<string | number | null>): Array<{ first: R; n: number }> {
  const groups = new Map<string, { first: R; n: number; k: ReadonlyArray<string | number | null> }>();
  for (const r of rows) {
    const k = key(r);
    const id = JSON.stringify(k);
    const g = groups.get(id);
    if (g) g.n++;
    else groups.set(id, { first: r, n: 1, k });
  }
  const order = (a: ReadonlyArray<string | number | null>, b: ReadonlyArray<string | number | null>): number => {
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (x === y) continue;
      if (x === null) return -1;
      if (y === null) return 1;
      // SQLite sorts numbers before text.
      if (typeof x !== typeof y) return typeof x === 'number' ? -1 : 1;
      return cmp(x, y);
    }
    return 0;
  };
  return [...groups.values()].sort((a, b) => order(a.k, b.k));
}

export function replyCounts(s: MemState, laneIds: readonly number[], day: string, outcomes?: readonly Outcome[]): Map<number, ReplyCount[]> {
  const out = new Map<number, ReplyCount[]>();
  for (const id of laneIds) {
    const rows = (s.repliesOfDay.get(dayKey(id, day)) ?? []).filter((r) => outcomes === undefined || outcomes.includes(r.outcome));
    const merged = new Map<string, ReplyCount>();
    for (const { first, n } of grouped(rows, (r) => [r.outcome, r.reply])) {
      const reply = shapeOf(first.outcome, first.reply);
      const key = `${first.outcome}|${reply}`;
      const before = merged.get(key);
      merged.set(key, { outcome: first.outcome, reply, n: (before?.n ?? 0) + n });
    }
    const list = [...merged.values()].sort((a, b) => b.n - a.n || a.reply.localeCompare(b.reply));
    if (list.length > 0) out.set(id, list);
  }
  return out;
}

export function laneQueues(s: MemState, plan: string): Map<number, LaneQueue> {
  const out = new Map<number, { waiting: number; inFlight: number; oldestAt: number | null; nextRetryAt: number | null }>();
  for (const lane of s.lanes.values()) {
    if (lane.plan !== plan) continue;
    for (const m of s.openByLane.get(lane.id) ?? []) {
      const e = out.get(m.lane_id) ?? { waiting: 0, inFlight: 0, oldestAt: null, nextRetryAt: null };
      if (m.status === 'in_flight') e.inFlight++;
      else {
        e.waiting++;
        e.oldestAt = e.oldestAt === null || m.created_at < e.oldestAt ? m.created_at : e.oldestAt;
        if (m.next_attempt_at !== null && (e.nextRetryAt === null || m.next_attempt_at < e.nextRetryAt)) e.nextRetryAt = m.next_attempt_at;
      }
      out.set(m.lane_id, e);
    }
  }
  return out;
}

export function dayReplies(s: MemState, laneId: number, day: string): ReplySample[] {
  const groups = grouped(s.repliesOfDay.get(dayKey(laneId, day)) ?? [], (r) => [r.reply, r.code, r.enhanced]);
  return groups.sort((a, b) => b.n - a.n).map(({ first, n }) => ({ text: first.reply ?? '', code: first.code, enhanced: first.enhanced, count: n }));
}
