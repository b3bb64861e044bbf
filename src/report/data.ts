/**
 * Everything the HTML report shows, read from the database in one go.
 * `ReportData` is plain JSON-able data so `renderReport` stays pure and a
 * simulation (`warmup simulate --report`) can build it from its own store.
 */
import type { Plan } from '../plan/types.js';
import { launchReadiness, type Forecast } from '../policy/forecast.js';
import { daysBetween, localTime } from '../schedule/calendar.js';
import { previewPlan } from '../schedule/ramp.js';
import { readFleetView } from '../store/fleet-view.js';
import type { Store } from '../store/store.js';
import { reportFleet, type ReportFleet } from './fleet.js';

export interface ReportLaneDay {
  readonly day: string;
  readonly ip: string;
  readonly provider: string;
  readonly stage: number;
  readonly target: number;
  readonly sent: number;
  /** Of sent: real mail Postfix delivered through the lane; routedAccepted of accepted. */
  readonly routed: number;
  readonly routedAccepted: number;
  readonly accepted: number;
  readonly deferred: number;
  /** 4xx answers about one mailbox (not counted against the IP). */
  readonly mailboxDeferred: number;
  readonly bounced: number;
  readonly failed: number;
  readonly expired: number;
  /** First tries + retries: the denominator of the policy's rates. */
  readonly attempts: number;
  readonly inbox: number;
  readonly spam: number;
  readonly missing: number;
  readonly decision: string | null;
}

export interface ReportEvent {
  readonly at: number;
  /** Plan-local day of `at`. */
  readonly day: string;
  readonly ip: string | null;
  readonly provider: string | null;
  readonly kind: string;
  readonly actor: string;
  readonly to: string | null;
  /** The reason from the event's cause, when it has one. */
  readonly reason: string | null;
}

/** One IP x zone x day: the worst answer of the day. */
export interface ReportDnsblDay {
  readonly day: string;
  readonly ip: string;
  readonly zone: string;
  readonly status: 'listed' | 'clear' | 'error';
}

export interface ReportData {
  readonly plan: {
    readonly name: string;
    readonly timezone: string;
    readonly start: string;
    readonly launch: string;
    readonly ips: readonly string[];
    readonly providers: readonly string[];
    readonly zones: readonly string[];
  };
  /** When the report was made (epoch ms) and that instant's plan-local day. */
  readonly generatedAt: number;
  readonly today: string;
  /** The unadapted schedule, start to launch: volume per provider and per IP each day. */
  readonly planned: ReadonlyArray<{ readonly day: string; readonly launch: boolean; readonly perProvider: Readonly<Record<string, number>>; readonly perIp: Readonly<Record<string, number>> }>;
  readonly laneDays: readonly ReportLaneDay[];
  readonly lanes: ReadonlyArray<{ readonly ip: string; readonly provider: string; readonly stage: number; readonly state: string; readonly reason: string | null }>;
  readonly events: readonly ReportEvent[];
  readonly dnsbl: readonly ReportDnsblDay[];
  readonly forecast: Forecast;
  /** Which daemon sends from which IP, the fleet's takeovers, volume per host (see ./fleet.ts). */
  readonly fleet: ReportFleet;
}

const DNSBL_RANK = { listed: 2, error: 1, clear: 0 } as const;

/**
 * Reads the report's data for `plan` as of `now` (epoch ms, the plan clock);
 * `realNow` is the wall clock the fleet's heartbeats are aged against. Open the
 * database read-only (`openStore(path, { readonly: true })`): this only selects.
 */
export async function loadReportData(store: Store, plan: Plan, now: number, realNow: number): Promise<ReportData> {
  const today = localTime(now, plan.timezone).date;
  const ips = plan.ips.map((i) => i.address);
  const [rows, lanes, events, dnsbl, fleet] = await Promise.all([
    store.laneDays(plan.name), store.loadLanes(plan.name), store.listEvents(plan.name), store.dnsblHistory(ips), readFleetView(store, plan, realNow),
  ]);
  const laneRows: ReportLaneDay[] = rows.map((r) => ({
    day: r.day, ip: r.ip, provider: r.provider, stage: r.stage, target: r.target, sent: r.sent, routed: r.routed, routedAccepted: r.routed_accepted, accepted: r.accepted,
    deferred: r.deferred, mailboxDeferred: r.mailbox_deferred, bounced: r.bounced, failed: r.failed, expired: r.expired, attempts: r.sent + r.retries,
    inbox: r.inbox, spam: r.spam, missing: r.missing, decision: r.decision,
  }));
  const dayOf = (at: number) => localTime(at, plan.timezone).date;
  const worst = new Map<string, ReportDnsblDay>();
  for (const r of dnsbl) {
    const status = r.status === 'listed' ? 'listed' : r.status === 'clear' ? 'clear' : 'error';
    const e: ReportDnsblDay = { day: dayOf(r.at), ip: r.ip, zone: r.zone, status };
    const key = `${e.day}|${e.ip}|${e.zone}`;
    const before = worst.get(key);
    if (!before || DNSBL_RANK[status] > DNSBL_RANK[before.status]) worst.set(key, e);
  }
  const forecast = launchReadiness(
    plan,
    lanes.map((l) => ({ ip: l.ip, provider: l.provider, stage: l.stage, state: l.state })),
    rows.map((r) => ({ ip: r.ip, provider: r.provider, day: r.day, decision: r.decision })),
    now,
  );
  return {
    plan: {
      name: plan.name, timezone: plan.timezone, start: plan.start, launch: plan.launch, ips,
      providers: plan.providers.map((p) => p.name), zones: [...plan.dnsbl.zones],
    },
    generatedAt: now,
    today,
    planned: previewPlan(plan).map((d) => ({ day: d.date, launch: d.launch, perProvider: d.perProvider, perIp: d.perIp })),
    laneDays: laneRows,
    lanes: lanes.map((l) => ({ ip: l.ip, provider: l.provider, stage: l.stage, state: l.state, reason: l.state_reason })),
    events: events.map((e) => ({ at: e.at, day: dayOf(e.at), ip: e.ip, provider: e.provider, kind: e.kind, actor: e.actor, to: e.to_state, reason: reasonOf(e.cause) })),
    dnsbl: [...worst.values()].sort((a, b) => a.day.localeCompare(b.day) || a.ip.localeCompare(b.ip) || a.zone.localeCompare(b.zone)),
    forecast,
    fleet: reportFleet(plan, fleet, events, laneRows, realNow, dayOf),
  };
}

function reasonOf(cause: string): string | null {
  try {
    const c = JSON.parse(cause) as Record<string, unknown>;
    for (const k of ['reason', 'rule', 'reply', 'meaning']) if (typeof c[k] === 'string') return c[k] as string;
    return null;
  } catch {
    return null;
  }
}
