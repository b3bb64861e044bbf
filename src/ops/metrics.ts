/**
 * Prometheus metrics and a health check over HTTP, for the daemon's process.
 *
 * Every figure is read from the store when Prometheus scrapes (lanes with
 * today's lane_days row, the running attempt counts of lane_outcomes, queued
 * messages, DNSBL answers, a fleet's IP leases), so the daemon needs no hooks
 * and any daemon of a fleet shows the whole plan: the one live input is
 * `lastTick()`. The text is written by ./metrics-text.ts. Off unless the plan sets
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
import { MetricsWriter, validTick, type Snapshot } from './metrics-text.js';

export { warmupMetricsText, type Snapshot } from './metrics-text.js';

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

async function readSnapshot(o: MetricsServerOptions): Promise<Snapshot> {
  const now = o.clock.now();
  const [lanes, attempts, queues, dnsbl, leases] = await Promise.all([
    o.store.laneGauges(o.plan.name, localTime(now, o.plan.timezone).date),
    o.store.attemptOutcomeCounts(o.plan.name),
    o.store.queueCounts(o.plan.name),
    o.store.latestDnsblResults(o.plan.ips.map((i) => i.address)),
    o.store.ipLeases(o.plan.name),
  ]);
  return { lanes, attempts, queues, dnsbl, leases, realNow: Date.now(), now, lastTick: o.lastTick() };
}

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
  const writer = new MetricsWriter();
  const scrape = async (): Promise<Buffer> => {
    const [snapshot, process] = await Promise.all([readSnapshot(o), registry.metrics()]);
    return writer.write(snapshot, process);
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

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  if (res.headersSent) { res.end(); return; }
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
