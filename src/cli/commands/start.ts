import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createDnsResolver } from '../../dns/resolver.js';
import { canBind } from '../../dns/preflight-ip.js';
import { describeHolders, FleetMember, STALE_HEARTBEATS, wantedIps } from '../../daemon/fleet.js';
import { isHostname } from '../../plan/ip.js';
import { ALL_SERVICES, createRuntime } from '../../daemon/runtime.js';
import { DnsblMonitor } from '../../dns/dnsbl-monitor.js';
import { runPreflight } from '../../dns/preflight.js';
import { renderPreflight } from './check.js';
import { LEASE_FRESH_MS } from '../../store/copy-plan.js';
import { openStoreFor } from '../../store/select.js';
import { acceleratedClock, manualClock, systemClock, type Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import type { Store } from '../../store/store.js';
import { ExitError, WarmupError } from '../../util/errors.js';
import { createLogger } from '../../util/log.js';
import { pidAlive } from '../../util/pid.js';
import { parse, planArg } from '../args.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

export const usage = `Usage: warmup start PLAN.yaml [--db PATH|URL] [--host NAME] [--speed N] [--from ISO-INSTANT] [--force] [--tick MS] [--log-level LEVEL]

Runs the warm-up: each sending day, spreads every lane's volume over the send
window, delivers directly from the lane's IP and records every SMTP answer in
the database. Runs until launch day (usually as a systemd service: see
\`warmup systemd\` in the README); SIGTERM or SIGINT stops it cleanly.

Before anything is written it runs the preflight of \`warmup check\` (without
the DNSBL part): a failure refuses the start (exit 2) unless --force. Then it
checks every IP against the DNSBLs, so a listed IP is paused before it sends,
and keeps checking every dnsbl.interval.

  --db PATH|URL      database file or postgres:// URL (default: the plan's store:
                     store.url, store.path, else data/warmup.db in the plan's folder)
  --host NAME        this daemon's name in a fleet (several hosts, one plan, one
                     database): it sends from the IPs the plan assigns to NAME
                     (ips[].host) and those assigned to no host that it can bind
                     (default: the machine's host name)
  --heartbeat MS     real milliseconds between IP lease heartbeats (default 5000,
                     at most 30000): a daemon silent for 1.5 of its heartbeats is
                     reported and replaced
  --force            start even when the preflight fails
  --speed N          run the clock N times faster than real time (tests, rehearsals)
  --from INSTANT     start the clock at this instant, e.g. 2026-12-01T07:00:00Z
  --tick MS          real milliseconds between scheduling passes (default 1000)
  --log-level LEVEL  trace, debug (one line per attempt), info (default), warn

Logs are JSON lines on stdout (pino).`;

/** Real ms between IP lease heartbeats (a lease silent for 1.5 of them is taken over). */
const LEASE_HEARTBEAT_MS = 5_000;
/** The longest --heartbeat: a running daemon's leases then never look older than LEASE_FRESH_MS (store copy's check). */
const MAX_HEARTBEAT_MS = LEASE_FRESH_MS / 2;

/**
 * The running fleet's (accelerated) clock, for a daemon joining it at the same --speed: every
 * daemon of a rehearsal then agrees on the plan time (its --from is ignored). Null when there is
 * none to join (no other live daemon, or a different speed).
 */
async function fleetClock(store: Store, plan: string, o: { from: number | null; speed: number; fleetRuns: boolean }, log: Logger): Promise<Clock | null> {
  if ((o.from === null && o.speed === 1) || !o.fleetRuns) return null;
  const run = await store.lastRun(plan);
  if (!(run && run.ended_at === null && run.real_started_at !== null && run.speed === o.speed)) return null;
  const now = await store.daemonNow(plan, Date.now());
  log.info({ at: new Date(now).toISOString(), speed: o.speed }, 'joined the running fleet\'s clock (--from is ignored)');
  return acceleratedClock(now, o.speed);
}

/** The daemon's own clock: the wall clock, or accelerated from the start instant. */
function startClock(o: { from: number | null; speed: number; startAt: number }): Clock {
  if (o.from === null && o.speed === 1) return systemClock;
  return acceleratedClock(o.startAt, o.speed);
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    db: { type: 'string' }, host: { type: 'string' }, heartbeat: { type: 'string' }, speed: { type: 'string' }, from: { type: 'string' }, tick: { type: 'string' }, 'log-level': { type: 'string' },
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
  const heartbeatMs = values.heartbeat === undefined ? LEASE_HEARTBEAT_MS : Number(values.heartbeat);
  // At most 30 s: `warmup store copy` takes a lease renewed within 60 s for a running daemon.
  if (!(heartbeatMs >= 100 && heartbeatMs <= MAX_HEARTBEAT_MS)) { io.err(`warmup start: --heartbeat must be between 100 and ${MAX_HEARTBEAT_MS} (ms; got ${values.heartbeat})`); throw new ExitError(2); }
  const host = (values.host ?? hostname()).toLowerCase();
  if (!isHostname(host)) { io.err(`warmup start: --host must be a host name (got "${host}")`); throw new ExitError(2); }
  const level = values['log-level'] ?? io.env.WARMUP_LOG_LEVEL ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error'].includes(level)) { io.err(`warmup start: unknown --log-level ${level}`); throw new ExitError(2); }

  // Everything that can refuse the start happens before the database is touched.
  const { plan } = loadOrExit(file, io, { secrets: 'load' });
  const log = createLogger({ level }).child({ plan: plan.name, host });
  // A fleet: this host sends from the IPs the plan assigns to it and the floating ones it can bind.
  const wanted = await wantedIps(plan, host, async (ip) => (await canBind(ip)).ok);
  if (wanted.length === 0) {
    io.err(`warmup start: plan "${plan.name}" has no IP for host ${host}: none is assigned to it (ips[].host) and this host can bind none of the others`);
    throw new ExitError(2);
  }
  const resolver = createDnsResolver({ ...(plan.delivery.dnsServers.length ? { servers: plan.delivery.dnsServers } : {}) });
  const preflight = await runPreflight({ ...plan, ips: plan.ips.filter((ip) => wanted.includes(ip.address)) }, { resolver, connect: false, now: from ?? Date.now(), skipDnsbl: true });
  if (preflight.worst !== 'pass') io.err(renderPreflight(plan.name, preflight, ['warn', 'unknown', 'fail']));
  if (preflight.worst === 'fail') {
    if (!values.force) { io.err('warmup start: refused: the preflight failed (fix the items above, or start with --force)'); throw new ExitError(2); }
    log.warn({ failed: preflight.items.filter((i) => i.status === 'fail').map((i) => `${i.id} ${i.subject}`) }, 'starting despite a failed preflight (--force)');
  }

  const store = await openStoreFor({ plan, db: values.db, log: log.child({ component: 'store' }) });
  // Each IP is sent from by one daemon (its lease): a second one would re-queue the first one's sends.
  const others = (await store.ipLeases(plan.name)).filter((l) => l.unattendedAt === null && Date.now() - l.heartbeatAt <= (l.staleMs ?? heartbeatMs * STALE_HEARTBEATS)
    && !(l.host === host && !pidAlive(l.pid)));
  // Joining a running rehearsal: its clock from the first event on, so what this daemon records
  // before it sends (lease events such as an ips_attended answering an ips_unattended, the
  // start-up DNSBL check) follows the fleet's events in time, not its own --from.
  const joinedClock = await fleetClock(store, plan.name, { from, speed, fleetRuns: others.length > 0 }, log);
  const startAt = joinedClock?.now() ?? from ?? Date.now();
  // Events of the IP leases carry the plan clock once it runs (the start instant until then).
  let clock: Clock = joinedClock ?? manualClock(startAt);
  const fleet = new FleetMember({
    store, plan, host, pid: process.pid, token: randomBytes(16).toString('hex'), wanted, heartbeatMs, alive: pidAlive, clock: { now: () => clock.now(), realDelay: (ms) => clock.realDelay(ms) }, log,
  });
  const joined = await fleet.join();
  if (joined.taken.length === 0) {
    await store.close();
    io.err(`warmup start: plan "${plan.name}" is already running on ${describeHolders(joined.held, Date.now())}; stop it first`);
    throw new ExitError(1);
  }
  // Renewed from now on: what follows before the daemon starts (DNSBL checks) may take seconds.
  fleet.start();
  if (joined.held.length > 0) log.warn({ ips: joined.held.map((h) => h.ip), holders: describeHolders(joined.held, Date.now()) }, 'IPs held by another live daemon of the fleet: not sending from them');
  const mine = [...fleet.held];
  log.info({ ips: mine, store: store.location }, `sending from ${mine.length} of the plan's ${plan.ips.length} IPs`);
  // Alerts start from here, so what the start-up DNSBL check finds reaches the webhook too
  // (joining a running fleet: from where its alerts stand, so none falls between two daemons).
  const firstEventId = others.length > 0 ? (await store.fleetCursor(plan.name, 'alerts')) ?? await store.lastEventId() : await store.lastEventId();
  const lanes = plan.ips.flatMap((ip) => plan.providers.map((p) => ({ ip: ip.address, provider: p.name })));
  await store.ensureLanes(plan.name, lanes, startAt);
  // This daemon's IPs are checked before it sends from them (a listed IP is paused first); the
  // periodic passes over every IP are claimed, so exactly one daemon of a fleet makes each.
  // Stamped at the start instant: the (possibly accelerated) clock runs from here on.
  const claim = (now: number, intervalMs: number) => store.claimPeriodic(plan.name, 'dnsbl', now, intervalMs, host);
  await new DnsblMonitor({ plan, store, resolver, clock: manualClock(startAt), log }).checkAll(mine);
  await claim(startAt, plan.dnsbl.intervalMs);
  clock = joinedClock ?? startClock({ from, speed, startAt });

  const runtime = createRuntime({
    plan, store, resolver, clock, log, tickMs, speed, fleet, services: ALL_SERVICES, env: io.env, alertsAfterId: firstEventId, dnsblClaim: claim,
  });
  process.once('SIGTERM', () => void runtime.stop('SIGTERM'));
  process.once('SIGINT', () => void runtime.stop('SIGINT'));
  try {
    await runtime.start();
  } catch (e) {
    if (!(e instanceof WarmupError && e.code === 'POSTFIX_LISTEN')) throw e;
    await store.close();
    io.err(`warmup start: cannot listen on postfix.listen: ${e.message}`);
    return 1;
  }
  const reason = await runtime.done;
  await store.close();
  log.flush();
  const code = reason === 'error' ? 1 : 0;
  // Sends still under way at the drain deadline hold sockets open; they are recorded as interrupted
  // by the next start, so nothing is lost by not waiting for them: the process ends now.
  if (!runtime.daemon.drained) setTimeout(() => process.exit(code), 200).unref();
  return code;
}
