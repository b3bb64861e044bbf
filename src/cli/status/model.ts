/**
 * What `warmup status` shows, as data: one row per lane with the day's figures, the queue, the
 * replies and the launch forecast, then the filters an operator narrows it with. Pure: the
 * command reads the store and passes everything in.
 */
import type { Plan } from '../../plan/types.js';
import type { Forecast, LaneForecast } from '../../policy/forecast.js';
import type { LaneDayRow, LaneRow } from '../../store/schema.js';
import type { HoldView } from '../../store/holds.js';
import type { LastReply, LaneQueue, ReplyCount } from '../../store/replies.js';

/** The day's counters shown wherever figures are (status, simulate, report). */
export interface Figures {
  target: number;
  /** Messages started that day (first tries): seed sends and routed mail together. */
  sent: number;
  /** Of those, real mail Postfix delivered through the lane (read from its log). */
  routed: number;
  /** Routed messages accepted by the receiving MX. */
  routedAccepted: number;
  accepted: number;
  /** 4xx answers about the IP (they count against the lane). */
  deferred: number;
  /** 4xx answers about one mailbox (full, over its own rate): not the IP's fault. */
  mailboxDeferred: number;
  bounced: number;
  /** Messages given up after retrying for delivery.retry.expire. */
  expired: number;
  /** Network, timeout, TLS, protocol, DNS failures. */
  failed: number;
  inFlight: number;
  /** Deferred messages waiting for their next try. */
  retries: number;
}

export const zeroFigures = (): Figures => ({ target: 0, sent: 0, routed: 0, routedAccepted: 0, accepted: 0, deferred: 0, mailboxDeferred: 0, bounced: 0, expired: 0, failed: 0, inFlight: 0, retries: 0 });

/**
 * Adds `r`'s figures to `t`, field by field (every field of zeroFigures: a test holds that):
 * written out, not looped over Object.keys, whose keyed reads of 512 lanes x 24 fields went
 * through V8's slowest (megamorphic) path in `warmup status`.
 */
export function addFigures(t: Figures, r: Figures): void {
  t.target += r.target; t.sent += r.sent; t.routed += r.routed; t.routedAccepted += r.routedAccepted;
  t.accepted += r.accepted; t.deferred += r.deferred; t.mailboxDeferred += r.mailboxDeferred; t.bounced += r.bounced;
  t.expired += r.expired; t.failed += r.failed; t.inFlight += r.inFlight; t.retries += r.retries;
}

export type Problem = 'paused' | 'suspended' | 'held' | 'behind' | 'failing' | 'flagged';

export interface StatusLane extends Figures {
  ip: string;
  provider: string;
  stage: number;
  state: LaneRow['state'];
  stateReason: string | null;
  /** Every hold on the lane: it sends again only once all are gone. */
  holds: HoldView[];
  decision: string | null;
  holdsInRow: number;
  flagged: boolean;
  rateFactor: number;
  maxConnections: number | null;
  inbox: number;
  spam: number;
  missing: number;
  queue: { oldestAt: number | null; nextRetryAt: number | null };
  /** Greylisting answers of the day (not deferrals) and the messages accepted on retry after them. */
  greylisted: number;
  greylistPassed: number;
  /** The day's bounces about the recipient (unknown user, mailbox full): list hygiene. */
  unknownUsers: number;
  lastReply: LastReply | null;
  /** The day's non-accepted replies, most frequent first (at most 3). */
  topReplies: ReplyCount[];
  forecast: Pick<LaneForecast, 'verdict' | 'readyOn' | 'pace' | 'launchTarget' | 'projectedVolume'> | null;
  problems: Problem[];
}

export interface LaneInputs {
  readonly plan: Plan;
  readonly lanes: readonly LaneRow[];
  readonly days: ReadonlyMap<number, LaneDayRow>;
  readonly queues: ReadonlyMap<number, LaneQueue>;
  readonly lastReplies: ReadonlyMap<number, LastReply>;
  readonly replies: ReadonlyMap<number, readonly ReplyCount[]>;
  readonly forecast: Forecast;
  readonly holds?: ReadonlyMap<number, readonly HoldView[]>;
}

/** One row per lane, in the plan's order (IPs, then providers). */
export function statusLanes(i: LaneInputs): StatusLane[] {
  const fc = new Map(i.forecast.lanes.map((l) => [`${l.ip}|${l.provider}`, l]));
  const ipOrder = new Map(i.plan.ips.map((p, n) => [p.address, n]));
  const provOrder = new Map(i.plan.providers.map((p, n) => [p.name, n]));
  const rows = i.lanes.map((l): StatusLane => {
    const d = i.days.get(l.id);
    const q = i.queues.get(l.id);
    const f = fc.get(`${l.ip}|${l.provider}`);
    const flagAfter = i.plan.providers.find((p) => p.name === l.provider)?.thresholds.flagAfterHolds ?? Infinity;
    const row: StatusLane = {
      ip: l.ip, provider: l.provider, stage: d?.stage ?? l.stage, state: l.state, stateReason: l.state_reason, holds: [...(i.holds?.get(l.id) ?? [])],
      decision: d?.decision ?? null, holdsInRow: l.holds_in_row, flagged: l.holds_in_row >= flagAfter,
      rateFactor: l.rate_factor, maxConnections: l.max_connections,
      target: d?.target ?? 0, sent: d?.sent ?? 0, routed: d?.routed ?? 0, routedAccepted: d?.routed_accepted ?? 0, accepted: d?.accepted ?? 0, deferred: d?.deferred ?? 0,
      mailboxDeferred: d?.mailbox_deferred ?? 0, bounced: d?.bounced ?? 0, expired: d?.expired ?? 0, failed: d?.failed ?? 0,
      inFlight: q?.inFlight ?? 0, retries: q?.waiting ?? 0, inbox: d?.inbox ?? 0, spam: d?.spam ?? 0, missing: d?.missing ?? 0,
      queue: { oldestAt: q?.oldestAt ?? null, nextRetryAt: q?.nextRetryAt ?? null },
      greylisted: d?.greylisted ?? 0, greylistPassed: d?.greylist_passed ?? 0, unknownUsers: d?.hygiene_bounced ?? 0,
      lastReply: i.lastReplies.get(l.id) ?? null,
      topReplies: [...(i.replies.get(l.id) ?? [])].slice(0, 3),
      forecast: f ? { verdict: f.verdict, readyOn: f.readyOn, pace: f.pace, launchTarget: f.launchTarget, projectedVolume: f.projectedVolume } : null,
      problems: [],
    };
    row.problems = problemsOf(row);
    return row;
  });
  return rows.sort((a, b) => (ipOrder.get(a.ip) ?? 0) - (ipOrder.get(b.ip) ?? 0) || (provOrder.get(a.provider) ?? 0) - (provOrder.get(b.provider) ?? 0));
}

/** Why a lane needs the operator: not active, held or backed off, behind for launch, failing, flagged. */
export function problemsOf(l: Pick<StatusLane, 'state' | 'decision' | 'forecast' | 'bounced' | 'expired' | 'failed' | 'flagged'>): Problem[] {
  const out: Problem[] = [];
  if (l.state === 'paused') out.push('paused');
  if (l.state === 'suspended') out.push('suspended');
  if (l.decision === 'hold' || l.decision === 'back_off' || l.decision === 'pause') out.push('held');
  if (l.forecast?.verdict === 'behind') out.push('behind');
  if (l.bounced + l.expired + l.failed > 0) out.push('failing');
  if (l.flagged) out.push('flagged');
  return out;
}

/** The filters of `warmup status` (each optional; all given must match). */
export interface StatusFilter {
  readonly ip?: string;
  readonly provider?: string;
  readonly state?: string;
  readonly problems?: boolean;
}

/** Values `--state` takes: the lane states, plus held/behind/failing/flagged. */
export const STATE_FILTERS = ['active', 'suspended', 'paused', 'held', 'behind', 'failing', 'flagged'] as const;

/**
 * Checks filter values against the plan: an unknown IP, provider or state is a usage error
 * (the message says which values exist), not an empty table.
 */
export function filterError(plan: Plan, f: StatusFilter): string | null {
  if (f.ip !== undefined && !plan.ips.some((i) => i.address === f.ip)) {
    return `--ip ${f.ip}: no such IP in plan "${plan.name}" (${listSome(plan.ips.map((i) => i.address))})`;
  }
  if (f.provider !== undefined && !plan.providers.some((p) => p.name === f.provider)) {
    return `--provider ${f.provider}: no such provider in plan "${plan.name}" (${plan.providers.map((p) => p.name).join(', ')})`;
  }
  if (f.state !== undefined && !(STATE_FILTERS as readonly string[]).includes(f.state)) {
    return `--state ${f.state}: must be one of ${STATE_FILTERS.join(', ')}`;
  }
  return null;
}

export function applyFilter(rows: readonly StatusLane[], f: StatusFilter): StatusLane[] {
  return rows.filter((r) => (f.ip === undefined || r.ip === f.ip)
    && (f.provider === undefined || r.provider === f.provider)
    && (f.state === undefined || r.state === f.state || (r.problems as string[]).includes(f.state))
    && (!f.problems || r.problems.length > 0));
}

/** Adds up figures by a key (per IP, per provider). */
export function totalsBy(rows: readonly StatusLane[], key: 'ip' | 'provider'): Record<string, Figures> {
  const out: Record<string, Figures> = {};
  for (const r of rows) addFigures(out[r[key]] ??= zeroFigures(), r);
  return out;
}

function listSome(values: readonly string[]): string {
  return values.length <= 6 ? values.join(', ') : `${values.slice(0, 5).join(', ')} ... ${values.at(-1)}, ${values.length} in all`;
}
