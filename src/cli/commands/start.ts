import { createDnsResolver } from '../../dns/resolver.js';
import { Daemon, type StopReason } from '../../daemon/daemon.js';
import { startMetricsServer } from '../../ops/metrics.js';
import { PlacementPoller } from '../../placement/poller.js';
import { createSmtpMailer } from '../../send/mailer.js';
import { openStore } from '../../store/open.js';
import { acceleratedClock, systemClock } from '../../util/clock.js';
import { ExitError } from '../../util/errors.js';
import { createLogger } from '../../util/log.js';
import { parse, planArg } from '../args.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

export const usage = `Usage: warmup start PLAN.yaml [--db PATH] [--speed N] [--from ISO-INSTANT] [--tick MS] [--log-level LEVEL]

Runs the warm-up: each sending day, spreads every lane's volume over the send
window, delivers directly from the lane's IP and records every SMTP answer in
the database. Runs until launch day (usually as a systemd service: see
\`warmup systemd\` in the README); SIGTERM or SIGINT stops it cleanly.

  --db PATH          database (default: the plan's store.path, else data/warmup.db)
  --speed N          run the clock N times faster than real time (tests, rehearsals)
  --from INSTANT     start the clock at this instant, e.g. 2026-12-01T07:00:00Z
  --tick MS          real milliseconds between scheduling passes (default 1000)
  --log-level LEVEL  trace, debug (one line per attempt), info (default), warn

Logs are JSON lines on stdout (pino).`;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    db: { type: 'string' }, speed: { type: 'string' }, from: { type: 'string' }, tick: { type: 'string' }, 'log-level': { type: 'string' },
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
  const { plan } = loadOrExit(file, io);
  const log = createLogger({ level }).child({ plan: plan.name });
  const clock = from === null && speed === 1 ? systemClock : acceleratedClock(from ?? Date.now(), speed);
  const resolver = createDnsResolver({ ...(plan.delivery.dnsServers.length ? { servers: plan.delivery.dnsServers } : {}) });
  const store = await openStore(values.db ?? plan.storePath);
  const mailer = createSmtpMailer({
    clock,
    timeouts: { connect: plan.delivery.timeouts.connectMs, greeting: plan.delivery.timeouts.greetingMs, socket: plan.delivery.timeouts.commandMs },
    pool: { maxConnections: plan.delivery.maxConnectionsPerMx, maxMessagesPerConnection: plan.delivery.messagesPerConnection },
    logger: log,
  });
  const daemon = new Daemon({ plan, db: store.db, mailer, resolver, clock, log, tickMs, speed });
  const onSignal = (signal: StopReason) => () => { void daemon.stop(signal); };
  process.once('SIGTERM', onSignal('SIGTERM'));
  process.once('SIGINT', onSignal('SIGINT'));
  // Seeds readable over IMAP: record where each message lands (never delays sending).
  const placement = plan.providers.some((p) => p.seeds.some((seed) => seed.imap)) ? new PlacementPoller({ plan, db: store.db, clock, log }) : null;
  await daemon.start();
  placement?.start();
  // /healthz calls a tick stale after ten ticks of clock time (at least a minute).
  const metrics = plan.metrics
    ? await startMetricsServer({ plan, db: store.db, clock, lastTick: () => daemon.lastTickAt, staleAfterMs: Math.max(60_000, tickMs * speed * 10) })
    : null;
  const reason = await daemon.stopped;
  await metrics?.close();
  await placement?.stop();
  await store.close();
  log.flush();
  return reason === 'error' ? 1 : 0;
}
