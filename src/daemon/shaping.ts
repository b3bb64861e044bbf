/**
 * Shaping and holds: how much a lane may send now, and what a rule or a
 * breaker changes about it. The sums are pure: a day's due sends spread over
 * its window, the catch-up bucket that lets a lane that fell behind catch up
 * at a bounded rate (no faster than a rule's rate cut), and the in-flight
 * caps. `Shaping` carries out rule actions: holds (suspend, pause), rate cuts,
 * one connection, resting mailboxes, and ends a lapsed rate cut.
 */
import type { Plan } from '../plan/types.js';
import type { RuleAction } from '../policy/rules.js';
import { dueCount, pace, type Pace } from '../schedule/due.js';
import type * as q from '../store/queries.js';
import type { Store } from '../store/store.js';
import { laneEvent, type Lane, type LaneBook, type OpenDay } from './lanes.js';

/**
 * True when no hold is on the lane at `now`: its summary state is active, or
 * every hold on it has lapsed (`state_until`, the last lapse, is past; the
 * daemon removes lapsed holds at its next tick). See src/store/holds.ts.
 * The one place that answers "may this lane take mail now?" for routed mail.
 */
export function laneTakesMail(row: Pick<q.LaneRow, 'state' | 'state_until'>, now: number): boolean {
  if (row.state === 'active') return true;
  return row.state_until !== null && row.state_until <= now;
}

/** In-flight cap of a lane: one connection's worth when a rule asked for one connection, scaled down by a rate cut. */
export function laneCap(row: Pick<q.LaneRow, 'max_connections' | 'rate_factor'>, maxConnectionsPerMx: number): number {
  const cap = row.max_connections ?? maxConnectionsPerMx * 4;
  return row.rate_factor < 1 ? Math.max(1, Math.floor(cap * row.rate_factor)) : cap;
}

/** True when a rule's rate cut or connection limit has run out at `now`. */
export function shapingLapsed(row: Pick<q.LaneRow, 'rate_until'>, now: number): boolean {
  return row.rate_until !== null && row.rate_until <= now;
}

/**
 * How many new sends a lane may start now, and its catch-up bucket after them. Due: the sends
 * of the day's target spread over its window up to `now`, less those sent. At most the lane's
 * and the daemon's free in-flight room; at most what the bucket holds, which refills at
 * `catchUpFactor` times the even rate (a rate cut in force replaces the factor: no catching up
 * faster than the cut). Nothing due leaves the bucket as it was.
 */
export function sendAllowance(s: {
  readonly laneId: number;
  readonly day: Pick<OpenDay, 'date' | 'target' | 'from' | 'until' | 'sent'>;
  readonly pace: Pace | null;
  readonly rateFactor: number;
  readonly catchUpFactor: number;
  /** Plan milliseconds one tick covers. */
  readonly tickMs: number;
  readonly laneRoom: number;
  readonly globalRoom: number;
}, now: number): { allowed: number; pace: Pace | null } {
  const { day } = s;
  const behind = dueCount(day.target, day.from, day.until, now, `${s.laneId}|${day.date}`) - day.sent;
  if (behind <= 0) return { allowed: 0, pace: s.pace };
  const paced = pace(s.pace, {
    target: day.target, windowMs: day.until - day.from,
    catchUpFactor: s.rateFactor < 1 ? s.rateFactor : s.catchUpFactor,
    tickMs: s.tickMs,
  }, now, Math.max(0, Math.min(behind, s.laneRoom, s.globalRoom)));
  return { allowed: paced.allowed, pace: paced.next };
}

/**
 * Retries go through the same limits as new sends: how many each active lane may claim, in
 * turn, within its free in-flight room and the daemon's remaining `room`.
 */
export function retryLimits(
  lanes: ReadonlyArray<{ readonly id: number; readonly active: boolean; readonly room: number }>,
  room: number,
): Array<{ laneId: number; limit: number }> {
  const out: Array<{ laneId: number; limit: number }> = [];
  for (const l of lanes) {
    if (!l.active || room <= 0) continue;
    const limit = Math.min(room, l.room);
    if (limit <= 0) continue;
    out.push({ laneId: l.id, limit });
    room -= limit;
  }
  return out;
}

/** The shaping a rule's `cut_rate` or `one_connection` sets: the stricter of the one in force and the new one, until the later end. */
export function shapingFor(
  a: Pick<RuleAction, 'action' | 'factor' | 'until'>,
  row: Pick<q.LaneRow, 'rate_factor' | 'rate_until'>,
  now: number,
): { rate_factor: number; rate_until: number } | { max_connections: number; rate_until: number } {
  const until = Math.max(row.rate_until ?? 0, a.until ?? now);
  return a.action === 'cut_rate' ? { rate_factor: Math.min(row.rate_factor, a.factor ?? 0.5), rate_until: until } : { max_connections: 1, rate_until: until };
}

/** Carries out rule actions on lanes and ends lapsed shaping; remembers resting mailboxes. */
export class Shaping {
  readonly #plan: Plan;
  readonly #store: Store;
  readonly #lanes: LaneBook;
  /** Seed mailboxes resting after a per-mailbox deferral, until when (plan time). */
  readonly #resting = new Map<string, number>();

  constructor(plan: Plan, store: Store, lanes: LaneBook) {
    this.#plan = plan;
    this.#store = store;
    this.#lanes = lanes;
  }

  /** In-flight cap of a lane now. */
  cap(lane: Lane): number {
    return laneCap(lane.row, this.#plan.delivery.maxConnectionsPerMx);
  }

  /** True while a mailbox rests after a rule's `slow_mailbox`. */
  resting(address: string, now: number): boolean {
    return (this.#resting.get(address) ?? 0) > now;
  }

  /** Ends a lapsed rate cut or connection limit: full rate again, and the catch-up bucket starts afresh. */
  async endLapsed(lane: Lane, now: number): Promise<void> {
    if (!shapingLapsed(lane.row, now)) return;
    const set = { rate_factor: 1, max_connections: null, rate_until: null };
    await this.#store.setLaneShaping(lane.row.id, set, now);
    await this.#store.addEvent(laneEvent(this.#plan.name, lane, now, { kind: 'shaping_lapsed', actor: 'daemon', cause: { rate_factor: lane.row.rate_factor, max_connections: lane.row.max_connections } }));
    lane.row = { ...lane.row, ...set };
    lane.pace = null;
  }

  /**
   * Carries out what a reply-pattern rule or a breaker decided; every event names the replies behind it
   * and their `source` (seed, or routed: real mail through Postfix), so alerts say which traffic it was.
   */
  async apply(a: RuleAction, lane: Lane, now: number, source: 'seed' | 'routed'): Promise<void> {
    const store = this.#store;
    const plan = this.#plan;
    const breaker = a.rule === 'circuit-breaker' || a.rule === 'rejection-breaker';
    const actor = breaker ? `policy:${a.rule}` : `rule:${a.rule}`;
    const cause = { rule: a.rule, reply: a.reply, ip: lane.ip.address, provider: lane.provider.name, evidence: a.evidence, source };
    const reason = `${a.rule}: ${a.reply.slice(0, 240)}`;
    const log = lane.log.child({ rule: a.rule, action: a.action });
    switch (a.action) {
      case 'suspend': case 'pause': case 'pause_ip': case 'pause_provider': case 'stop_all': {
        // A rule or a breaker adds or extends its own hold, with the replies behind it; it never replaces another actor's.
        const changed = await store.addHold(plan.name, a.scope, {
          kind: breaker ? 'breaker' : 'rule', actor, reason, until: a.until,
          eventKind: a.rule === 'rejection-breaker' ? 'rejection_breaker' : `rule_${a.action}`, cause, evidence: a.evidence,
        }, now);
        await this.#lanes.refresh(changed.map((c) => c.laneId));
        log.warn({ lanes: changed.length, until: a.until, reply: a.reply, evidence: a.evidence }, `${a.action} by ${breaker ? '' : 'rule '}${a.rule}`);
        return;
      }
      case 'cut_rate': case 'one_connection': {
        const set = shapingFor(a, lane.row, now);
        await store.setLaneShaping(lane.row.id, set, now);
        lane.row = { ...lane.row, ...set };
        await store.addEvent(laneEvent(plan.name, lane, now, { kind: `rule_${a.action}`, actor, cause: { ...cause, factor: a.factor, until: a.until } }));
        log.warn({ until: a.until, factor: a.factor, reply: a.reply }, `${a.action} by rule ${a.rule}`);
        return;
      }
      case 'slow_mailbox': {
        if (a.mailbox) this.#resting.set(a.mailbox, a.until ?? now);
        await store.addEvent(laneEvent(plan.name, lane, now, { kind: 'rule_slow_mailbox', actor, cause: { ...cause, mailbox: a.mailbox, until: a.until } }));
        log.info({ mailbox: a.mailbox, until: a.until }, `mailbox ${a.mailbox} rests (rule ${a.rule})`);
        return;
      }
    }
  }
}
