import { formatIssue } from '../../plan/load.js';
import type { Plan } from '../../plan/types.js';
import { formatMinutes } from '../../schedule/calendar.js';
import { previewPlan } from '../../schedule/ramp.js';
import { parse, planArg } from '../args.js';
import { num } from '../format.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';
import { redactUrl } from '../../store/pg-url.js';

export const usage = `Usage: warmup validate PLAN.yaml [--json]

Checks a plan and prints a one-screen summary: IPs, providers, lanes, days,
total and peak-day volume. Every error is listed with file:line:column and
the key path. Writes nothing.

Exit status: 0 valid (warnings may be printed), 2 errors.`;

/** The figures `validate` prints, also its --json output. */
export function summarize(plan: Plan) {
  const days = previewPlan(plan);
  const ramp = days.filter((d) => !d.launch);
  const launch = days.at(-1)!;
  const peak = ramp.reduce((a, d) => (d.total > a.total ? d : a), ramp[0]!);
  return {
    name: plan.name,
    timezone: plan.timezone,
    window: `${formatMinutes(plan.window.start)}-${formatMinutes(plan.window.end)}`,
    skipDays: plan.skipDays,
    start: plan.start,
    launch: plan.launch,
    rampDays: ramp.length,
    sendingDays: ramp.filter((d) => !d.skip).length,
    ips: plan.ips.map((i) => ({ address: i.address, ehlo: i.ehlo, start: i.start })),
    providers: plan.providers.map((p) => ({
      name: p.name, domains: p.domains, seeds: p.seeds.length, recipients: p.recipients.length,
      ramp: p.ramp.name,
    })),
    lanes: plan.ips.length * plan.providers.length,
    totalVolume: ramp.reduce((s, d) => s + d.total, 0),
    peakDay: { date: peak.date, volume: peak.total },
    launchCapacity: { ...launch.perProvider },
    store: plan.storeServer ? redactUrl(plan.storeServer.url) : plan.storePath,
  };
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const { plan, warnings } = loadOrExit(file, io, { quietWarnings: true, scheduleWarnings: true, secrets: 'check' });
  const s = summarize(plan);
  if (values.json) {
    io.out(JSON.stringify({ valid: true, summary: s, warnings }, null, 2));
    return 0;
  }
  const ipList = s.ips.length <= 4 ? s.ips.map((i) => i.address).join(', ') : `${s.ips[0]!.address} ... ${s.ips.at(-1)!.address}`;
  const lines = [
    `${file}: valid plan "${s.name}"`,
    `  days       ${s.start} -> launch ${s.launch}: ${s.rampDays} ramp days, ${s.sendingDays} with sending`,
    `  window     ${s.window} ${s.timezone}${s.skipDays.length ? `, no sending on ${s.skipDays.join(', ')}` : ''}`,
    `  IPs        ${s.ips.length} (${ipList})`,
    `  providers  ${s.providers.length}: ${s.providers.map((p) => `${p.name} (${p.seeds} seeds${p.recipients ? ` + ${num(p.recipients)} opt-in` : ''})`).join(', ')}`,
    `  lanes      ${s.lanes} (IP x provider)`,
    `  volume     ${num(s.totalVolume)} messages over the ramp; peak day ${s.peakDay.date}: ${num(s.peakDay.volume)}`,
    `  launch day ${Object.entries(s.launchCapacity).map(([p, v]) => `${p} ${num(v)}`).join(', ')} (messages/day ready)`,
    `  store      ${s.store}`,
  ];
  io.out(lines.join('\n'));
  if (warnings.length) {
    io.out(`\n${warnings.length} warning${warnings.length === 1 ? '' : 's'}:`);
    for (const w of warnings) io.out(`  ${formatIssue(file, w)}`);
  }
  return 0;
}
