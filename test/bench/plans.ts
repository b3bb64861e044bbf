/** Plan texts the benches generate (big shapes the shipped plans do not have). */

/**
 * A plan with `ips` x `providers` lanes; addresses 127.0.1.x (loopback, so a
 * daemon can bind them, as `warmup start` requires of the IPs it takes);
 * nothing is ever sent from them by the benches that use this plan.
 */
export function widePlan(o: { name: string; ips: number; providers: number; store: string; window?: [string, string] }): string {
  const ips = Array.from({ length: o.ips }, (_, i) => `  - address: 127.0.1.${i + 1}\n    ehlo: mta${i + 1}.bench.warmup.test`).join('\n');
  const providers = Array.from({ length: o.providers }, (_, p) =>
    `  p${p + 1}:\n    domains: [p${p + 1}.bench.test]\n    seeds: [${Array.from({ length: 10 }, (_, s) => `seed${s + 1}@p${p + 1}.bench.test`).join(', ')}]`).join('\n');
  const [ws, we] = o.window ?? ['08:00', '20:00'];
  return `name: ${o.name}
timezone: UTC
start: 2026-12-01
launch: 2026-12-15
window: { start: "${ws}", end: "${we}" }
sender:
  from: { address: hello@bench.warmup.test }
  envelope_from: bounces@bench.warmup.test
  unsubscribe: { url: "https://bench.warmup.test/u?r={{recipient}}" }
ips:
${ips}
ramps:
  default: { start: 50, growth: 1.4, cap: 2000 }
providers:
${providers}
delivery:
  # Nothing may reach real DNS from a bench.
  dns_servers: ["127.0.0.1:9"]
dnsbl: { zones: [] }
warnings: { ip_peak_per_day: 1, mailbox_per_day: 100000000 }
store: { path: ${o.store} }
`;
}
