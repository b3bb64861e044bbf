/**
 * What `warmup postfix PLAN` prints: the main.cf and master.cf lines that let
 * Postfix ask warmup for a transport per recipient and deliver from each
 * warm-up IP through its own smtp transport. Pure.
 */
import type { Plan, PostfixSettings } from '../plan/types.js';
import { laneRamp, launchStage as launchStageOf, stageVolume } from '../schedule/ramp.js';
import { joinHostPort } from '../util/host-port.js';

/** The master.cf service name of an IP's transport: `warmup_203_0_113_10`. */
export function transportName(settings: Pick<PostfixSettings, 'transportPrefix'>, ip: string): string {
  return `${settings.transportPrefix}_${ip.replace(/[.:]/g, '_')}`;
}

/** The transport's syslog_name, which names the IP: `postfix-warmup/203.0.113.10`. */
export function syslogName(settings: Pick<PostfixSettings, 'syslogPrefix'>, ip: string): string {
  return `${settings.syslogPrefix}/${ip}`;
}

/** `socketmap:inet:HOST:PORT:NAME` or `socketmap:unix:PATH:NAME`. */
export function transportMapsValue(settings: PostfixSettings): string {
  const l = settings.listen;
  return l.kind === 'unix' ? `socketmap:unix:${l.path}:${settings.mapName}` : `socketmap:inet:${joinHostPort(l.host, l.port)}:${settings.mapName}`;
}

/** Per IP, the pace its transport must allow: the fastest hour of launch day over its providers. */
export interface TransportPace {
  readonly ip: string;
  readonly ehlo: string;
  readonly transport: string;
  readonly syslogName: string;
  /** Messages per hour the lane with the largest launch-day volume may send (catch-up included). */
  readonly peakPerHour: number;
  /** Parallel deliveries to one destination (delivery.max_connections_per_mx). */
  readonly concurrency: number;
  /** Seconds between deliveries to one destination, or 0 when the pace needs more than one a second. */
  readonly rateDelaySeconds: number;
  /** smtp processes for the transport: concurrency for every provider. */
  readonly maxProcesses: number;
}

export function transportPaces(plan: Plan, settings: PostfixSettings): TransportPace[] {
  const windowHours = (plan.window.end - plan.window.start) / 60;
  return plan.ips.map((ip) => {
    const launchStage = launchStageOf(plan, ip.start);
    const peakDay = Math.max(0, ...plan.providers.map((p) => stageVolume(laneRamp(ip, p), launchStage)));
    const peakPerHour = Math.ceil((peakDay / windowHours) * plan.delivery.catchUpFactor);
    const concurrency = plan.delivery.maxConnectionsPerMx;
    // destination_rate_delay spreads a lane's burst; a delay also means one delivery at a time per destination.
    const rateDelaySeconds = peakPerHour > 0 && peakPerHour < 3600 ? Math.floor(3600 / peakPerHour) : 0;
    return {
      ip: ip.address, ehlo: ip.ehlo, transport: transportName(settings, ip.address), syslogName: syslogName(settings, ip.address),
      peakPerHour, concurrency, rateDelaySeconds, maxProcesses: Math.max(1, concurrency * plan.providers.length),
    };
  });
}

export interface PostfixConfig {
  /** Lines for main.cf (parameter = value). */
  readonly mainCf: string;
  /** Lines for master.cf (the transports and the smtpd-side resolver). */
  readonly masterCf: string;
}

/**
 * The Postfix lines for a plan with a `postfix:` section.
 *
 * - `transport_maps` asks warmup through socketmap; smtpd gets its own
 *   trivial-rewrite without the map (`rewrite-smtpd`), so RCPT checks never
 *   ask warmup: only the queue manager does, once per delivery try.
 * - one smtp transport per IP with its bind address, EHLO name and a
 *   syslog_name that names the IP, which is how warmup finds the lane of each
 *   delivery line in the log;
 * - per transport, the queue manager's concurrency and rate delay for the pace.
 */
export function postfixConfig(plan: Plan, settings: PostfixSettings): PostfixConfig {
  const paces = transportPaces(plan, settings);
  const logDir = settings.logFile.slice(0, settings.logFile.lastIndexOf('/')) || '/';
  const main = [
    `# warmup plan "${plan.name}": Postfix asks warmup which transport (which IP) each recipient leaves from.`,
    '# If transport_maps is set already, list warmup first and keep your own tables after it.',
    `transport_maps = ${transportMapsValue(settings)}`,
    '# warmup reads every delivery of its transports from this file (the postlog service writes it)',
    `maillog_file = ${settings.logFile}`,
    `maillog_file_prefixes = ${logDir}`,
    '# queue ids unique over time: a delivery line names its message without ambiguity',
    'enable_long_queue_ids = yes',
    '# the pace of each warm-up transport (the queue manager reads these per transport)',
  ];
  for (const p of paces) {
    main.push(
      `${p.transport}_destination_concurrency_limit = ${p.rateDelaySeconds > 0 ? 1 : p.concurrency}`,
      `${p.transport}_initial_destination_concurrency = 1`,
      `${p.transport}_destination_rate_delay = ${p.rateDelaySeconds}s`,
    );
  }
  const master = [
    `# warmup plan "${plan.name}": one smtp transport per warm-up IP`,
  ];
  for (const p of paces) {
    master.push(
      `${p.transport} unix - - n - ${p.maxProcesses} smtp`,
      `  -o ${p.ip.includes(':') ? 'smtp_bind_address6' : 'smtp_bind_address'}=${p.ip}`,
      `  -o smtp_helo_name=${p.ehlo}`,
      `  -o syslog_name=${p.syslogName}`,
      `  -o smtp_connection_reuse_count_limit=${plan.delivery.messagesPerConnection}`,
    );
  }
  master.push(
    '# smtpd resolves addresses through this trivial-rewrite, which does not ask warmup:',
    '# add "-o rewrite_service_name=rewrite-smtpd" to EVERY smtpd line (smtp inet, submission, smtps).',
    'rewrite-smtpd unix - - n - - trivial-rewrite',
    '  -o transport_maps=',
    '# the retry transport of the default master.cf answers deferred lookups; keep it:',
    '# retry unix - - n - - error',
  );
  if (settings.listen.kind === 'unix') {
    // Seen with Postfix 3.7: a chrooted trivial-rewrite resolves the socket's path inside queue_directory.
    master.push(
      `# warmup listens on a unix socket (${settings.listen.path}); the queue manager's lookups go through the`,
      '# rewrite service (trivial-rewrite). Chrooted (its 5th column "y", Debian\'s default), it looks for the',
      '# socket inside queue_directory and every delivery is deferred ("address resolver failure").',
      '# Make the chroot column of your existing rewrite line "n":',
      '# rewrite unix - - n - - trivial-rewrite',
    );
  }
  return { mainCf: `${main.join('\n')}\n`, masterCf: `${master.join('\n')}\n` };
}
