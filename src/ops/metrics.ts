/**
 * Prometheus metrics and a health check over HTTP, for the daemon's process.
 *
 * Every figure is read from the database when Prometheus scrapes (lanes,
 * lane_days, messages, attempts, dnsbl_results), so the daemon needs no hooks:
 * the one live input is `lastTick()`. Off unless the plan sets
 * `metrics.listen`; plan loading refuses a non-loopback address unless
 * `metrics.allow_remote: true`, because the labels name the sending IPs,
 * providers and lane states.
 *
 *   GET /metrics   Prometheus text format
 *   GET /healthz   200 when the last scheduling pass is recent, 503 otherwise
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Plan } from '../plan/types.js';
import { localTime } from '../schedule/calendar.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { WarmupError } from '../util/errors.js';
import { joinHostPort } from '../util/host-port.js';

export interface MetricsServerOptions {
  readonly plan: Plan;
  readonly store: Store;
  /** Instant (clock ms) of the daemon's last scheduling pass; 0 or NaN before the first. */
  readonly lastTick: () => number;
  readonly clock: Clock;
  /** Where to listen; default the plan's `metrics.listen`. Port 0 picks a free port. */
  readonly listen?: { readonly host: string; readonly port: number };
  /**
   * /healthz turns 503 when the last tick is older than this (clock ms;
   * default 60 s). With an accelerated clock pass a multiple of tick × speed.
   */
  readonly staleAfterMs?: number;
  /** Node process metrics (memory, CPU, event loop lag); default true. */
  readonly processMetrics?: boolean;
}

export interface MetricsServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

/** Lane-day figures exported for the current plan-local day, in lane_days column names (routed*: real mail through Postfix, counted in sent, accepted... too). */
const TODAY_FIGURES = ['target', 'sent', 'accepted', 'deferred', 'bounced', 'failed', 'expired', 'inbox', 'spam', 'missing', 'routed', 'routed_accepted', 'routed_deferred', 'routed_bounced', 'routed_failed'] as const;
const STATES = ['active', 'suspended', 'paused'] as const;

/** One read of the database, shared by every collector of a scrape so the figures agree. */
interface Snapshot {
  readonly lanes: Awaited<ReturnType<Store['loadLanes']>>;
  readonly attempts: Awaited<ReturnType<Store['attemptOutcomeCounts']>>;
  readonly queues: Awaited<ReturnType<Store['queueCounts']>>;
  readonly today: Awaited<ReturnType<Store['laneDays']>>;
  readonly dnsbl: Awaited<ReturnType<Store['latestDnsblResults']>>;
  /** A fleet's IP leases (which daemon sends from which IP) and the wall clock they are read at. */
  readonly leases?: Awaited<ReturnType<Store['ipLeases']>>;
  readonly realNow?: number;
  readonly now: number;
  readonly lastTick: number;
}

async function readSnapshot(o: MetricsServerOptions): Promise<Snapshot> {
  const now = o.clock.now();
  const [lanes, attempts, queues, today, dnsbl, leases] = await Promise.all([
    o.store.loadLanes(o.plan.name),
    o.store.attemptOutcomeCounts(o.plan.name),
    o.store.queueCounts(o.plan.name),
    o.store.laneDays(o.plan.name, localTime(now, o.plan.timezone).date),
    o.store.latestDnsblResults(o.plan.ips.map((i) => i.address)),
    o.store.ipLeases(o.plan.name),
  ]);
  return { lanes, attempts, queues, today, dnsbl, leases, realNow: Date.now(), now, lastTick: o.lastTick() };
}

/** Prometheus text exposition (format 0.0.4): a family's header. */
function header(name: string, type: 'counter' | 'gauge', help: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
}

function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * warmup's own metrics for one snapshot, as Prometheus text. Written directly
 * (the labels are known and every series is set from the snapshot each time)
 * rather than through prom-client's label hashing, which cost most of a scrape
 * of 512 lanes (about 16,000 series). Exported for tests and for embedding.
 */
export function warmupMetricsText(s: Snapshot): string {
  // Each lane's `ip="..",provider=".."` once.
  const labelsOf = new Map<number, string>();
  const laneLabels = (l: { ip: string; provider: string }) => `ip="${escapeLabel(l.ip)}",provider="${escapeLabel(l.provider)}"`;
  for (const l of s.lanes) labelsOf.set(l.id, laneLabels(l));
  let out = header('warmup_attempts_total', 'counter', 'SMTP delivery attempts by lane and outcome (accepted, deferred, bounced, network, timeout, tls, protocol, dns, interrupted).');
  for (const a of s.attempts) {
    const l = labelsOf.get(a.lane_id);
    if (l) out += `warmup_attempts_total{${l},outcome="${escapeLabel(a.outcome)}"} ${formatValue(a.n)}\n`;
  }
  const perLane = (name: string, help: string, value: (l: Snapshot['lanes'][number]) => number): void => {
    out += header(name, 'gauge', help);
    for (const l of s.lanes) out += `${name}{${labelsOf.get(l.id)!}} ${formatValue(value(l))}\n`;
  };
  perLane('warmup_lane_stage', 'Ramp stage a lane has reached (sending days ramped).', (l) => l.stage);
  out += header('warmup_lane_state', 'gauge', '1 for the state a lane is in (active, suspended, paused), 0 for the others.');
  for (const l of s.lanes) for (const st of STATES) out += `warmup_lane_state{${labelsOf.get(l.id)!},state="${st}"} ${l.state === st ? 1 : 0}\n`;
  perLane('warmup_lane_rate_factor', 'Share of the planned sending rate in force (rules may cut it).', (l) => l.rate_factor);
  perLane('warmup_retry_queue', 'Deferred messages waiting for their retry, per lane.', (l) => s.queues.get(l.id)?.retries ?? 0);
  perLane('warmup_in_flight', 'Messages being attempted now, per lane.', (l) => s.queues.get(l.id)?.inFlight ?? 0);
  out += header('warmup_lane_today', 'gauge', `Today's (plan time zone) lane-day figures: ${TODAY_FIGURES.join(', ')}.`);
  for (const d of s.today) {
    const l = labelsOf.get(d.lane_id) ?? laneLabels(d);
    for (const f of TODAY_FIGURES) out += `warmup_lane_today{${l},figure="${f}"} ${formatValue(Number(d[f]))}\n`;
  }
  out += header('warmup_dnsbl_listed', 'gauge', '1 when the newest answer of the zone lists the IP, 0 otherwise (clear, error, unknown).');
  for (const r of s.dnsbl) out += `warmup_dnsbl_listed{ip="${escapeLabel(r.ip)}",zone="${escapeLabel(r.zone)}"} ${r.status === 'listed' ? 1 : 0}\n`;
  out += header('warmup_dnsbl_checked_timestamp_seconds', 'gauge', 'When the zone last answered for the IP (unix seconds).');
  for (const r of s.dnsbl) out += `warmup_dnsbl_checked_timestamp_seconds{ip="${escapeLabel(r.ip)}",zone="${escapeLabel(r.zone)}"} ${formatValue(r.at / 1000)}\n`;
  out += header('warmup_last_tick_timestamp_seconds', 'gauge', 'When the daemon last ran a scheduling pass (unix seconds, daemon clock; 0 before the first).');
  out += `warmup_last_tick_timestamp_seconds ${formatValue(validTick(s.lastTick) ? s.lastTick / 1000 : 0)}\n`;
  out += header('warmup_last_tick_age_seconds', 'gauge', 'Seconds since the last scheduling pass (daemon clock); absent before the first.');
  if (validTick(s.lastTick)) out += `warmup_last_tick_age_seconds ${formatValue((s.now - s.lastTick) / 1000)}\n`;
  // A fleet (any host's daemon serves the whole plan): who sends from each IP, and whether it still heartbeats.
  const leases = s.leases ?? [];
  out += header('warmup_ip_attended', 'gauge', '1 while the daemon holding the IP\'s lease heartbeats, 0 once reported unattended (labels: the IP and the host holding it).');
  for (const l of leases) out += `warmup_ip_attended{ip="${escapeLabel(l.ip)}",host="${escapeLabel(l.host)}"} ${l.unattendedAt === null ? 1 : 0}\n`;
  out += header('warmup_ip_heartbeat_age_seconds', 'gauge', 'Real seconds since the daemon holding the IP\'s lease last heartbeat.');
  for (const l of leases) out += `warmup_ip_heartbeat_age_seconds{ip="${escapeLabel(l.ip)}",host="${escapeLabel(l.host)}"} ${formatValue(Math.max(0, ((s.realNow ?? s.now) - l.heartbeatAt) / 1000))}\n`;
  return out;
}

const validTick = (t: number): boolean => Number.isFinite(t) && t > 0;

/**
 * Starts the HTTP endpoint. Resolves once listening; rejects with
 * WarmupError METRICS_OFF (no address) or METRICS_LISTEN (cannot bind).
 *
 * @example
 * const m = await startMetricsServer({ plan, store, clock, lastTick: () => daemon.lastTick });
 * // ... on shutdown:
 * await m.close();
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const listen = o.listen ?? o.plan.metrics;
  if (!listen) throw new WarmupError('METRICS_OFF', 'no metrics address: set metrics.listen in the plan');
  const staleAfterMs = o.staleAfterMs ?? 60_000;
  // prom-client only for the Node process metrics (memory, CPU, event loop lag).
  const registry = new Registry();
  if (o.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const scrape = async (): Promise<string> => {
    const [snapshot, process] = await Promise.all([readSnapshot(o), registry.metrics()]);
    return warmupMetricsText(snapshot) + process;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    if (path === '/metrics') return send(res, 200, registry.contentType, await scrape());
    if (path === '/healthz') {
      const last = o.lastTick();
      const ageMs = validTick(last) ? o.clock.now() - last : null;
      const ok = ageMs !== null && ageMs <= staleAfterMs;
      const body = { status: ok ? 'ok' : 'stale', lastTick: validTick(last) ? new Date(last).toISOString() : null, ageMs, staleAfterMs };
      return send(res, ok ? 200 : 503, 'application/json', `${JSON.stringify(body)}\n`);
    }
    return send(res, 404, 'text/plain', 'not found: try /metrics or /healthz\n');
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => send(res, 500, 'text/plain', `scrape failed: ${(e as Error).message}\n`));
  });
  // Keep-alive connections from Prometheus must not hold close() up.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new WarmupError('METRICS_LISTEN', `cannot listen on ${joinHostPort(listen.host, listen.port)}: ${e.code ?? e.message}`, { cause: e })));
    server.listen(listen.port, listen.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    address: Object.freeze({ host: addr.address, port: addr.port }),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      registry.clear();
    }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  if (res.headersSent) { res.end(); return; }
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
