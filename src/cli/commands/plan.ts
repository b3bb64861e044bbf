import { previewPlan, type PreviewDay } from '../../schedule/ramp.js';
import { parse, planArg } from '../args.js';
import { num, table } from '../format.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';
import { ExitError } from '../../util/errors.js';

export const usage = `Usage: warmup plan PLAN.yaml [--ip ADDR] [--provider NAME] [--json]

Prints the schedule before any adaptation, day by day: volume per provider
and in total (per lane when --ip or --provider narrows it to a few lanes),
and per IP. The launch day is marked; its figures are the volume each lane
is ready for on that day.`;

/** Columns: one per lane when there are few, else one per provider. */
function render(days: readonly PreviewDay[]): string {
  const first = days[0]!;
  const perLane = first.lanes.length <= 8;
  const keys = perLane ? first.lanes.map((l) => `${l.ip} ${l.provider}`) : Object.keys(first.perProvider);
  const header = ['day', 'date', '', ...(perLane ? first.lanes.map((l) => `${l.provider}@${l.ip}`) : keys), 'total'];
  const rows = days.map((d) => [
    String(d.day), `${d.date} ${d.weekday}`, d.launch ? 'LAUNCH' : d.skip ? 'skip' : '',
    ...(perLane ? d.lanes.map((l) => num(l.volume)) : keys.map((k) => num(d.perProvider[k] ?? 0))),
    num(d.total),
  ]);
  return table(header, rows, 3);
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { ip: { type: 'string' }, provider: { type: 'string' }, json: { type: 'boolean' } }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const { plan } = loadOrExit(file, io);
  if (values.ip && !plan.ips.some((i) => i.address === values.ip)) {
    io.err(`warmup plan: ${values.ip} is not one of the plan's IPs`);
    throw new ExitError(2);
  }
  if (values.provider && !plan.providers.some((p) => p.name === values.provider)) {
    io.err(`warmup plan: no provider "${values.provider}" (providers: ${plan.providers.map((p) => p.name).join(', ')})`);
    throw new ExitError(2);
  }
  const filter = { ...(values.ip ? { ip: values.ip } : {}), ...(values.provider ? { provider: values.provider } : {}) };
  const days = previewPlan(plan, filter);
  if (values.json) {
    io.out(JSON.stringify({ plan: plan.name, timezone: plan.timezone, start: plan.start, launch: plan.launch, days }, null, 2));
    return 0;
  }
  const ramp = days.filter((d) => !d.launch);
  io.out(`Plan "${plan.name}": ${plan.start} -> launch ${plan.launch} (${plan.timezone})${filter.ip ? `, IP ${filter.ip}` : ''}${filter.provider ? `, provider ${filter.provider}` : ''}\n`);
  io.out(render(days));
  const ips = Object.keys(days[0]!.perIp);
  if (ips.length > 1) {
    io.out('\nPer IP (total over the ramp, launch-day capacity):');
    const rows = ips.map((ip) => [ip, num(ramp.reduce((s, d) => s + (d.perIp[ip] ?? 0), 0)), num(days.at(-1)!.perIp[ip] ?? 0)]);
    io.out(table(['ip', 'ramp total', 'launch day'], rows));
  }
  io.out(`\nTotal over the ramp: ${num(ramp.reduce((s, d) => s + d.total, 0))} messages.`);
  return 0;
}
