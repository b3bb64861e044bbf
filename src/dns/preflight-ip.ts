/**
 * Preflight checks of each sending IP: bindable here, PTR, forward-confirmed
 * reverse DNS, EHLO name = PTR name, and not listed on a DNSBL.
 */
import net from 'node:net';
import type { PlanIp } from '../plan/types.js';
import { WarmupError } from '../util/errors.js';
import type { DnsblReport } from './dnsbl-check.js';
import { item, type PreflightItem } from './preflight-types.js';
import type { Resolver } from './resolver.js';

/** Binds a TCP socket to `ip`, port 0, and closes it: the only proof the host owns the address. */
export function canBind(ip: string): Promise<{ ok: true } | { ok: false; code: string }> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code ?? err.message }));
    server.listen({ host: ip, port: 0, exclusive: true }, () => server.close(() => resolve({ ok: true })));
  });
}

const norm = (name: string) => name.toLowerCase().replace(/\.$/, '');

/** Bind, PTR, FCrDNS and EHLO items for one IP; with `resolver` null (it is broken) only the bind. */
export async function checkIp(ip: PlanIp, resolver: Resolver | null): Promise<PreflightItem[]> {
  const out: PreflightItem[] = [];
  const a = ip.address;
  const bind = await canBind(a);
  out.push(bind.ok
    ? item('ip.bind', a, 'pass', 'bindable on this host')
    : item('ip.bind', a, 'fail', `cannot bind to ${a} (${bind.code}): not an address of this host`, `add ${a} to an interface (e.g. ip addr add ${a}/32 dev eth0) or remove it from the plan`));

  if (resolver === null) return out;
  let ptrs: string[] = [];
  try {
    ptrs = (await resolver.reverse(a)).map(norm);
    out.push(ptrs.length
      ? item('ip.ptr', a, 'pass', `PTR ${ptrs.join(', ')}`)
      : item('ip.ptr', a, 'fail', 'no PTR record', `ask the owner of the address block to set the PTR of ${a} to ${ip.ehlo}`));
  } catch (err) {
    const temp = err instanceof WarmupError && err.code === 'DNS_TEMPFAIL';
    out.push(item('ip.ptr', a, temp ? 'warn' : 'fail', temp ? `PTR lookup failed: ${(err as Error).message}` : 'no PTR record',
      temp ? 'retry; check the resolver in delivery.dns_servers' : `ask the owner of the address block to set the PTR of ${a} to ${ip.ehlo}`));
  }
  if (ptrs.length === 0) {
    out.push(item('ip.fcrdns', a, 'fail', 'no PTR name to confirm', `set the PTR of ${a} to ${ip.ehlo} and publish ${ip.ehlo}. IN A ${a}`));
    out.push(item('ip.ehlo', a, 'warn', `EHLO ${ip.ehlo} cannot match a missing PTR`, `set the PTR of ${a} to ${ip.ehlo}`));
    return out;
  }

  const confirmed: string[] = [];
  for (const name of ptrs) {
    try {
      if ((await resolver.resolve4(name)).includes(a)) confirmed.push(name);
    } catch {
      // A PTR name that does not resolve is simply not confirmed.
    }
  }
  out.push(confirmed.length
    ? item('ip.fcrdns', a, 'pass', `${confirmed[0]} resolves back to ${a}`)
    : item('ip.fcrdns', a, 'fail', `PTR name ${ptrs[0]} does not resolve back to ${a}`, `publish ${ptrs[0]}. IN A ${a}`));

  const ehlo = norm(ip.ehlo);
  out.push(ptrs.includes(ehlo)
    ? item('ip.ehlo', a, 'pass', `EHLO ${ehlo} is the PTR name`)
    : item('ip.ehlo', a, 'warn', `EHLO ${ehlo} differs from the PTR name ${ptrs[0]}`, `set ips[].ehlo for ${a} to ${ptrs[0]} (or the PTR to ${ehlo})`));
  return out;
}

/** One DNSBL item per IP, and one per untrusted zone. */
export function dnsblItems(ips: readonly string[], report: DnsblReport): PreflightItem[] {
  const out: PreflightItem[] = [];
  for (const z of report.zones) {
    if (z.health.status !== 'ok') out.push(item('dnsbl.zone', z.zone, 'warn', `zone ${z.health.status}: ${z.health.reason}; its answers are ignored`, `check the resolver (Spamhaus refuses public resolvers) or remove ${z.zone} from dnsbl.zones`));
  }
  for (const ip of ips) {
    const mine = report.results.filter((r) => r.ip === ip);
    const listed = mine.filter((r) => r.status === 'listed');
    const unknown = mine.filter((r) => r.status === 'unknown' || (r.status === 'error' && report.zones.find((z) => z.zone === r.zone)?.health.status === 'ok'));
    if (listed.length) {
      const where = listed.map((r) => `${r.zone} (${r.answer}${r.meaning ? ` ${r.meaning}` : ''})`).join(', ');
      out.push(item('ip.dnsbl', ip, 'fail', `listed in ${where}${listed[0]!.txt ? `: ${listed[0]!.txt}` : ''}`, `request removal at each list (see the TXT reason); do not send from ${ip} until de-listed`));
    } else if (unknown.length) {
      out.push(item('ip.dnsbl', ip, 'warn', `not listed where asked; no usable answer from ${unknown.map((r) => `${r.zone} (${r.meaning})`).join(', ')}`, 'run `warmup dnsbl` again; use your own recursive resolver'));
    } else if (!mine.some((r) => r.status === 'clear')) {
      // Every zone broken (or none asked): nothing says the IP is clean.
      out.push(item('ip.dnsbl', ip, 'unknown', 'not known: no trusted DNSBL zone answered (see dnsbl.zone above)', 'fix the resolver or the zones, then run `warmup dnsbl`'));
    } else {
      out.push(item('ip.dnsbl', ip, 'pass', `not listed in ${mine.filter((r) => r.status === 'clear').map((r) => r.zone).join(', ')}`));
    }
  }
  return out;
}
