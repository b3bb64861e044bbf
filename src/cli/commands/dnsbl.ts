import { DnsblChecker, type DnsblReport } from '../../dns/dnsbl-check.js';
import { DnsblMonitor } from '../../dns/dnsbl-monitor.js';
import { createDnsResolver } from '../../dns/resolver.js';
import { openStoreFor } from '../../store/select.js';
import { systemClock } from '../../util/clock.js';
import { createLogger } from '../../util/log.js';
import { parse, planArg } from '../args.js';
import { jsonText, table } from '../format.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

export const usage = `Usage: warmup dnsbl PLAN.yaml [--json] [--record]

Checks every IP of the plan once against the plan's DNSBL zones (dnsbl.zones),
through the plan's resolver (delivery.dns_servers), paced at
dnsbl.queries_per_second. Each zone is first judged by its RFC 5782 test
entries: a zone that does not list 127.0.0.2, or lists 127.0.0.1, is broken
and its answers are not trusted.

Without --record nothing is written. With --record the pass is the daemon's:
answers go to the database, a listed IP is paused at every provider, a
de-listing is noted (and auto-resumed when dnsbl.auto_resume_after is set).

Exit status: 0 no listing and every answer usable, 1 an IP is listed,
2 bad input, 3 no listing but some answers unusable (broken zone, error
answer such as 127.255.255.254, timeout / SERVFAIL).`;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, record: { type: 'boolean' } }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const { plan } = loadOrExit(file, io);
  const resolver = createDnsResolver({ ...(plan.delivery.dnsServers.length ? { servers: plan.delivery.dnsServers } : {}), tries: 1 });

  let report: DnsblReport;
  let acted: { paused: readonly string[]; cleared: readonly string[]; resumed: readonly string[] } | null = null;
  if (values.record) {
    const store = await openStoreFor({ plan });
    try {
      const log = createLogger({ level: io.env.WARMUP_LOG_LEVEL ?? 'warn', destination: { write: (s: string) => { io.err(s); } } });
      const pass = await new DnsblMonitor({ plan, store, resolver, clock: systemClock, log }).checkAll();
      report = pass.report;
      acted = { paused: pass.paused, cleared: pass.cleared, resumed: pass.resumed };
    } finally {
      await store.close();
    }
  } else {
    report = await new DnsblChecker({ resolver, queriesPerSecond: plan.dnsbl.queriesPerSecond }).check(plan.ips.map((i) => i.address), plan.dnsbl.zones);
  }

  const listed = report.results.filter((r) => r.status === 'listed');
  const unusable = report.results.filter((r) => r.status === 'error' || r.status === 'unknown');
  const code = listed.length > 0 ? 1 : unusable.length > 0 ? 3 : 0;
  if (values.json) {
    io.out(jsonText({ zones: report.zones, results: report.results, listed: [...new Set(listed.map((r) => r.ip))], recorded: Boolean(values.record), ...(acted ?? {}) }));
    return code;
  }
  const zoneLines = report.zones.map((z) => `  ${z.zone}: ${z.health.status === 'ok' ? 'ok (test entry listed, 127.0.0.1 not)' : `${z.health.status.toUpperCase()} - ${z.health.reason}; its answers pause nothing`}`);
  io.out(`Zones\n${zoneLines.join('\n')}\n`);
  const rows = report.results
    .filter((r) => report.zones.find((z) => z.zone === r.zone)?.health.status === 'ok')
    .map((r) => [r.ip, r.zone, r.status, r.answer ?? '-', [r.meaning, r.txt].filter(Boolean).join(' - ') || '-']);
  if (rows.length > 0) io.out(table(['IP', 'ZONE', 'STATUS', 'ANSWER', 'MEANING / REASON'], rows, 5));
  const ips = new Set(listed.map((r) => r.ip));
  io.out(`\n${ips.size === 0 ? 'No IP is listed' : `${ips.size} IP${ips.size === 1 ? '' : 's'} listed: ${[...ips].join(', ')}`}${unusable.length ? `; ${unusable.length} answer${unusable.length === 1 ? '' : 's'} unusable` : ''}.`);
  if (acted) {
    io.out(`Recorded. Paused now: ${acted.paused.join(', ') || 'none'}; de-listed: ${acted.cleared.join(', ') || 'none'}; resumed: ${acted.resumed.join(', ') || 'none'}.`);
  } else if (ips.size > 0) {
    io.out('Nothing was written: run with --record (or let the daemon run) to pause listed IPs.');
  }
  return code;
}
