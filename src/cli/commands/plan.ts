import type { Plan } from '../../plan/types.js';
import { localTime } from '../../schedule/calendar.js';
import { adaptedPlan, nextStage, previewPlan, type LaneProgress, type PreviewDay } from '../../schedule/ramp.js';
import { openStoreFor } from '../../store/select.js';
import { parse, planArg } from '../args.js';
import { num, table } from '../format.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';
import { ExitError } from '../../util/errors.js';

export const usage = `Usage: warmup plan PLAN.yaml [--ip ADDR] [--provider NAME] [--json] [--adapted [--db PATH|URL]] [--fit [--model FILE]]

Prints the schedule before any adaptation, day by day: volume per provider
and in total (per lane when --ip or --provider narrows it to a few lanes),
and per IP. The launch day is marked; its figures are the volume each lane
is ready for on that day.

  --adapted   the schedule as it now stands, from the database: days already
              run as they ran, and from today each lane one stage per sending
              day from where it is (holds and back-offs shift its volumes
              later; a paused lane sends nothing)
  --fit       feasibility before day 1: per lane the launch-day target, what
              the ramp reaches by launch under the providers' modelled limits,
              mailboxes against per-mailbox limits, slack for holds, and what to
              change (earliest start, mailboxes, the volume it can carry)
  --model FILE  with --fit: the providers' limits from this model file (as
              \`warmup simulate --model\`) instead of the default model`;

/** Columns: one per lane when there are few, else one per provider. */
function render(days: readonly PreviewDay[], today: string | null = null): string {
  const first = days[0]!;
  const perLane = first.lanes.length <= 8;
  const keys = perLane ? first.lanes.map((l) => `${l.ip} ${l.provider}`) : Object.keys(first.perProvider);
  const header = ['day', 'date', '', ...(perLane ? first.lanes.map((l) => `${l.provider}@${l.ip}`) : keys), 'total'];
  const rows = days.map((d) => [
    String(d.day), `${d.date} ${d.weekday}`, d.launch ? 'LAUNCH' : d.skip ? 'skip' : d.date === today ? 'today' : '',
    ...(perLane ? d.lanes.map((l) => num(l.volume)) : keys.map((k) => num(d.perProvider[k] ?? 0))),
    num(d.total),
  ]);
  return table(header, rows, 3);
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    ip: { type: 'string' }, provider: { type: 'string' }, json: { type: 'boolean' }, adapted: { type: 'boolean' }, db: { type: 'string' }, fit: { type: 'boolean' }, model: { type: 'string' },
  }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const { plan } = loadOrExit(file, io, { quietWarnings: Boolean(values.fit && values.json) });
  if (values.model !== undefined && !values.fit) { io.err('warmup plan: --model goes with --fit'); throw new ExitError(2); }
  if (values.fit) {
    if (values.adapted) { io.err('warmup plan: --fit plans before day 1; it does not combine with --adapted'); throw new ExitError(2); }
    return (await import('./plan-fit.js')).runFit(plan, Boolean(values.json), io, values.model);
  }
  if (values.ip && !plan.ips.some((i) => i.address === values.ip)) {
    io.err(`warmup plan: ${values.ip} is not one of the plan's IPs`);
    throw new ExitError(2);
  }
  if (values.provider && !plan.providers.some((p) => p.name === values.provider)) {
    io.err(`warmup plan: no provider "${values.provider}" (providers: ${plan.providers.map((p) => p.name).join(', ')})`);
    throw new ExitError(2);
  }
  const filter = { ...(values.ip ? { ip: values.ip } : {}), ...(values.provider ? { provider: values.provider } : {}) };
  let today: string | null = null;
  let days: PreviewDay[];
  if (values.adapted) {
    const a = await loadAdapted(plan, values.db, filter);
    ({ days, today } = a);
  } else {
    days = previewPlan(plan, filter);
  }
  if (values.json) {
    io.out(JSON.stringify({ plan: plan.name, timezone: plan.timezone, start: plan.start, launch: plan.launch, ...(today ? { adapted: true, today } : {}), days }, null, 2));
    return 0;
  }
  const ramp = days.filter((d) => !d.launch);
  io.out(`Plan "${plan.name}": ${plan.start} -> launch ${plan.launch} (${plan.timezone})${filter.ip ? `, IP ${filter.ip}` : ''}${filter.provider ? `, provider ${filter.provider}` : ''}${today ? `, as adapted up to ${today}` : ''}\n`);
  io.out(render(days, today));
  const ips = Object.keys(days[0]!.perIp);
  if (ips.length > 1) {
    io.out('\nPer IP (total over the ramp, launch-day capacity):');
    const rows = ips.map((ip) => [ip, num(ramp.reduce((s, d) => s + (d.perIp[ip] ?? 0), 0)), num(days.at(-1)!.perIp[ip] ?? 0)]);
    io.out(table(['ip', 'ramp total', 'launch day'], rows));
  }
  io.out(`\nTotal over the ramp: ${num(ramp.reduce((s, d) => s + d.total, 0))} messages.`);
  return 0;
}

/** The adapted schedule from the database, as of the running daemon's clock (or now). */
async function loadAdapted(plan: Plan, db: string | undefined, filter: { ip?: string; provider?: string }): Promise<{ days: PreviewDay[]; today: string }> {
  const store = await openStoreFor({ plan, db, readonly: true });
  try {
    const today = localTime(await store.daemonNow(plan.name, Date.now()), plan.timezone).date;
    const lanes = await store.loadLanes(plan.name);
    const rows = await store.laneDays(plan.name);
    const progress: LaneProgress[] = lanes.map((l) => {
      const mine = rows.filter((r) => r.lane_id === l.id);
      return { ip: l.ip, provider: l.provider, state: l.state, nextStage: nextStage(l.stage, mine.at(-1)), days: new Map(mine.map((r) => [r.day, { stage: r.stage, target: r.target }])) };
    });
    return { days: adaptedPlan(plan, progress, today, filter), today };
  } finally {
    await store.close();
  }
}
