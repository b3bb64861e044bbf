/**
 * Plan normalization: delivery (ports, timeouts, static routes, DNS servers,
 * retries), the alert webhook, and the metrics and Postfix socketmap listeners.
 * Every `host:port` goes through the one parser, {@link splitHostPort}.
 */
import { isIP } from 'node:net';
import { DEFAULTS } from '../defaults.js';
import { isHostname } from '../ip.js';
import type { Plan } from '../types.js';
import { isLoopbackIp, splitHostPort } from '../../util/host-port.js';
import type { NormalizeContext } from './context.js';

export function normalizeDelivery(ctx: NormalizeContext, providerNames: ReadonlySet<string>): Plan['delivery'] {
  const { w, err, dur } = ctx;
  const d = w.delivery ?? {};
  const routes = new Map<string, { host: string; port: number }>();
  for (const [key, target] of Object.entries(d.routes ?? {})) {
    const hp = splitHostPort(target);
    if ('error' in hp || !(isIP(hp.host) || isHostname(hp.host))) {
      err(['delivery', 'routes', key], `must be host or host:port, [IPv6]:port for an IPv6 address (got "${target}"${'error' in hp ? `: ${hp.error}` : ''})`);
      continue;
    }
    if (!providerNames.has(key) && !isHostname(key)) err(['delivery', 'routes', key], `"${key}" is neither a provider nor a domain`);
    routes.set(key.toLowerCase(), Object.freeze({ host: hp.host, port: hp.port ?? d.port ?? DEFAULTS.port }));
  }
  (d.dns_servers ?? []).forEach((server, i) => {
    const hp = splitHostPort(server);
    if ('error' in hp || !isIP(hp.host)) err(['delivery', 'dns_servers', i], `must be an IP address, IP:port or [IPv6]:port (got "${server}"${'error' in hp ? `: ${hp.error}` : ''})`);
  });
  return Object.freeze({
    dnsServers: Object.freeze([...(d.dns_servers ?? [])]),
    port: d.port ?? DEFAULTS.port,
    tls: d.tls ?? DEFAULTS.tls,
    timeouts: Object.freeze({
      connectMs: dur(d.timeouts?.connect ?? DEFAULTS.connectTimeout),
      greetingMs: dur(d.timeouts?.greeting ?? DEFAULTS.greetingTimeout),
      commandMs: dur(d.timeouts?.command ?? DEFAULTS.commandTimeout),
    }),
    maxConnectionsPerMx: d.max_connections_per_mx ?? DEFAULTS.maxConnectionsPerMx,
    messagesPerConnection: d.messages_per_connection ?? DEFAULTS.messagesPerConnection,
    routes,
    retry: Object.freeze({
      intervalsMs: Object.freeze((d.retry?.intervals ?? DEFAULTS.retryIntervals).map(dur)),
      expireMs: dur(d.retry?.expire ?? DEFAULTS.retryExpire),
    }),
    catchUpFactor: d.catch_up_factor ?? DEFAULTS.catchUpFactor,
  });
}

/** A listener's `IP:port`: an IP address (IPv6 in brackets) with a port; null (reported) when it is not one. */
function listenerAddress(ctx: NormalizeContext, path: readonly ['metrics' | 'postfix', 'listen'], text: string, form: string): { host: string; port: number } | null {
  const hp = splitHostPort(text);
  if ('error' in hp || isIP(hp.host) === 0 || hp.port === null) {
    ctx.err(path, `must be ${form} (got "${text}"${'error' in hp ? `: ${hp.error}` : hp.port === null && isIP(hp.host) !== 0 ? ': no port' : ''})`);
    return null;
  }
  return { host: hp.host, port: hp.port };
}

/** Metrics expose IPs, providers and lane states: loopback unless the operator says otherwise. */
export function normalizeMetrics(ctx: NormalizeContext): Plan['metrics'] {
  const m = ctx.w.metrics;
  if (!m) return null;
  const at = listenerAddress(ctx, ['metrics', 'listen'], m.listen, 'IP:port such as 127.0.0.1:9464 ([::1]:9464 for IPv6)');
  if (!at) return null;
  if (!isLoopbackIp(at.host) && m.allow_remote !== true) {
    ctx.err(['metrics', 'listen'], `${at.host} is not a loopback address: metrics name your IPs and providers; set metrics.allow_remote: true to expose them`);
    return null;
  }
  return Object.freeze(at);
}

export function normalizePostfix(ctx: NormalizeContext): Plan['postfix'] {
  const { w, err, dur, filePath } = ctx;
  if (!w.postfix) return null;
  const pf = w.postfix;
  let listen: NonNullable<Plan['postfix']>['listen'] | null = null;
  if (pf.listen.startsWith('unix:')) {
    const path = filePath(['postfix', 'listen'], pf.listen.slice(5));
    if (path) listen = Object.freeze({ kind: 'unix' as const, path });
  } else {
    const at = listenerAddress(ctx, ['postfix', 'listen'], pf.listen, 'IP:PORT such as 127.0.0.1:10027, or unix:/path');
    if (at && !isLoopbackIp(at.host)) err(['postfix', 'listen'], `${at.host} is not a loopback address: Postfix asks warmup from the same host (use 127.0.0.1 or a unix socket)`);
    else if (at) listen = Object.freeze({ kind: 'inet' as const, ...at });
  }
  const logFile = filePath(['postfix', 'log_file'], pf.log_file);
  const deferReason = (pf.defer_reason ?? DEFAULTS.postfixDeferReason).replace(/\s+/g, ' ').trim();
  const overflowText = (pf.overflow ?? 'defer').trim();
  if (overflowText !== 'defer' && !/^[A-Za-z][A-Za-z0-9_.-]*(:\S*)?$/.test(overflowText)) {
    err(['postfix', 'overflow'], `must be defer or a Postfix transport such as smtp: or relay:[smarthost.example]:587 (got "${overflowText}")`);
  }
  if (!listen || !logFile) return null;
  return Object.freeze({
    listen, mapName: pf.map_name ?? 'warmup', logFile,
    overflow: Object.freeze(overflowText === 'defer' ? { kind: 'defer' as const, reason: deferReason } : { kind: 'transport' as const, transport: overflowText }),
    deferReason,
    transportPrefix: pf.transport_prefix ?? 'warmup',
    syslogPrefix: pf.syslog_prefix ?? 'postfix-warmup',
    reservationTtlMs: dur(pf.reservation_ttl ?? DEFAULTS.postfixReservationTtl),
  });
}
