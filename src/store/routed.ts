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
import { chunks } from '../util/chunks.js';
import { writeAttempts } from './attempt-writes.js';
import type { AttemptRecord, MessageResult } from './messages.js';
import { addToLaneDays } from './postgres-batch.js';
import { rows, valuesList } from './prepared.js';

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
 * message Postfix re-routes to another lane is new volume there. `host`: the
 * fleet host whose Postfix logged it (each host tails its own log).
 */
export async function recordRoutedDelivery(db: Db, plan: string, host: string, d: RoutedDelivery, position: LogPosition): Promise<RoutedRecord> {
  return (await recordRoutedDeliveries(db, plan, host, [d], position))[0]!;
}

/**
 * Records the deliveries of one batch of log lines and the position after the batch, in one
 * transaction (a crash leaves the batch unrecorded and the position before it: it is read again).
 * The batch is written as a group (a few statements for all of it, as the send path writes its
 * attempts), with the result of recording the deliveries one by one, in order: a queue id +
 * recipient + lane seen twice in one batch (a retry logged within the same read) starts a new
 * group, which sees the first one's message.
 */
export async function recordRoutedDeliveries(db: Db, plan: string, host: string, ds: readonly RoutedDelivery[], position: LogPosition, now?: number): Promise<RoutedRecord[]> {
  return inTransaction(db, async (trx) => {
    const out: RoutedRecord[] = [];
    for (const group of distinctRuns(ds)) out.push(...await recordGroup(trx, host, group));
    await saveLogPositionTx(trx, plan, host, position, now ?? ds.at(-1)?.at ?? 0);
    return out;
  });
}

/** `ds` cut into consecutive runs in which no routed key repeats (pure). */
function distinctRuns(ds: readonly RoutedDelivery[]): RoutedDelivery[][] {
  const runs: RoutedDelivery[][] = [];
  let run: RoutedDelivery[] = [];
  let keys = new Set<string>();
  for (const d of ds) {
    const key = routedKey(d);
    if (keys.has(key)) { runs.push(run); run = []; keys = new Set(); }
    keys.add(key);
    run.push(d);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** Rows per statement of a group (the messages insert has 7 parameters a row). */
const GROUP_CHUNK = 100;

/** Deliveries with distinct routed keys, logged by `host`: their messages, the lane-days' counts, their attempts. */
async function recordGroup(trx: Db, host: string, ds: readonly RoutedDelivery[]): Promise<RoutedRecord[]> {
  const keys = ds.map(routedKey);
  const existing = new Map<string, { id: number; day: string; status: string; attempts: number }>();
  for (const part of chunks(keys, GROUP_CHUNK)) {
    const found = await rows<{ id: number; message_id: string; day: string; status: string; attempts: number }>(trx,
      `select "id", "message_id", "day", "status", "attempts" from "messages" where "message_id" in (${valuesList('?', part.length)})`, part);
    for (const r of found) existing.set(r.message_id, { id: Number(r.id), day: r.day, status: r.status, attempts: Number(r.attempts) });
  }
  // A message deferred before is retried: its row stays. Anything else is the message's first try on this lane
  // (or a queue id Postfix reused for a new message): it counts against the lane-day.
  const fresh = keys.map((k) => existing.get(k)?.status !== 'deferred');
  const days = new Map<string, { laneId: number; day: string; at: number; n: number; next: number }>();
  ds.forEach((d, i) => {
    if (!fresh[i]) return;
    const c = days.get(`${d.laneId}|${d.day}`);
    if (c) c.n++; else days.set(`${d.laneId}|${d.day}`, { laneId: d.laneId, day: d.day, at: d.at, n: 1, next: 0 });
  });
  const sent = await addToLaneDays(trx, [...days.values()].map((c) => ({ laneId: c.laneId, day: c.day, add: { sent: c.n, routed: c.n } })), ['sent', 'routed']);
  for (const [k, c] of days) {
    let after = sent.get(k);
    if (after === undefined) {
      // A day the daemon never opened for this lane (a delivery after a restart, outside the window): open it without a target.
      const lane = await trx.selectFrom('lanes').select(['stage']).where('id', '=', c.laneId).executeTakeFirstOrThrow();
      await trx.insertInto('lane_days').values({ lane_id: c.laneId, day: c.day, stage: Math.max(1, lane.stage), target: 0, spread_from: c.at, spread_until: c.at, decision: null, decided_at: null, sent: c.n, routed: c.n }).execute();
      after = c.n;
    }
    c.next = after - c.n + 1;
  }
  const created = new Map<number, { lane_id: number; day: string; seq: number; recipient: string; message_id: string; at: number }>();
  ds.forEach((d, i) => {
    if (!fresh[i]) return;
    const c = days.get(`${d.laneId}|${d.day}`)!;
    created.set(i, { lane_id: d.laneId, day: d.day, seq: c.next++, recipient: d.recipient, message_id: existing.has(keys[i]!) ? `${keys[i]}:${d.at}` : keys[i]!, at: d.at });
  });
  const ids = new Map<string, number>();
  for (const part of chunks([...created.values()], GROUP_CHUNK)) {
    const params: unknown[] = [];
    for (const m of part) params.push(m.lane_id, m.day, m.seq, m.recipient, m.message_id, m.at, host);
    const inserted = await rows<{ id: number; message_id: string }>(trx,
      `insert into "messages" ("lane_id", "day", "seq", "recipient", "message_id", "source", "status", "attempts", "created_at", "next_attempt_at", "finished_at", "host") values ${valuesList("(?, ?, ?, ?, ?, 'routed', 'in_flight', 0, ?, null, null, ?)", part.length)} returning "id", "message_id"`,
      params);
    for (const r of inserted) ids.set(r.message_id, Number(r.id));
  }
  const out: RoutedRecord[] = [];
  const attempts = ds.map((d, i) => {
    const m = created.get(i);
    const message = m ? { id: ids.get(m.message_id)!, day: m.day, attempts: 0 } : existing.get(keys[i]!)!;
    out.push(m ? { counted: true, day: m.day, daySent: m.seq } : { counted: false, day: message.day, daySent: 0 });
    return routedAttempt(d, message);
  });
  await writeAttempts(trx, attempts, true);
  return out;
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

async function saveLogPositionTx(trx: Db, plan: string, host: string, p: LogPosition, now: number): Promise<void> {
  await trx.insertInto('postfix_log').values({ plan, host, path: p.path, inode: p.inode, offset: p.offset, updated_at: now })
    .onConflict((oc) => oc.columns(['plan', 'host']).doUpdateSet({ path: p.path, inode: p.inode, offset: p.offset, updated_at: now })).execute();
}

/** Saves how far `host`'s Postfix log was read (after lines that recorded nothing). */
export async function saveLogPosition(db: Db, plan: string, host: string, p: LogPosition, now: number): Promise<void> {
  await saveLogPositionTx(db, plan, host, p, now);
}

/** How far `host` read its Postfix log (each host of a fleet tails its own), or null before its first read. */
export async function loadLogPosition(db: Db, plan: string, host: string): Promise<LogPosition | null> {
  const r = await db.selectFrom('postfix_log').select(['path', 'inode', 'offset']).where('plan', '=', plan).where('host', '=', host).executeTakeFirst();
  return r ? { path: r.path, inode: r.inode, offset: Number(r.offset) } : null;
}

/**
 * Routed messages `host`'s Postfix logged as deferred, per recipient: that Postfix will ask for them again
 * (another host's deferred messages wait in that host's queue).
 */
export async function deferredRouted(db: Db, plan: string, host: string): Promise<Array<{ recipient: string; lane_id: number }>> {
  return db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id').select(['messages.recipient', 'messages.lane_id'])
    .where('lanes.plan', '=', plan).where('messages.source', '=', 'routed').where('messages.status', '=', 'deferred').where('messages.host', '=', host)
    .orderBy('messages.id').execute();
}

/** Routed messages counted per lane since `since` (this hour's room after a restart). */
export async function routedSince(db: Db, plan: string, since: number): Promise<Map<number, number>> {
  const rows = await db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
    .select(['messages.lane_id']).select((eb) => eb.fn.countAll<number>().as('n'))
    .where('lanes.plan', '=', plan).where('messages.source', '=', 'routed').where('messages.created_at', '>=', since)
    .groupBy('messages.lane_id').execute();
  return new Map(rows.map((r) => [r.lane_id, Number(r.n)]));
}
