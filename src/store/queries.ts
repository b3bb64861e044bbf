/**
 * Every query the daemon and the commands run, one named function each.
 * Counters in lane_days move in the same transaction as the rows they count,
 * so a kill -9 at any point leaves them consistent.
 */
import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Database, LaneDaysTable, LanesTable, Outcome } from './schema.js';

export type Db = Kysely<Database>;
export type LaneRow = Selectable<LanesTable>;
export type LaneDayRow = Selectable<LaneDaysTable>;

/** Creates missing lanes (stage 0, active) and returns every lane of the plan. */
export async function ensureLanes(db: Db, plan: string, lanes: ReadonlyArray<{ ip: string; provider: string }>, now: number): Promise<LaneRow[]> {
  if (lanes.length > 0) {
    await db.transaction().execute(async (trx) => {
      for (const chunk of chunks(lanes, 200)) {
        await trx.insertInto('lanes')
          .values(chunk.map((l) => ({ plan, ip: l.ip, provider: l.provider, stage: 0, state: 'active' as const, rate_factor: 1, holds_in_row: 0, updated_at: now })))
          .onConflict((oc) => oc.columns(['plan', 'ip', 'provider']).doNothing())
          .execute();
      }
    });
  }
  return loadLanes(db, plan);
}

export function loadLanes(db: Db, plan: string): Promise<LaneRow[]> {
  return db.selectFrom('lanes').selectAll().where('plan', '=', plan).orderBy('id').execute();
}

export function getLaneDay(db: Db, laneId: number, day: string): Promise<LaneDayRow | undefined> {
  return db.selectFrom('lane_days').selectAll().where('lane_id', '=', laneId).where('day', '=', day).executeTakeFirst();
}

/** The lane's most recent day strictly before `day`. */
export function previousLaneDay(db: Db, laneId: number, day: string): Promise<LaneDayRow | undefined> {
  return db.selectFrom('lane_days').selectAll().where('lane_id', '=', laneId).where('day', '<', day)
    .orderBy('day', 'desc').limit(1).executeTakeFirst();
}

/** Every lane-day of a plan, optionally one day only (status, reports). */
export function laneDays(db: Db, plan: string, day?: string): Promise<Array<LaneDayRow & { ip: string; provider: string }>> {
  let q = db.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
    .selectAll('lane_days').select(['lanes.ip', 'lanes.provider']).where('lanes.plan', '=', plan);
  if (day !== undefined) q = q.where('lane_days.day', '=', day);
  return q.orderBy('lane_days.day').orderBy('lanes.id').execute();
}

/** Opens a lane's day at `stage` with its target and spread window. */
export async function openLaneDay(db: Db, row: Pick<Insertable<LaneDaysTable>, 'lane_id' | 'day' | 'stage' | 'target' | 'spread_from' | 'spread_until'>, now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('lane_days').values({ ...row, decision: null, decided_at: null }).onConflict((oc) => oc.columns(['lane_id', 'day']).doNothing()).execute();
    await trx.updateTable('lanes').set({ stage: row.stage, updated_at: now }).where('id', '=', row.lane_id).execute();
  });
}

/** Records the day-end decision on the day and the lane's next stage. */
export async function decideLaneDay(db: Db, laneId: number, day: string, decision: string, nextStage: number, holdsInRow: number, now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.updateTable('lane_days').set({ decision, decided_at: now }).where('lane_id', '=', laneId).where('day', '=', day).execute();
    await trx.updateTable('lanes').set({ stage: nextStage, holds_in_row: holdsInRow, decided_day: day, updated_at: now }).where('id', '=', laneId).execute();
  });
}

/**
 * Creates the next message of a lane's day, marked in flight, and counts it
 * as sent, before any byte goes out: a crash after this point can at worst
 * resend this one message, never lose the count.
 */
export async function createMessage(db: Db, m: { laneId: number; day: string; recipient: string; messageId: string; now: number }): Promise<{ id: number; seq: number }> {
  return db.transaction().execute(async (trx) => {
    const { sent } = await trx.updateTable('lane_days').set((eb) => ({ sent: eb('sent', '+', 1) }))
      .where('lane_id', '=', m.laneId).where('day', '=', m.day).returning('sent').executeTakeFirstOrThrow();
    const { id } = await trx.insertInto('messages').values({
      lane_id: m.laneId, day: m.day, seq: sent, recipient: m.recipient, message_id: m.messageId,
      status: 'in_flight', attempts: 0, created_at: m.now, next_attempt_at: null, finished_at: null,
    }).returning('id').executeTakeFirstOrThrow();
    return { id, seq: sent };
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

/** Claims deferred messages whose retry is due (marks them in flight so no one else takes them). */
export async function claimDueRetries(db: Db, now: number, limit: number, laneIds: readonly number[]): Promise<DueRetry[]> {
  if (laneIds.length === 0) return [];
  return db.transaction().execute(async (trx) => {
    const rows = await trx.selectFrom('messages')
      .select(['id', 'lane_id', 'day', 'seq', 'recipient', 'message_id', 'attempts', 'created_at'])
      .where('status', '=', 'deferred').where('next_attempt_at', '<=', now).where('lane_id', 'in', [...laneIds])
      .orderBy('next_attempt_at').limit(limit).execute();
    if (rows.length > 0) {
      await trx.updateTable('messages').set({ status: 'in_flight' }).where('id', 'in', rows.map((r) => r.id)).execute();
    }
    return rows;
  });
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
}

/** What an attempt did to its message. */
export type MessageResult =
  | { readonly status: 'accepted' | 'bounced'; readonly at: number }
  | { readonly status: 'deferred'; readonly nextAttemptAt: number }
  | { readonly status: 'expired'; readonly at: number };

/** Writes one attempt, its message's new state and the day's counters in one transaction. */
export async function recordAttempt(db: Db, a: AttemptRecord, result: MessageResult): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('attempts').values({
      message_id: a.messageId, lane_id: a.laneId, day: a.day, started_at: a.startedAt, latency_ms: a.latencyMs,
      mx_host: a.mxHost, mx_address: a.mxAddress, outcome: a.outcome, code: a.code, enhanced: a.enhanced,
      reply: a.reply, stage: a.stage, retry: a.retry,
    }).execute();
    await trx.updateTable('messages').set((eb) => ({
      status: result.status,
      attempts: eb('attempts', '+', 1),
      next_attempt_at: result.status === 'deferred' ? result.nextAttemptAt : null,
      finished_at: result.status === 'deferred' ? null : result.at,
    })).where('id', '=', a.messageId).execute();
    const attemptIsDeferral = a.outcome === 'deferred' && !a.mailboxSignal;
    const mailboxDeferral = a.outcome === 'deferred' && a.mailboxSignal === true;
    const attemptIsFailure = a.outcome !== 'accepted' && a.outcome !== 'bounced' && a.outcome !== 'deferred';
    await trx.updateTable('lane_days').set((eb) => ({
      accepted: eb('accepted', '+', result.status === 'accepted' ? 1 : 0),
      bounced: eb('bounced', '+', result.status === 'bounced' ? 1 : 0),
      expired: eb('expired', '+', result.status === 'expired' ? 1 : 0),
      deferred: eb('deferred', '+', attemptIsDeferral ? 1 : 0),
      mailbox_deferred: eb('mailbox_deferred', '+', mailboxDeferral ? 1 : 0),
      failed: eb('failed', '+', attemptIsFailure ? 1 : 0),
      retries: eb('retries', '+', a.retry > 0 ? 1 : 0),
    })).where('lane_id', '=', a.laneId).where('day', '=', a.day).execute();
  });
}

/**
 * After a crash: every message still marked in flight gets an `interrupted`
 * attempt and is queued for retry now. Returns how many there were.
 */
export async function recoverInFlight(db: Db, plan: string, now: number): Promise<number> {
  const rows = await db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
    .select(['messages.id', 'messages.lane_id', 'messages.day', 'messages.attempts'])
    .where('lanes.plan', '=', plan).where('messages.status', '=', 'in_flight').execute();
  for (const r of rows) {
    await recordAttempt(db, {
      messageId: r.id, laneId: r.lane_id, day: r.day, startedAt: now, latencyMs: null, mxHost: null, mxAddress: null,
      outcome: 'interrupted', code: null, enhanced: null, reply: 'in flight when the daemon stopped; outcome unknown', stage: null, retry: r.attempts,
    }, { status: 'deferred', nextAttemptAt: now });
  }
  return rows.length;
}

/** Messages in flight and retries queued, per lane (status). */
export async function queueCounts(db: Db, plan: string): Promise<Map<number, { inFlight: number; retries: number }>> {
  const rows = await db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
    .select(['messages.lane_id', 'messages.status']).select((eb) => eb.fn.countAll<number>().as('n'))
    .where('lanes.plan', '=', plan).where('messages.status', 'in', ['in_flight', 'deferred'])
    .groupBy(['messages.lane_id', 'messages.status']).execute();
  const out = new Map<number, { inFlight: number; retries: number }>();
  for (const r of rows) {
    const e = out.get(r.lane_id) ?? { inFlight: 0, retries: 0 };
    if (r.status === 'in_flight') e.inFlight = Number(r.n);
    else e.retries = Number(r.n);
    out.set(r.lane_id, e);
  }
  return out;
}

/**
 * Messages still waiting for a retry on lanes that will send again (a paused
 * lane waits for an operator, so its queue does not keep the plan open).
 */
export async function pendingRetries(db: Db, plan: string): Promise<number> {
  const r = await db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
    .select((eb) => eb.fn.countAll<number>().as('n')).where('lanes.plan', '=', plan).where('lanes.state', '!=', 'paused')
    .where('messages.status', 'in', ['deferred', 'in_flight']).executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function startRun(db: Db, run: { plan: string; planFile: string | null; host: string; pid: number; now: number; speed: number; realNow: number }): Promise<number> {
  const { id } = await db.insertInto('runs').values({
    plan: run.plan, plan_file: run.planFile, host: run.host, pid: run.pid, started_at: run.now, speed: run.speed, ended_at: null, end_reason: null,
    real_started_at: run.realNow,
  }).returning('id').executeTakeFirstOrThrow();
  return id;
}

export async function endRun(db: Db, id: number, now: number, reason: string): Promise<void> {
  await db.updateTable('runs').set({ ended_at: now, end_reason: reason }).where('id', '=', id).execute();
}

/**
 * "Now" on the clock of the plan's running daemon (which may be accelerated),
 * so that operator commands line up with it; the wall clock when none runs.
 */
export async function daemonNow(db: Db, plan: string, realNow: number): Promise<number> {
  const run = await lastRun(db, plan);
  if (!run) return realNow;
  // A finished accelerated run may have stopped "in the future": now is never before it.
  if (run.ended_at !== null) return Math.max(realNow, run.ended_at);
  if (run.real_started_at === null) return realNow;
  return run.started_at + (realNow - run.real_started_at) * run.speed;
}

/** The run most recently started for a plan. */
export function lastRun(db: Db, plan: string) {
  return db.selectFrom('runs').selectAll().where('plan', '=', plan).orderBy('id', 'desc').limit(1).executeTakeFirst();
}

export interface EventInput {
  readonly at: number;
  readonly plan: string;
  readonly laneId?: number | null;
  readonly ip?: string | null;
  readonly provider?: string | null;
  readonly kind: string;
  readonly from?: string | null;
  readonly to?: string | null;
  readonly actor: string;
  readonly cause?: Record<string, unknown>;
}

export async function addEvent(db: Db, e: EventInput): Promise<void> {
  await db.insertInto('events').values({
    at: e.at, plan: e.plan, lane_id: e.laneId ?? null, ip: e.ip ?? null, provider: e.provider ?? null, kind: e.kind,
    from_state: e.from ?? null, to_state: e.to ?? null, actor: e.actor, cause: JSON.stringify(e.cause ?? {}),
  }).execute();
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Which lanes a control applies to: an IP, a provider, both (one lane), or neither (every lane). */
export interface LaneTarget {
  readonly ip?: string | undefined;
  readonly provider?: string | undefined;
}

export interface StateChange {
  readonly state: LaneRow['state'];
  /** When a suspension or timed pause lapses (epoch ms), or null. */
  readonly until: number | null;
  readonly reason: string;
  /** operator | policy | rule:<name> | dnsbl | daemon */
  readonly actor: string;
  readonly kind?: string;
  readonly cause?: Record<string, unknown>;
}

/**
 * Moves every matching lane to a new state and writes one event per lane that
 * changed. The daemon re-reads lane rows every tick, so any process (the CLI,
 * the DNSBL monitor) may call this. Returns the lanes that changed.
 */
export async function changeLaneStates(db: Db, plan: string, target: LaneTarget, change: StateChange, now: number): Promise<LaneRow[]> {
  return db.transaction().execute(async (trx) => {
    let q = trx.selectFrom('lanes').selectAll().where('plan', '=', plan);
    if (target.ip) q = q.where('ip', '=', target.ip);
    if (target.provider) q = q.where('provider', '=', target.provider);
    const lanes = await q.execute();
    const changed: LaneRow[] = [];
    for (const l of lanes) {
      if (l.state === change.state && l.state_until === change.until && l.state_reason === change.reason) continue;
      await trx.updateTable('lanes').set({ state: change.state, state_until: change.until, state_reason: change.reason, updated_at: now }).where('id', '=', l.id).execute();
      await trx.insertInto('events').values({
        at: now, plan, lane_id: l.id, ip: l.ip, provider: l.provider, kind: change.kind ?? change.state,
        from_state: l.state, to_state: change.state, actor: change.actor,
        cause: JSON.stringify({ reason: change.reason, until: change.until, ...change.cause }),
      }).execute();
      changed.push({ ...l, state: change.state, state_until: change.until, state_reason: change.reason, updated_at: now });
    }
    return changed;
  });
}

// ------------------------------------------------------------------ placement (seed mailboxes over IMAP)

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

/** Accepted messages of a plan to these mailboxes that have no placement row yet, oldest first. */
export async function pendingPlacements(db: Db, plan: string, mailboxes: readonly string[]): Promise<PendingPlacement[]> {
  if (mailboxes.length === 0) return [];
  return db.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
    .leftJoin('placements', 'placements.message_id', 'messages.id')
    .select(['messages.id', 'messages.lane_id', 'messages.day', 'messages.recipient', 'messages.message_id', 'messages.created_at', 'messages.finished_at'])
    .where('lanes.plan', '=', plan).where('messages.status', '=', 'accepted')
    .where('messages.recipient', 'in', [...mailboxes]).where('placements.id', 'is', null)
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
 * provider's `maxSpamRate` upwards, all in one transaction. A message that
 * already has a placement is skipped, so a batch may be written twice.
 */
export async function recordPlacements(
  db: Db, plan: string, records: readonly PlacementRecord[], maxSpamRate: (provider: string) => number,
): Promise<{ written: number; crossings: SpamCrossing[] }> {
  if (records.length === 0) return { written: 0, crossings: [] };
  return db.transaction().execute(async (trx) => {
    const keyOf = (laneId: number, day: string) => `${laneId}|${day}`;
    const before = new Map<string, { inbox: number; spam: number }>();
    let written = 0;
    for (const r of records) {
      const key = keyOf(r.laneId, r.day);
      if (!before.has(key)) {
        const row = await trx.selectFrom('lane_days').select(['inbox', 'spam']).where('lane_id', '=', r.laneId).where('day', '=', r.day).executeTakeFirst();
        before.set(key, { inbox: row?.inbox ?? 0, spam: row?.spam ?? 0 });
      }
      const inserted = await trx.insertInto('placements').values({
        message_id: r.messageId, lane_id: r.laneId, day: r.day, mailbox: r.mailbox, folder: r.folder, placement: r.placement,
        arrived_after_ms: r.arrivedAfterMs, checked_at: r.checkedAt, engage_at: r.engageAt, engaged_at: null, engaged: null,
      }).onConflict((oc) => oc.column('message_id').doNothing()).executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) continue;
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
      const rateOf = (x: { inbox: number; spam: number }) => (x.inbox + x.spam > 0 ? x.spam / (x.inbox + x.spam) : 0);
      const rate = rateOf(row);
      if (rate > threshold && rateOf(was) <= threshold) {
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
    .orderBy('placements.engage_at').limit(limit).execute();
  return rows.filter((r): r is DueEngagement => r.folder !== null && r.placement !== 'missing');
}

/** Marks a placement's engagement done; `done` lists what was done ("read,flag,move", or "none: <why>"). */
export async function markEngaged(db: Db, placementId: number, done: string, now: number): Promise<void> {
  await db.updateTable('placements').set({ engaged_at: now, engaged: done }).where('id', '=', placementId).execute();
}

export type EventRow = Selectable<Database['events']>;

/** A plan's events in the order they happened (simulate, reports); `kinds` filters. */
export function listEvents(db: Db, plan: string, options: { kinds?: readonly string[] } = {}): Promise<EventRow[]> {
  let q = db.selectFrom('events').selectAll().where('plan', '=', plan);
  if (options.kinds && options.kinds.length > 0) q = q.where('kind', 'in', [...options.kinds]);
  return q.orderBy('at').orderBy('id').execute();
}

// ---------------------------------------------------------------- DNSBL and alerts

/** One DNSBL answer to record (dnsbl_results). */
export interface DnsblResultInput {
  readonly ip: string;
  readonly zone: string;
  readonly status: 'listed' | 'clear' | 'error' | 'unknown';
  readonly answer: string | null;
  readonly meaning: string | null;
  readonly txt: string | null;
}

/** Records the answers of one DNSBL pass, all at `at`. */
export async function recordDnsblResults(db: Db, rows: readonly DnsblResultInput[], at: number): Promise<void> {
  if (rows.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (const chunk of chunks(rows, 200)) {
      await trx.insertInto('dnsbl_results').values(chunk.map((r) => ({ at, ip: r.ip, zone: r.zone, status: r.status, answer: r.answer, meaning: r.meaning, txt: r.txt }))).execute();
    }
  });
}

/**
 * The last definitive answer (listed or clear) per IP and zone: what a new
 * answer is compared with to see a listing appear or go. Errors and unknowns
 * are skipped, so a flaky resolver never looks like a de-listing.
 */
export function lastDnsblVerdicts(db: Db, ips: readonly string[]) {
  if (ips.length === 0) return Promise.resolve([]);
  return db.selectFrom('dnsbl_results').selectAll().where('id', 'in', (eb) => eb.selectFrom('dnsbl_results')
    .select((e) => e.fn.max('id').as('id')).where('status', 'in', ['listed', 'clear']).where('ip', 'in', [...ips]).groupBy(['ip', 'zone']))
    .orderBy('ip').orderBy('zone').execute();
}

/** The most recent answers per IP and zone, whatever their status (status displays). */
export function latestDnsblResults(db: Db, ips: readonly string[]) {
  if (ips.length === 0) return Promise.resolve([]);
  return db.selectFrom('dnsbl_results').selectAll().where('id', 'in', (eb) => eb.selectFrom('dnsbl_results')
    .select((e) => e.fn.max('id').as('id')).where('ip', 'in', [...ips]).groupBy(['ip', 'zone']))
    .orderBy('ip').orderBy('zone').execute();
}

/** The latest event that changed a lane's state (who paused it, and when). */
export function lastStateEvent(db: Db, laneId: number) {
  return db.selectFrom('events').selectAll().where('lane_id', '=', laneId).where('to_state', 'is not', null)
    .orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/** The latest event of one kind for an IP of a plan. */
export function lastIpEvent(db: Db, plan: string, ip: string, kind: string) {
  return db.selectFrom('events').selectAll().where('plan', '=', plan).where('ip', '=', ip).where('kind', '=', kind)
    .orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/** Events of a plan after an id (or, without one, at or after an instant), oldest first. */
export function eventsAfter(db: Db, plan: string, after: { id: number } | { at: number }, limit: number) {
  let q = db.selectFrom('events').selectAll().where('plan', '=', plan);
  q = 'id' in after ? q.where('id', '>', after.id) : q.where('at', '>=', after.at);
  return q.orderBy('id').limit(limit).execute();
}

// ---------------------------------------------------------------- ops: metrics and report

/** Attempts per lane and outcome over a plan's whole run (Prometheus counters). */
export async function attemptOutcomeCounts(db: Db, plan: string): Promise<Array<{ lane_id: number; outcome: Outcome; n: number }>> {
  const rows = await db.selectFrom('attempts').innerJoin('lanes', 'lanes.id', 'attempts.lane_id')
    .select(['attempts.lane_id', 'attempts.outcome']).select((eb) => eb.fn.countAll<number>().as('n'))
    .where('lanes.plan', '=', plan).groupBy(['attempts.lane_id', 'attempts.outcome']).execute();
  return rows.map((r) => ({ lane_id: r.lane_id, outcome: r.outcome, n: Number(r.n) }));
}

/** Every DNSBL answer for these IPs, oldest first (report history). */
export function dnsblHistory(db: Db, ips: readonly string[]) {
  if (ips.length === 0) return Promise.resolve([]);
  return db.selectFrom('dnsbl_results').select(['at', 'ip', 'zone', 'status'])
    .where('ip', 'in', [...ips]).orderBy('at').orderBy('id').execute();
}

/** Every lane's days with their decisions (the launch forecast's input), from a covering index. */
export function laneHistory(db: Db, plan: string): Promise<Array<{ ip: string; provider: string; day: string; decision: string | null }>> {
  return db.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
    .select(['lanes.ip', 'lanes.provider', 'lane_days.day', 'lane_days.decision']).where('lanes.plan', '=', plan).execute();
}

/** A lane's decided days, oldest first (the pace the launch forecast projects). */
export function laneDecisions(db: Db, laneId: number): Promise<Array<{ day: string; decision: string | null }>> {
  return db.selectFrom('lane_days').select(['day', 'decision']).where('lane_id', '=', laneId).orderBy('day').execute();
}

/**
 * The newest event id: every lane state change, by any process, writes an
 * event, so the daemon re-reads lanes only when this moves (O(1): rowid max).
 */
export async function lastEventId(db: Db): Promise<number> {
  const r = await db.selectFrom('events').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
  return Number(r?.id ?? 0);
}

/** When the earliest deferred message is due again, or null when none waits. */
export async function nextRetryDue(db: Db): Promise<number | null> {
  const r = await db.selectFrom('messages').select((eb) => eb.fn.min('next_attempt_at').as('at')).where('status', '=', 'deferred').executeTakeFirst();
  return r?.at === null || r?.at === undefined ? null : Number(r.at);
}
