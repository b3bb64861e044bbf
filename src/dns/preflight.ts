/**
 * The preflight: everything that must be right before day 1, as a checklist
 * of pass / warn / fail items, each failure with a one-line fix. Run by
 * `warmup check` and by `warmup start` (a fail refuses the start unless --force).
 */
import type { Plan } from '../plan/types.js';
import { WarmupError } from '../util/errors.js';
import { joinHostPort } from '../util/host-port.js';
import { DnsblChecker } from './dnsbl-check.js';
import { resolveRoute, type Route, type StaticRouteEntry } from './mx.js';
import { checkDkim, checkDmarc, checkSpf } from './preflight-auth.js';
import { checkIp, dnsblItems } from './preflight-ip.js';
import { probeSmtp } from './preflight-smtp.js';
import { item, worstOf, type PreflightItem, type PreflightStatus } from './preflight-types.js';
import type { Resolver } from './resolver.js';

export { worstOf, type PreflightItem, type PreflightStatus } from './preflight-types.js';

/** Options for {@link runPreflight}. */
export interface PreflightOptions {
  /** The plan's resolver (the same one the daemon uses). */
  readonly resolver: Resolver;
  /** Also open an SMTP session to each provider from a plan IP (EHLO, STARTTLS, QUIT). */
  readonly connect: boolean;
  /** The instant the check ran (reported back; nothing here reads a clock). */
  readonly now: number;
  /** Skip the DNSBL lookups (default false). */
  readonly skipDnsbl?: boolean;
  /** Default: a checker over `resolver` paced at the plan's dnsbl.queries_per_second. */
  readonly dnsbl?: DnsblChecker;
}

/** The checklist and its worst status. */
export interface PreflightResult {
  readonly checkedAt: number;
  readonly items: readonly PreflightItem[];
  readonly worst: PreflightStatus;
}

/**
 * @example
 * const r = await runPreflight(plan, { resolver, connect: false, now: clock.now() });
 * if (r.worst === 'fail' && !force) refuse(r.items.filter((i) => i.status === 'fail'));
 */
export async function runPreflight(plan: Plan, o: PreflightOptions): Promise<PreflightResult> {
  const ips = plan.ips.map((i) => i.address);
  const health = await resolverHealth(plan, o.resolver);
  if (!health.ok) {
    // One cause, said once: every check that needs DNS is unknown, not failed and not ok.
    const items: PreflightItem[] = [health.item];
    for (const ip of plan.ips) items.push(...await checkIp(ip, null));
    const dependent = [...ips.flatMap((ip) => ['ip.ptr', 'ip.fcrdns', 'ip.ehlo', ...(o.skipDnsbl ? [] : ['ip.dnsbl'])].map((id) => [id, ip] as const)),
      ['spf', plan.sender.from.address.split('@')[1] ?? ''] as const, ['dkim', plan.sender.dkim?.domain ?? ''] as const,
      ['dmarc', plan.sender.from.address.split('@')[1] ?? ''] as const, ...plan.providers.map((p) => ['mx', p.name] as const)];
    for (const [id, subject] of dependent) items.push(item(id, subject, 'unknown', 'not checked: the resolver is broken (see dns.resolver)'));
    return { checkedAt: o.now, items, worst: worstOf(items) };
  }
  const checker = o.dnsbl ?? new DnsblChecker({ resolver: o.resolver, queriesPerSecond: plan.dnsbl.queriesPerSecond });
  const [ipItems, dnsbl, spf, dkim, routes] = await Promise.all([
    Promise.all(plan.ips.map((ip) => checkIp(ip, o.resolver))),
    o.skipDnsbl || plan.dnsbl.zones.length === 0 ? null : checker.check(ips, plan.dnsbl.zones),
    checkSpf(plan, o.resolver),
    checkDkim(plan, o.resolver),
    providerRoutes(plan, o.resolver),
  ]);
  const dmarc = await checkDmarc(plan, o.resolver, { spfPass: spf.allPass, dkimOk: dkim.ok });

  const items: PreflightItem[] = [];
  const dnsblList = dnsbl ? dnsblItems(ips, dnsbl) : [];
  for (const [i, list] of ipItems.entries()) items.push(...list, ...dnsblList.filter((d) => d.id === 'ip.dnsbl' && d.subject === ips[i]));
  items.push(...dnsblList.filter((d) => d.id !== 'ip.dnsbl'), ...spf.items, ...dkim.items, ...dmarc);
  for (const r of routes) items.push(r.item);

  if (o.connect) {
    const bindable = plan.ips.find((ip) => items.some((i) => i.id === 'ip.bind' && i.subject === ip.address && i.status === 'pass'));
    for (const r of routes) {
      if (!r.route) continue;
      if (!bindable) {
        items.push(item('smtp.connect', r.provider, 'fail', 'no plan IP is bindable here, so no session could be opened', 'run the check on the sending host'));
        continue;
      }
      items.push(await connectItem(plan, r.provider, r.route, bindable.address, bindable.ehlo));
    }
  }
  return { checkedAt: o.now, items, worst: worstOf(items) };
}

/**
 * Asks the resolver for names that must exist (each provider's first domain's MX, the From
 * domain's TXT): when none gets an answer (every lookup SERVFAIL, timed out or refused; an
 * NXDOMAIN is an answer), the resolver is broken and nothing else DNS says can be trusted.
 */
async function resolverHealth(plan: Plan, resolver: Resolver): Promise<{ ok: true } | { ok: false; item: PreflightItem }> {
  const from = plan.sender.from.address.split('@')[1] ?? '';
  const probes: Array<[string, () => Promise<unknown>]> = [
    ...plan.providers.slice(0, 4).map((p) => [`MX ${p.domains[0]}`, () => resolver.resolveMx(p.domains[0]!)] as [string, () => Promise<unknown>]),
    [`TXT ${from}`, () => resolver.resolveTxt(from)],
  ];
  const errors: string[] = [];
  for (const [name, ask] of probes) {
    try {
      await ask();
      return { ok: true };
    } catch (err) {
      if (!(err instanceof WarmupError && err.code === 'DNS_TEMPFAIL')) return { ok: true }; // an answer (NXDOMAIN...): the resolver works
      errors.push(`${name}: ${err.message}`);
    }
  }
  const servers = plan.delivery.dnsServers.length ? plan.delivery.dnsServers.join(', ') : 'the system resolver (/etc/resolv.conf)';
  return {
    ok: false,
    item: item('dns.resolver', servers, 'fail', `the resolver is broken: no answer for names that must exist (${errors.join('; ')})`,
      'fix the resolver: delivery.dns_servers, or /etc/resolv.conf on this host; then run warmup check again'),
  };
}

async function providerRoutes(plan: Plan, resolver: Resolver): Promise<Array<{ provider: string; route: Route | null; item: PreflightItem }>> {
  return Promise.all(plan.providers.map(async (p) => {
    const statics = staticRoutes(plan, p.name, p.domains);
    const found: Route[] = [];
    const problems: string[] = [];
    let temp = false;
    for (const domain of p.domains) {
      try {
        found.push(await resolveRoute(domain, { resolver, port: plan.delivery.port, staticRoutes: statics }));
      } catch (err) {
        temp ||= err instanceof WarmupError && err.code === 'DNS_TEMPFAIL';
        problems.push(`${domain}: ${err instanceof WarmupError ? `${err.code} ${err.message}` : String(err)}`);
      }
    }
    const hosts = found.map((r) => `${r.domain} -> ${r.hosts.map((h) => joinHostPort(h.host, h.port)).join(', ')}${r.source === 'static' ? ' (delivery.routes)' : ''}`);
    const it = problems.length === 0
      ? item('mx', p.name, 'pass', hosts.join('; '))
      : item('mx', p.name, temp && found.length > 0 ? 'warn' : 'fail', problems.join('; '), `fix the domain list of providers.${p.name} or set delivery.routes.${p.name}`);
    return { provider: p.name, route: found[0] ?? null, item: it };
  }));
}

function staticRoutes(plan: Plan, provider: string, domains: readonly string[]): Record<string, StaticRouteEntry[]> {
  const out: Record<string, StaticRouteEntry[]> = {};
  for (const d of domains) {
    const r = plan.delivery.routes.get(provider) ?? plan.delivery.routes.get(d);
    if (r) out[d] = [r];
  }
  return out;
}

async function connectItem(plan: Plan, provider: string, route: Route, ip: string, ehlo: string): Promise<PreflightItem> {
  const tried: string[] = [];
  for (const host of route.hosts) {
    for (const address of host.addresses) {
      const probe = await probeSmtp({ host: address, port: host.port, localAddress: ip, ehlo, timeoutMs: Math.min(plan.delivery.timeouts.connectMs, 30_000) });
      if (!probe.ok) {
        tried.push(`${host.host}[${address}]:${host.port} ${probe.error}`);
        continue;
      }
      const where = `${host.host}[${address}]:${host.port} from ${ip}`;
      if (probe.starttls) return item('smtp.connect', provider, 'pass', `${where}: ${probe.greeting}; STARTTLS offered`);
      const required = plan.delivery.tls === 'require';
      return item('smtp.connect', provider, required ? 'fail' : 'warn', `${where}: ${probe.greeting}; STARTTLS not offered${required ? ' but delivery.tls is require' : ''}`,
        required ? 'set delivery.tls to opportunistic, or route to an MX that offers STARTTLS' : 'mail to this MX goes unencrypted; the big providers all offer STARTTLS, check for a middlebox');
    }
  }
  return item('smtp.connect', provider, 'fail', `no MX answered: ${tried.join('; ')}`, 'check outbound port 25 from this host (many clouds block it) and delivery.port / delivery.routes');
}
