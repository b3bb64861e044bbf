/**
 * Messages and attempts in memory: src/store/messages.ts row for row. The
 * counters of lane_days move with the rows they count, inside the same
 * all-or-nothing operation.
 *
 * A message is held only while an operation can still read it (see
 * `stillReadable`); then it is released and only its Message-ID stays, for
 * the unique constraint. Every count a read returns lives in lane_days and
 * the per-lane tallies, never in the messages, so releasing changes no answer.
 */
import { attemptCounts, greylistOutcome } from '../../policy/counting.js';
import { WarmupError } from '../../util/errors.js';
import type { AttemptRecord, DueRetry, MessageResult, NewMessage } from '../messages.js';
import type { MessageStatus, Outcome } from '../schema.js';
import { laneOrThrow } from './lanes.js';
import { constraintFailed, dayKey, type MemState, type MessageRow } from './state.js';

const isOpen = (status: MessageStatus): boolean => status === 'in_flight' || status === 'deferred';

/**
 * Inserts a messages row, holding the schema's constraints: the lane exists, the Message-ID is
 * unique. (lane, day, seq) is unique by construction: every seq is the lane-day's `sent`
 * counter, which only grows, and shrinks back only with the rows an undo removes.
 */
export function insertMessage(s: MemState, values: Omit<MessageRow, 'id' | 'greylisted' | 'grey_suspect' | 'host' | 'placed_at'> & { host?: string | null }): MessageRow {
  laneOrThrow(s, values.lane_id, 'messages');
  if (s.messageByMessageId.has(values.message_id) || s.releasedMessageIds.has(values.message_id)) throw constraintFailed(`UNIQUE messages.message_id (${values.message_id})`);
  const row: MessageRow = { id: s.nextId('messages'), ...values, greylisted: 0, grey_suspect: 0, host: values.host ?? null, placed_at: null };
  s.mapSet(s.messages, row.id, row);
  s.mapSet(s.messageByMessageId, row.message_id, row);
  if (row.source === 'routed') s.push(s.routedMessages, row);
  if (isOpen(row.status)) s.setAdd(openSet(s, row.lane_id), row);
  if (row.status === 'deferred') s.setAdd(s.deferred, row);
  return row;
}

function openSet(s: MemState, laneId: number): Set<MessageRow> {
  let set = s.openByLane.get(laneId);
  if (!set) {
    set = new Set();
    s.openByLane.set(laneId, set); // an empty set is no state: never undone
  }
  return set;
}

/** Changes a message's columns, keeping the open-messages index in step with its status; releases it once nothing can read it. */
export function patchMessage(s: MemState, m: MessageRow, changes: Partial<MessageRow>): void {
  const was = m.status;
  s.patch(m, changes);
  if (was === m.status) return;
  if (m.status === 'deferred') s.setAdd(s.deferred, m);
  else if (was === 'deferred') s.setDelete(s.deferred, m);
  if (isOpen(was) !== isOpen(m.status)) {
    if (isOpen(m.status)) s.setAdd(openSet(s, m.lane_id), m);
    else s.setDelete(openSet(s, m.lane_id), m);
  }
  releaseIfDone(s, m);
}

/**
 * Whether an operation can still read a message: an open one (queues, retries,
 * recovery), a routed one (`routedSince` counts every routed message, and a
 * later delivery line looks its key up), and an accepted one with no placement
 * yet to a mailbox whose placements may be asked (`pendingPlacements`).
 * Nothing else reads a message row after its final outcome: the day's and
 * lane's counts were moved when the outcome was recorded.
 */
function stillReadable(s: MemState, m: MessageRow): boolean {
  if (isOpen(m.status) || m.source === 'routed') return true;
  return m.status === 'accepted' && !s.placementByMessage.has(m.id) && (s.placementMailboxes === null || s.placementMailboxes.has(m.recipient));
}

/** Releases a message nothing can read any more, keeping its Message-ID (undoably, like every change). */
export function releaseIfDone(s: MemState, m: MessageRow): void {
  if (stillReadable(s, m) || s.messages.get(m.id) !== m) return;
  s.mapDelete(s.messages, m.id);
  s.mapDelete(s.messageByMessageId, m.message_id);
  s.setAdd(s.releasedMessageIds, m.message_id);
}

/**
 * The held message `id`, for a write that refers to it (`what`: the foreign key).
 * @throws WarmupError STORE_RELEASED for a message released after its final outcome
 *   (SQL would still take the write; the daemon never makes it), STORE_CONSTRAINT for one that never existed.
 */
export function heldMessage(s: MemState, id: number, what: string): MessageRow {
  const m = s.messages.get(id);
  if (m) return m;
  if (Number.isInteger(id) && id >= 1 && id <= s.lastId('messages')) {
    throw new WarmupError('STORE_RELEASED', `message ${id} reached its final outcome and the memory store released it: ${what} cannot refer to it`);
  }
  throw constraintFailed(`FOREIGN KEY ${what} -> messages.id (${id})`);
}

function noLaneDay(laneId: number, day: string): WarmupError {
  return new WarmupError('STORE_NO_ROW', `no lane day ${day} for lane ${laneId}`);
}

export function createMessage(s: MemState, m: { laneId: number; day: string; recipient: string; messageId: string; now: number }): { id: number; seq: number } {
  return createMessages(s, [m], m.now)[0]!;
}

export function createMessages(s: MemState, messages: readonly NewMessage[], now: number): Array<{ id: number; seq: number }> {
  if (messages.length === 0) return [];
  const counts = new Map<string, { n: number; next: number }>();
  for (const m of messages) {
    const key = dayKey(m.laneId, m.day);
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { n: 1, next: 0 });
  }
  for (const [key, c] of counts) {
    const day = s.laneDays.get(key);
    if (!day) throw noLaneDay(Number(key.slice(0, key.indexOf('|'))), key.slice(key.indexOf('|') + 1));
    s.add(day, { sent: c.n });
    c.next = day.sent - c.n + 1;
  }
  return messages.map((m) => {
    const seq = counts.get(dayKey(m.laneId, m.day))!.next++;
    const row = insertMessage(s, {
      source: 'seed', lane_id: m.laneId, day: m.day, seq, recipient: m.recipient, message_id: m.messageId,
      status: 'in_flight', attempts: 0, created_at: now, next_attempt_at: null, finished_at: null,
    });
    return { id: row.id, seq };
  });
}

/** Deferred messages of a lane due at `now`, in the order the status/due index gives them. */
function dueOf(s: MemState, laneId: number, now: number): MessageRow[] {
  const out: MessageRow[] = [];
  for (const m of s.openByLane.get(laneId) ?? []) {
    if (m.status === 'deferred' && m.next_attempt_at !== null && m.next_attempt_at <= now) out.push(m);
  }
  return out.sort((a, b) => a.next_attempt_at! - b.next_attempt_at! || a.id - b.id);
}

export function claimDueRetries(s: MemState, now: number, lanes: ReadonlyArray<{ readonly laneId: number; readonly limit: number }>, expireMs: number): { claimed: DueRetry[]; expired: number } {
  const wanted = lanes.filter((l) => l.limit > 0);
  if (wanted.length === 0) return { claimed: [], expired: 0 };
  let expired = 0;
  for (const laneId of new Set(wanted.map((l) => l.laneId))) {
    for (const m of dueOf(s, laneId, now)) {
      if (m.created_at > now - expireMs) continue;
      patchMessage(s, m, { status: 'expired', next_attempt_at: null, finished_at: now });
      const day = s.laneDays.get(dayKey(m.lane_id, m.day));
      if (day) s.add(day, { expired: 1 });
      expired++;
    }
  }
  const claimed: DueRetry[] = [];
  for (const l of wanted) {
    const rows = dueOf(s, l.laneId, now).slice(0, l.limit);
    for (const m of rows) {
      claimed.push({ id: m.id, lane_id: m.lane_id, day: m.day, seq: m.seq, recipient: m.recipient, message_id: m.message_id, attempts: m.attempts, created_at: m.created_at });
      patchMessage(s, m, { status: 'in_flight' });
    }
  }
  return { claimed, expired };
}

export function returnUnsent(s: MemState, ids: readonly number[], now: number): void {
  for (const id of new Set(ids)) {
    const m = s.messages.get(id);
    if (m && m.status === 'in_flight') patchMessage(s, m, { status: 'deferred', next_attempt_at: now });
  }
}

export function recordAttempts(s: MemState, attempts: ReadonlyArray<{ readonly attempt: AttemptRecord; readonly result: MessageResult }>): void {
  for (const { attempt, result } of attempts) writeAttempt(s, attempt, result);
}

export function recordAttempt(s: MemState, a: AttemptRecord, result: MessageResult): void {
  writeAttempt(s, a, result);
}

export function writeAttempt(s: MemState, a: AttemptRecord, result: MessageResult, routed = false): void {
  const m = heldMessage(s, a.messageId, 'attempts.message_id');
  const id = s.nextId('attempts');
  if (a.outcome !== 'accepted') {
    const key = dayKey(a.laneId, a.day);
    let list = s.repliesOfDay.get(key);
    if (!list) {
      list = [];
      s.mapSet(s.repliesOfDay, key, list);
    }
    s.push(list, { id, outcome: a.outcome, code: a.code, enhanced: a.enhanced, reply: a.reply });
  }
  const last = s.lastAttempt.get(a.laneId);
  if (!last || a.startedAt > last.started_at || (a.startedAt === last.started_at && id > last.id)) {
    s.mapSet(s.lastAttempt, a.laneId, { id, started_at: a.startedAt, outcome: a.outcome, code: a.code, reply: a.reply });
  }
  countOutcome(s, a.laneId, a.outcome);
  const c = attemptCounts(a, result.status);
  const grey = result.status === 'accepted' && a.retry > 0 ? greylistOutcome(m) : { passed: 0, confirmed: 0 };
  patchMessage(s, m, {
    status: result.status,
    attempts: m.attempts + 1,
    next_attempt_at: result.status === 'deferred' ? result.nextAttemptAt : null,
    finished_at: result.status === 'deferred' ? null : result.at,
    greylisted: m.greylisted + c.greylisted,
    grey_suspect: m.grey_suspect + c.grey_suspect,
  });
  const day = s.laneDays.get(dayKey(a.laneId, a.day));
  if (!day) return;
  s.add(day, {
    accepted: c.accepted, bounced: c.bounced, hygiene_bounced: c.hygiene_bounced, expired: c.expired,
    deferred: c.deferred - grey.confirmed, mailbox_deferred: c.mailbox_deferred, greylisted: c.greylisted + grey.confirmed,
    greylist_passed: grey.passed, failed: c.failed, retries: c.retries,
    ...(routed ? { routed_accepted: c.accepted, routed_bounced: c.bounced, routed_deferred: c.deferred, routed_failed: c.failed } : {}),
  });
}

function countOutcome(s: MemState, laneId: number, outcome: Outcome): void {
  let byOutcome = s.laneOutcomes.get(laneId);
  if (!byOutcome) {
    byOutcome = new Map();
    s.mapSet(s.laneOutcomes, laneId, byOutcome);
  }
  s.mapSet(byOutcome, outcome, (byOutcome.get(outcome) ?? 0) + 1);
}

/** Open messages of a plan's lanes, lanes in id order. */
function* openOfPlan(s: MemState, plan: string): Generator<MessageRow> {
  for (const lane of s.lanes.values()) {
    if (lane.plan !== plan) continue;
    yield* s.openByLane.get(lane.id) ?? [];
  }
}

export function recoverInFlight(s: MemState, plan: string, now: number, ips?: readonly string[]): number {
  const only = ips === undefined ? null : new Set(ips);
  const rows = [...openOfPlan(s, plan)].filter((m) => m.status === 'in_flight' && (!only || only.has(s.lanes.get(m.lane_id)?.ip ?? ''))).sort((a, b) => a.id - b.id);
  for (const r of rows) {
    writeAttempt(s, {
      messageId: r.id, laneId: r.lane_id, day: r.day, startedAt: now, latencyMs: null, mxHost: null, mxAddress: null,
      outcome: 'interrupted', code: null, enhanced: null, reply: 'in flight when the daemon stopped; outcome unknown', stage: null, retry: r.attempts,
    }, { status: 'deferred', nextAttemptAt: now });
  }
  return rows.length;
}

export function queueCounts(s: MemState, plan: string): Map<number, { inFlight: number; retries: number }> {
  const out = new Map<number, { inFlight: number; retries: number }>();
  for (const m of openOfPlan(s, plan)) {
    if (m.source !== 'seed') continue;
    const e = out.get(m.lane_id) ?? { inFlight: 0, retries: 0 };
    if (m.status === 'in_flight') e.inFlight++;
    else e.retries++;
    out.set(m.lane_id, e);
  }
  return out;
}

export function pendingRetries(s: MemState, plan: string, laneIds: readonly number[]): number {
  let n = 0;
  for (const id of new Set(laneIds)) {
    const lane = s.lanes.get(id);
    if (!lane || lane.plan !== plan || lane.state === 'paused') continue;
    for (const m of s.openByLane.get(id) ?? []) if (m.source === 'seed') n++;
  }
  return n;
}

export function attemptOutcomeCounts(s: MemState, plan: string): Array<{ lane_id: number; outcome: Outcome; n: number }> {
  const out: Array<{ lane_id: number; outcome: Outcome; n: number }> = [];
  for (const lane of s.lanes.values()) {
    if (lane.plan !== plan) continue;
    const byOutcome = s.laneOutcomes.get(lane.id);
    if (!byOutcome) continue;
    for (const outcome of [...byOutcome.keys()].sort()) out.push({ lane_id: lane.id, outcome: outcome as Outcome, n: byOutcome.get(outcome)! });
  }
  return out;
}

export function nextRetryDue(s: MemState): number | null {
  let at: number | null = null;
  for (const m of s.deferred) if (m.next_attempt_at !== null && (at === null || m.next_attempt_at < at)) at = m.next_attempt_at;
  return at;
}
