/**
 * The runtime: one place that wires what runs beside the daemon (the DNSBL
 * monitor, the placement poller, /metrics, the alert forwarder, Postfix
 * routing, a fleet's leases) around a daemon, starts them in order and shuts
 * them down in order. `warmup start`, `warmup simulate` and the test harness
 * build theirs here; what differs between them is what they pass in (the
 * store, the clock, the mailer and resolver, which services run).
 */
import { availableParallelism } from 'node:os';
import { AlertForwarder } from '../alerts/forwarder.js';
import { DnsblMonitor } from '../dns/dnsbl-monitor.js';
import type { Resolver } from '../dns/resolver.js';
import type { Plan } from '../plan/types.js';
import { createSmtpMailer, type Mailer } from '../send/mailer.js';
import type { SessionThread } from '../send/session-thread.js';
import type { Signer } from '../send/signing-pool.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { WarmupError } from '../util/errors.js';
import { startLoop, type Loop } from '../util/loop.js';
import type { Logger } from '../util/log.js';
import { Daemon, type DaemonOptions, type StopReason } from './daemon.js';
import type { FleetMember } from './fleet.js';

/** The services that run beside the daemon; each also needs the plan to ask for it. */
export interface RuntimeServices {
  /** DNSBL checks every `dnsbl.interval`. */
  readonly dnsbl?: boolean;
  /** IMAP placement polling, when a seed has `imap`. */
  readonly placement?: boolean;
  /** /metrics and /healthz, when the plan sets `metrics.listen`. */
  readonly metrics?: boolean;
  /** The alert webhook, when the plan sets `alerts.webhook`. */
  readonly alerts?: boolean;
  /** Answering Postfix (routing real mail), when the plan sets `postfix`. */
  readonly postfix?: boolean;
}

/** Everything on when the plan asks for it: `warmup start`. */
export const ALL_SERVICES: Required<RuntimeServices> = Object.freeze({ dnsbl: true, placement: true, metrics: true, alerts: true, postfix: true });
/** None: the daemon alone (simulation, tests of the daemon). */
export const NO_SERVICES: Required<RuntimeServices> = Object.freeze({ dnsbl: false, placement: false, metrics: false, alerts: false, postfix: false });

export interface RuntimeOptions extends Omit<DaemonOptions, 'mailer' | 'fleet'> {
  readonly resolver: Resolver;
  /** Default: SMTP from the plan's delivery settings (`smtpMailer`). */
  readonly mailer?: Mailer;
  /** Which services may run (default: none). */
  readonly services?: RuntimeServices;
  /** The daemon's place in a fleet: it sends from the IPs it holds; leases are renewed while running, released at shutdown. */
  readonly fleet?: FleetMember | null;
  /** Where the alert webhook's secret is looked up (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Alerts forward events after this id (default: from when the forwarder starts). */
  readonly alertsAfterId?: number;
  /** A fleet's claim of a periodic DNSBL pass (exactly one daemon makes each). */
  readonly dnsblClaim?: (now: number, intervalMs: number) => Promise<boolean>;
}

export interface Runtime {
  readonly daemon: Daemon;
  /**
   * Starts the daemon (recovery, lanes, the first tick when Postfix is
   * answered), then the fleet heartbeat, Postfix routing, the monitors and
   * /metrics. Throws WarmupError POSTFIX_LISTEN, after stopping the daemon,
   * when Postfix routing cannot listen, and METRICS_LISTEN when /metrics cannot.
   */
  start(options?: { ticker?: boolean }): Promise<void>;
  /** Stops answering Postfix first (it defers while warmup is down), then the daemon. */
  stop(reason: StopReason): Promise<void>;
  /** Resolves once the daemon has stopped and every service is shut down (the store stays open). */
  readonly done: Promise<StopReason>;
}

/**
 * The SMTP mailer a plan's delivery settings describe (`signer`: a DKIM signing pool of the caller's, e.g. one already started).
 * The SMTP sessions run in the session thread (`sessionThread` overrides) by default when that pays: see {@link sessionThreadPays}.
 */
export function smtpMailer(plan: Plan, clock: Clock, log?: Logger, signer?: Signer, sessionThread: boolean | SessionThread = sessionThreadPays(plan)): Mailer {
  return createSmtpMailer({
    sessionThread,
    clock,
    timeouts: { connect: plan.delivery.timeouts.connectMs, greeting: plan.delivery.timeouts.greetingMs, socket: plan.delivery.timeouts.commandMs },
    pool: { maxConnections: plan.delivery.maxConnectionsPerMx, maxMessagesPerConnection: plan.delivery.messagesPerConnection },
    ...(log ? { logger: log } : {}),
    ...(signer ? { signer } : {}),
  });
}

/**
 * Whether the SMTP sessions are better off in a thread of their own: on a
 * machine with more than one core, signed or not. Measured with the
 * throughput bench (2 cores, interleaved runs): unsigned, the thread sent
 * 35-55% more. RSA-signed, it cost 30% while the main thread still composed and
 * signed (the hand-overs main -> signer -> main -> session thread waited behind
 * the signers for a core). Since the session thread composes and signs itself
 * (on its own signing pool: only the fields cross), RSA-signed runs are the
 * same as with the sessions on the main thread within the noise (15 interleaved
 * pairs on the busy 2-core machine: ahead in 10, per-pair ratios 0.81-1.72,
 * the same CPU per message), with the main thread's CPU per signed message
 * about halved, leaving it to the daemon's ticks, policy and writes. The plan
 * no longer changes the answer; it stays a parameter for choices a plan may bring.
 */
export function sessionThreadPays(_plan: Plan): boolean {
  return availableParallelism() > 1;
}

/**
 * Wires a daemon and the services the plan asks for (and `services` allows).
 *
 * @example
 * const runtime = createRuntime({ plan, store, clock, log, resolver, tickMs: 1000, services: ALL_SERVICES });
 * process.once('SIGTERM', () => void runtime.stop('SIGTERM'));
 * await runtime.start();
 * const reason = await runtime.done;
 */
export function createRuntime(o: RuntimeOptions): Runtime {
  const { plan, store, clock, log } = o;
  const on = { ...NO_SERVICES, ...o.services };
  const fleet = o.fleet ?? null;
  const { services: _s, env: _e, alertsAfterId: _a, dnsblClaim: _c, fleet: _f, mailer: _m, ...daemonOptions } = o;
  const daemon = new Daemon({ ...daemonOptions, mailer: o.mailer ?? smtpMailer(plan, clock, log), fleet });
  const speed = o.speed ?? 1;
  const tickMs = o.tickMs ?? 1000;

  // Alerts forward events (pauses, listings, behind for launch) to the webhook without holding up sending.
  const alerts = on.alerts && plan.alerts.webhook
    ? new AlertForwarder({ plan, store, clock, log, ...(o.env ? { env: o.env } : {}), ...(o.alertsAfterId === undefined ? {} : { afterId: o.alertsAfterId }), ...(fleet ? { fleet: { host: fleet.host } } : {}) })
    : null;
  const dnsbl = on.dnsbl ? new DnsblMonitor({ plan, store, resolver: o.resolver, clock, log, ...(o.dnsblClaim ? { claim: o.dnsblClaim } : {}) }) : null;
  let alertLoop: Loop | null = null;
  let placement: import('../placement/poller.js').PlacementPoller | null = null;
  let routing: import('../postfix/service.js').PostfixRouting | null = null;
  let metrics: import('../ops/metrics.js').MetricsServer | null = null;

  const shutdown = async (): Promise<void> => {
    await fleet?.leave().catch((e: unknown) => log.error({ err: e }, 'releasing the IP leases failed'));
    await routing?.stop();
    await metrics?.close();
    await dnsbl?.stop();
    await placement?.stop();
    if (alerts) {
      await alertLoop?.stop();
      await alerts.poll();
      await alerts.idle(5_000);
      alerts.stop();
    }
  };
  const done = daemon.stopped.then(async (reason) => { await shutdown(); return reason; });

  return {
    daemon,
    done,
    async start(options = {}) {
      const postfix = on.postfix ? plan.postfix : null;
      if (alerts) {
        const every = Math.max(1000, tickMs);
        alertLoop = startLoop({ run: async () => { await alerts.poll(); }, delayMs: () => every, firstDelayMs: every, onError: (e) => log.error({ err: e }, 'alert poll failed') });
      }
      // Seeds readable over IMAP: record where each message lands (never delays sending).
      // (imapflow and prom-client are loaded only when the plan uses them: less memory for the daemon.)
      if (on.placement && plan.providers.some((p) => p.seeds.some((seed) => seed.imap))) {
        placement = new (await import('../placement/poller.js')).PlacementPoller({ plan, store, clock, log });
      }
      await daemon.start({ firstTick: postfix !== null, ...(options.ticker === undefined ? {} : { ticker: options.ticker }) });
      fleet?.start({
        onGain: (ips) => daemon.adopt(ips),
        onLoseAll: () => { log.error('every IP of this daemon was taken over by another one: stopping'); void daemon.stop('error'); },
      });
      // Real mail through Postfix: same process, same lanes, same holds (loaded only when the plan routes mail).
      if (postfix) {
        try {
          routing = await (await import('../postfix/service.js')).startPostfixRouting({ plan, settings: postfix, store, lanes: daemon, resolver: o.resolver, clock, log });
        } catch (e) {
          log.error({ err: e }, 'cannot answer Postfix (postfix.listen): stopping');
          await daemon.stop('error');
          await done;
          throw new WarmupError('POSTFIX_LISTEN', (e as Error).message, { cause: e });
        }
      }
      dnsbl?.start(plan.dnsbl.intervalMs);
      placement?.start();
      // /healthz calls a tick stale after ten ticks of clock time (at least a minute).
      if (on.metrics && plan.metrics) {
        metrics = await (await import('../ops/metrics.js')).startMetricsServer({ plan, store, clock, lastTick: () => daemon.lastTickAt, staleAfterMs: Math.max(60_000, tickMs * speed * 10) });
      }
    },
    async stop(reason) {
      await routing?.stop();
      await daemon.stop(reason);
    },
  };
}
