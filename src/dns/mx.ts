/**
 * Where to deliver mail for a domain: RFC 5321 section 5.1 route selection
 * (MX, implicit MX, null MX) plus static routes from configuration.
 */
import { isIP } from 'node:net';
import { WarmupError } from '../util/errors.js';
import { splitHostPort } from '../util/host-port.js';
import type { Resolver } from './resolver.js';

/** One host of a route with the IPv4 addresses to try, in order. */
export interface RouteHost {
  /** MX exchange name (or the address itself for an IP literal / static IP). */
  readonly host: string;
  readonly preference: number;
  readonly addresses: readonly string[];
  readonly port: number;
}

/** The ordered hosts to try for one domain. Never empty. */
export interface Route {
  readonly domain: string;
  /** `mx`: from MX records; `implicit`: the domain's own A record (no MX); `static`: from configuration. */
  readonly source: 'mx' | 'implicit' | 'static';
  readonly hosts: readonly RouteHost[];
}

/** One static route host: structured (as a plan gives it), or text to parse. */
export type StaticRouteEntry = string | { readonly host: string; readonly port: number };

/** Options for {@link resolveRoute}. */
export interface ResolveRouteOptions {
  readonly resolver: Resolver;
  /** SMTP port for looked-up hosts. Default 25. */
  readonly port?: number;
  /**
   * Domain -> hosts in preference order; bypasses the MX lookup. Structured
   * `{ host, port }` entries are used as they are (an IPv6 host needs no
   * brackets); text entries are `host`, `host:port` or `[v6]:port`.
   */
  readonly staticRoutes?: Readonly<Record<string, ReadonlyArray<StaticRouteEntry>>>;
  /**
   * Shuffles MX hosts of equal preference (RFC 5321 asks senders to spread
   * load). Without it the order is by name, which keeps runs reproducible.
   */
  readonly random?: () => number;
}

/**
 * Resolve the delivery route for `domain`.
 *
 * @example
 * const route = await resolveRoute('example.test', { resolver });
 * // { domain: 'example.test', source: 'mx', hosts: [{ host: 'mx1.example.test', preference: 10, addresses: ['127.0.0.53'], port: 25 }, ...] }
 *
 * @throws WarmupError `NULL_MX` (domain accepts no mail, RFC 7505), `NO_SUCH_DOMAIN`,
 *   `NO_ADDRESS` (no host of the route has an IPv4 address), `DNS_TEMPFAIL` (retry later),
 *   `INVALID_ROUTE` (bad static entry)
 */
export async function resolveRoute(domain: string, options: ResolveRouteOptions): Promise<Route> {
  const name = domain.trim().toLowerCase().replace(/\.$/, '');
  const port = options.port ?? 25;
  const statics = options.staticRoutes && Object.hasOwn(options.staticRoutes, name) ? options.staticRoutes[name] : undefined;
  if (statics) return staticRoute(name, statics, port, options.resolver);

  const records = await options.resolver.resolveMx(name);
  if (records.length === 0) {
    // RFC 5321 5.1: no MX means the domain itself is the implicit MX, preference 0.
    const addresses = await options.resolver.resolve4(name);
    if (addresses.length === 0) throw new WarmupError('NO_ADDRESS', `${name} has neither MX nor A records`, { details: { domain: name } });
    return { domain: name, source: 'implicit', hosts: [{ host: name, preference: 0, addresses, port }] };
  }
  const real = records.filter((r) => !isNullExchange(r.exchange));
  if (real.length === 0) {
    throw new WarmupError('NULL_MX', `${name} publishes a null MX: it accepts no mail (RFC 7505)`, { details: { domain: name } });
  }

  const ordered = orderByPreference(
    real.map((r) => ({ host: r.exchange.toLowerCase().replace(/\.$/, ''), preference: r.priority })),
    options.random,
  );
  const hosts: RouteHost[] = [];
  let tempfail: unknown;
  for (const mx of ordered) {
    try {
      const addresses = isIP(mx.host) === 4 ? [mx.host] : await options.resolver.resolve4(mx.host);
      if (addresses.length > 0) hosts.push({ ...mx, addresses, port });
    } catch (err) {
      // An MX host that does not resolve is skipped, as MTAs do; only when no
      // host is left does a temporary failure make the whole lookup retryable.
      if (err instanceof WarmupError && err.code === 'DNS_TEMPFAIL') tempfail ??= err;
      else if (!(err instanceof WarmupError && err.code === 'NO_SUCH_DOMAIN')) throw err;
    }
  }
  if (hosts.length === 0) {
    if (tempfail) throw new WarmupError('DNS_TEMPFAIL', `no MX host of ${name} could be resolved yet`, { cause: tempfail, details: { domain: name } });
    throw new WarmupError('NO_ADDRESS', `no MX host of ${name} has an IPv4 address`, { details: { domain: name } });
  }
  return { domain: name, source: 'mx', hosts };
}

/**
 * A static route entry, `host`, `host:port`, `[v6]:port` or a bare IPv6 address
 * ({@link splitHostPort}), with `defaultPort` when it gives none; the host in lower case.
 *
 * @throws WarmupError `INVALID_ROUTE`
 */
export function parseHostPort(entry: string, defaultPort: number): { host: string; port: number } {
  const hp = splitHostPort(entry);
  if ('error' in hp) throw new WarmupError('INVALID_ROUTE', `not a host or host:port: ${JSON.stringify(entry)} (${hp.error})`);
  return { host: hp.host.toLowerCase(), port: hp.port ?? defaultPort };
}

async function staticRoute(domain: string, entries: readonly StaticRouteEntry[], defaultPort: number, resolver: Resolver): Promise<Route> {
  if (entries.length === 0) throw new WarmupError('INVALID_ROUTE', `static route for ${domain} is empty`);
  const hosts: RouteHost[] = [];
  for (const [i, entry] of entries.entries()) {
    const { host, port } = typeof entry === 'string' ? parseHostPort(entry, defaultPort) : { host: entry.host.toLowerCase(), port: entry.port };
    // A static host given by name still needs its address; no MX lookup though.
    const addresses = isIP(host) ? [host] : await resolver.resolve4(host);
    if (addresses.length > 0) hosts.push({ host, preference: i, addresses, port });
  }
  if (hosts.length === 0) throw new WarmupError('NO_ADDRESS', `no static host for ${domain} has an address`, { details: { domain } });
  return { domain, source: 'static', hosts };
}

function isNullExchange(exchange: string): boolean {
  return exchange === '' || exchange === '.';
}

function orderByPreference<T extends { host: string; preference: number }>(items: T[], random?: () => number): T[] {
  const sorted = [...items].sort((a, b) => a.preference - b.preference || a.host.localeCompare(b.host));
  if (!random) return sorted;
  // Fisher-Yates within each run of equal preference.
  for (let start = 0; start < sorted.length; ) {
    let end = start;
    while (end + 1 < sorted.length && sorted[end + 1]!.preference === sorted[start]!.preference) end++;
    for (let i = end; i > start; i--) {
      const j = start + Math.floor(random() * (i - start + 1));
      [sorted[i], sorted[j]] = [sorted[j]!, sorted[i]!];
    }
    start = end + 1;
  }
  return sorted;
}
