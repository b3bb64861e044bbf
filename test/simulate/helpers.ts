/** A small plan for simulation tests, loaded from text (no files, no DKIM key). */
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';

export const SIM_PLAN = `name: sim-test
timezone: Europe/Paris
start: 2026-12-01
launch: 2026-12-15
window: { start: "08:00", end: "20:00" }
sender:
  from: { address: hello@news.warmup.test }
  envelope_from: bounces@news.warmup.test
  unsubscribe: { url: "https://news.warmup.test/u?r={{recipient}}" }
ips:
  - address: 127.0.0.121
    ehlo: mta121.warmup.test
  - address: 127.0.0.122
    ehlo: mta122.warmup.test
ramps:
  default: { start: 50, growth: 1.5, cap: 2000 }
providers:
  gmail:
    domains: [gmail.com]
    seeds: [s1@gmail.com, s2@gmail.com, s3@gmail.com, s4@gmail.com, s5@gmail.com, s6@gmail.com]
  yahoo:
    domains: [yahoo.com]
    seeds: [s1@yahoo.com, s2@yahoo.com, s3@yahoo.com, s4@yahoo.com, s5@yahoo.com, s6@yahoo.com]
  outlook:
    domains: [outlook.com]
    seeds: [s1@outlook.com, s2@outlook.com, s3@outlook.com, s4@outlook.com, s5@outlook.com, s6@outlook.com]
warnings: { ip_peak_per_day: 1, mailbox_per_day: 100000 }
`;

export function simPlan(): Plan {
  const r = loadPlan(SIM_PLAN, { file: '/nonexistent/sim-test.yaml' });
  if (!r.ok) throw new Error(`test plan invalid:\n${r.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`).join('\n')}`);
  return r.plan;
}
