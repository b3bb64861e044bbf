import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createDnsResolver } from '../../dns/resolver.js';
import { AlertForwarder } from '../../alerts/forwarder.js';
import { Daemon, type StopReason } from '../../daemon/daemon.js';
import { DnsblMonitor } from '../../dns/dnsbl-monitor.js';
import { runPreflight } from '../../dns/preflight.js';
import * as q from '../../store/queries.js';
import { renderPreflight } from './check.js';
import { createSmtpMailer } from '../../send/mailer.js';
import { openStore } from '../../store/open.js';
import { acceleratedClock, manualClock, systemClock } from '../../util/clock.js';
import { ExitError } from '../../util/errors.js';
import { createLogger } from '../../util/log.js';
import { parse, planArg } from '../args.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

export const usage = `Usage: warmup start PLAN.yaml [--db PATH] [--speed N] [--from ISO-INSTANT] [--force] [--tick MS] [--log-level LEVEL]

Runs the warm-up: each sending day, spreads every lane's volume over the send
window, delivers directly from the lane's IP and records every SMTP answer in
the database. Runs until launch day (usually as a systemd service: see
\`warmup systemd\` in the README); SIGTERM or SIGINT stops it cleanly.

Before anything is written it runs the preflight of \`warmup check\` (without
the DNSBL part): a failure refuses the start (exit 2) unless --force. Then it
checks every IP against the DNSBLs, so a listed IP is paused before it sends,
and keeps checking every dnsbl.interval.

  --db PATH          database (default: the plan's store.path, else data/warmup.db
                     in the plan's folder)
  --force            start even when the preflight fails
  --speed N          run the clock N times faster than real time (tests, rehearsals)
  --from INSTANT     start the clock at this instant, e.g. 2026-12-01T07:00:00Z
  --tick MS          real milliseconds between scheduling passes (default 1000)
  --log-level LEVEL  trace, debug (one line per attempt), info (default), warn

Logs are JSON lines on stdout (pino).`;

/** Real ms between lease heartbeats, and after which a silent lease is taken over. */
const LEASE_HEARTBEAT_MS = 5_000;
const LEASE_STALE_MS = 30_000;

/** Whether a process of this host runs (signal 0 only checks; EPERM means it exists under another user). */
function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    db: { type: 'string' }, speed: { type: 'string' }, from: { type: 'string' }, tick: { type: 'string' }, 'log-level': { type: 'string' },
    force: { type: 'boolean' },
  }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const speed = values.speed === undefined ? 1 : Number(values.speed);
  if (!(speed > 0) || !Number.isFinite(speed)) { io.err(`warmup start: --speed must be a positive number (got ${values.speed})`); throw new ExitError(2); }
  const from = values.from === undefined ? null : Date.parse(values.from);
  if (from !== null && Number.isNaN(from)) { io.err(`warmup start: --from must be an ISO instant such as 2026-12-01T07:00:00Z (got ${values.from})`); throw new ExitError(2); }
  const tickMs = values.tick === undefined ? 1000 : Number(values.tick);
  if (!(tickMs >= 10)) { io.err('warmup start: --tick must be at least 10 (ms)'); throw new ExitError(2); }
  const level = values['log-level'] ?? io.env.WARMUP_LOG_LEVEL ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error'].includes(level)) { io.err(`warmup start: unknown --log-level ${level}`); throw new ExitError(2); }

  // Everything that can refuse the start happens before the database is touched.
  const { plan } = loadOrExit(file, io, { secrets: 'load' });
  const log = createLogger({ level }).child({ plan: plan.name });
  const resolver = createDnsResolver({ ...(plan.delivery.dnsServers.length ? { servers: plan.delivery.dnsServers } : {}) });
  const preflight = await runPreflight(plan, { resolver, connect: false, now: from ?? Date.now(), skipDnsbl: true });
  if (preflight.worst !== 'pass') io.err(renderPreflight(plan.name, preflight, ['warn', 'unknown', 'fail']));
  if (preflight.worst === 'fail') {
    if (!values.force) { io.err('warmup start: refused: the preflight failed (fix the items above, or start with --force)'); throw new ExitError(2); }
    log.warn({ failed: preflight.items.filter((i) => i.status === 'fail').map((i) => `${i.id} ${i.subject}`) }, 'starting despite a failed preflight (--force)');
  }

  const store = await openStore(values.db ?? plan.storePath);
  // One daemon per plan and database: a second one would re-queue the first one's sends.
  const token = randomBytes(16).toString('hex');
  const lease = await q.acquireLease(store.db, plan.name, { host: hostname(), pid: process.pid, token, now: Date.now(), staleMs: LEASE_STALE_MS, alive: pidAlive });
  if (!lease.ok) {
    await store.close();
    const ago = Math.round((Date.now() - lease.holder.heartbeatAt) / 1000);
    io.err(`warmup start: plan "${plan.name}" is already running on host ${lease.holder.host} as pid ${lease.holder.pid} (last heartbeat ${ago}s ago); stop it first`);
    throw new ExitError(1);
  }
  if (lease.takenOver) log.warn({ host: lease.takenOver.host, pid: lease.takenOver.pid, heartbeat: new Date(lease.takenOver.heartbeatAt).toISOString() }, 'took over the lease of a daemon that stopped without releasing it');
  // Alerts start from here, so what the start-up DNSBL check finds reaches the webhook too.
  const firstEventId = await q.lastEventId(store.db);
  const lanes = plan.ips.flatMap((ip) => plan.providers.map((p) => ({ ip: ip.address, provider: p.name })));
  await q.ensureLanes(store.db, plan.name, lanes, from ?? Date.now());
  // A listed IP is paused before anything sends. Stamped at the start instant: the
  // daemon's (possibly accelerated) clock only starts running once this is done.
  const startAt = from ?? Date.now();
  await new DnsblMonitor({ plan, db: store.db, resolver, clock: manualClock(startAt), log }).checkAll();

  const clock = from === null && speed === 1 ? systemClock : acceleratedClock(startAt, speed);
  const mailer = createSmtpMailer({
    clock,
    timeouts: { connect: plan.delivery.timeouts.connectMs, greeting: plan.delivery.timeouts.greetingMs, socket: plan.delivery.timeouts.commandMs },
    pool: { maxConnections: plan.delivery.maxConnectionsPerMx, maxMessagesPerConnection: plan.delivery.messagesPerConnection },
    logger: log,
  });
  const daemon = new Daemon({ plan, db: store.db, mailer, resolver, clock, log, tickMs, speed, lease: { token, heartbeatMs: LEASE_HEARTBEAT_MS } });
  let routing: import('../../postfix/service.js').PostfixRouting | null = null;
  // Stop answering Postfix first (it defers while warmup is down), then the daemon.
  const onSignal = (signal: StopReason) => () => { void (async () => { await routing?.stop(); await daemon.stop(signal); })(); };
  process.once('SIGTERM', onSignal('SIGTERM'));
  process.once('SIGINT', onSignal('SIGINT'));
  // Alerts forward events (pauses, listings, behind for launch) to the webhook without holding up sending.
  const alerts = plan.alerts.webhook ? new AlertForwarder({ plan, db: store.db, clock, log, env: io.env, afterId: firstEventId }) : null;
  const alertTimer = alerts ? setInterval(() => void alerts.poll(), Math.max(1000, tickMs)) : null;
  const dnsbl = new DnsblMonitor({ plan, db: store.db, resolver, clock, log });
  // Seeds readable over IMAP: record where each message lands (never delays sending).
  // (imapflow and prom-client are loaded only when the plan uses them: less memory for the daemon.)
  const placement = plan.providers.some((p) => p.seeds.some((seed) => seed.imap))
    ? new (await import('../../placement/poller.js')).PlacementPoller({ plan, db: store.db, clock, log })
    : null;
  await daemon.start({ firstTick: plan.postfix !== null });
  // Real mail through Postfix: same process, same lanes, same holds (loaded only when the plan routes mail).
  if (plan.postfix) {
    try {
      routing = await (await import('../../postfix/service.js')).startPostfixRouting({ plan, settings: plan.postfix, db: store.db, lanes: daemon, resolver, clock, log });
    } catch (e) {
      log.error({ err: e }, 'cannot answer Postfix (postfix.listen): stopping');
      await daemon.stop('error');
      await store.close();
      io.err(`warmup start: cannot listen on postfix.listen: ${(e as Error).message}`);
      return 1;
    }
  }
  dnsbl.start(plan.dnsbl.intervalMs);
  placement?.start();
  // /healthz calls a tick stale after ten ticks of clock time (at least a minute).
  const metrics = plan.metrics
    ? await (await import('../../ops/metrics.js')).startMetricsServer({ plan, db: store.db, clock, lastTick: () => daemon.lastTickAt, staleAfterMs: Math.max(60_000, tickMs * speed * 10) })
    : null;
  const reason = await daemon.stopped;
  await routing?.stop();
  await metrics?.close();
  await dnsbl.stop();
  await placement?.stop();
  if (alerts) {
    clearInterval(alertTimer!);
    await alerts.poll();
    await alerts.idle(5_000);
    alerts.stop();
  }
  await store.close();
  log.flush();
  const code = reason === 'error' ? 1 : 0;
  // Sends still under way at the drain deadline hold sockets open; they are recorded as interrupted
  // by the next start, so nothing is lost by not waiting for them: the process ends now.
  if (!daemon.drained) setTimeout(() => process.exit(code), 200).unref();
  return code;
}
