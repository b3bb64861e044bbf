import { runPreflight, type PreflightResult } from '../../dns/preflight.js';
import { createDnsResolver } from '../../dns/resolver.js';
import { parse, planArg } from '../args.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

export const usage = `Usage: warmup check PLAN.yaml [--json] [--connect] [--no-dnsbl]

Preflight: everything that must be right before day 1, through the plan's
resolver (delivery.dns_servers).
  each IP     bindable on this host, PTR present, PTR name resolving back to
              the IP (FCrDNS), EHLO name = PTR name, not listed on a DNSBL
  sender      SPF record, evaluated for every IP (include, a, mx, ip4/ip6,
              redirect, at most 10 lookups); DKIM selector record present and
              matching the plan's key; DMARC record, policy, and alignment of
              the envelope and DKIM domains with the From domain
  providers   MX (or delivery.routes) resolvable; with --connect an SMTP
              session from a plan IP: greeting, EHLO, STARTTLS offered
Each warning or failure comes with a one-line fix.

A broken resolver is said once (dns.resolver) and every check that needs DNS is
then unknown (??), neither ok nor failed; an IP is unknown on the DNSBLs when
no trusted zone answered.

Exit status: 0 all pass, 1 warnings or unknowns only, 2 a failure (or bad input).`;

const MARK = { pass: 'ok  ', warn: 'WARN', unknown: '??  ', fail: 'FAIL' } as const;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, connect: { type: 'boolean' }, 'no-dnsbl': { type: 'boolean' } }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const { plan } = loadOrExit(file, io, { secrets: 'load' });
  const resolver = createDnsResolver({ ...(plan.delivery.dnsServers.length ? { servers: plan.delivery.dnsServers } : {}), timeoutMs: 2000, tries: 2 });
  const r = await runPreflight(plan, { resolver, connect: Boolean(values.connect), now: Date.now(), skipDnsbl: Boolean(values['no-dnsbl']) });
  const code = r.worst === 'fail' ? 2 : r.worst === 'pass' ? 0 : 1;
  if (values.json) {
    io.out(JSON.stringify({ plan: plan.name, worst: r.worst, items: r.items }, null, 2));
    return code;
  }
  io.out(renderPreflight(plan.name, r));
  return code;
}

/** The checklist as text: one line per item, a fix under each warning or failure. */
export function renderPreflight(planName: string, r: PreflightResult, only?: ReadonlyArray<PreflightResult['items'][number]['status']>): string {
  const items = only ? r.items.filter((i) => only.includes(i.status)) : r.items;
  const width = Math.max(0, ...items.map((i) => `${i.id} ${i.subject}`.length));
  const lines = items.map((i) => {
    const head = `${MARK[i.status]}  ${`${i.id} ${i.subject}`.padEnd(width)}  ${i.message}`;
    return i.fix ? `${head}\n      ${' '.repeat(width)}  fix: ${i.fix}` : head;
  });
  const count = (s: string) => r.items.filter((i) => i.status === s).length;
  return `Preflight for "${planName}"\n${lines.join('\n')}\n\n${count('pass')} passed, ${count('warn')} warning${count('warn') === 1 ? '' : 's'}, ${count('unknown') ? `${count('unknown')} unknown, ` : ''}${count('fail')} failed`;
}
