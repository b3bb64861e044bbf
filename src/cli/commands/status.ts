import type { Plan } from '../../plan/types.js';
import { launchReadiness } from '../../policy/forecast.js';
import { addDays, daysBetween, localTime } from '../../schedule/calendar.js';
import { openStoreFor } from '../../store/select.js';
import { holdView, type HoldView } from '../../store/hold-view.js';
import { ExitError } from '../../util/errors.js';
import { parse, planArg } from '../args.js';
import type { CliIo } from '../io.js';
import { fit, jsonLine, jsonText, printable } from '../format.js';
import { loadForReading } from '../load-reading.js';
import { applyFilter, filterError, STATE_FILTERS, statusLanes, totalsBy, type StatusFilter } from '../status/model.js';
import { renderQueue, renderStatus, type StatusView } from '../status/render.js';
import { renderFleet } from '../status/fleet.js';
import { readFleetView } from '../../store/fleet-view.js';

export const usage = `Usage: warmup status PLAN.yaml [--day N] [--at ISO-INSTANT] [--db PATH|URL] [--json] [--watch [SECONDS]]
                     [--ip ADDR] [--provider NAME] [--state STATE] [--problems] [--queue] [--all]

Where each lane stands, read from the database (safe while the daemon runs), as of
the database's own clock (the plan time of its last run; --at to choose), with
every time in the plan's time zone:
per lane the stage, the state or the day's decision, the date it will be ready for
launch at its pace, then the day's target, sent (first tries), accepted, deferred
(4xx about the IP), mbox-def (4xx about one mailbox), bounced, expired (given up
after retrying), failed (network, timeout, TLS) and queue (in flight + waiting);
every hold on each listed lane (who, until when, why; --json adds the evidence),
the last reply and the most frequent problem reply of each listed lane; totals per
provider and per IP; launch-day capacity per provider. With many lanes only those
that need attention (held, behind, paused, suspended, failing, flagged) are listed.

  --day N          plan day N (1 = the start date); default: the latest day with sending
  --at INSTANT     as of this instant, e.g. 2026-12-05T18:00:00Z
  --ip ADDR        only this IP's lanes          --provider NAME  only this provider's
  --state STATE    ${STATE_FILTERS.join(', ')}
  --problems       only lanes that need attention
  --all            list every lane, however many
  --queue          the retry queue per lane: waiting, in flight, oldest, next retry,
                   top deferral replies
  --watch [SECS]   redraw every SECS seconds (default 5) until interrupted`;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  // --watch takes an optional number: let parseArgs see it as a string option.
  const args = argv.map((a, i) => (a === '--watch' && !/^\d+$/.test(argv[i + 1] ?? '') ? '--watch=5' : a));
  const { values, positionals } = parse(args, {
    day: { type: 'string' }, at: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' }, watch: { type: 'string' },
    ip: { type: 'string' }, provider: { type: 'string' }, state: { type: 'string' }, problems: { type: 'boolean' }, queue: { type: 'boolean' }, all: { type: 'boolean' },
  }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const plan = await loadForReading(file, io);
  const filter: StatusFilter = {
    ...(values.ip !== undefined ? { ip: values.ip } : {}), ...(values.provider !== undefined ? { provider: values.provider } : {}),
    ...(values.state !== undefined ? { state: values.state } : {}), ...(values.problems ? { problems: true } : {}),
  };
  const bad = filterError(plan, filter);
  if (bad) { io.err(`warmup status: ${bad}`); throw new ExitError(2); }
  const at = values.at === undefined ? null : Date.parse(values.at);
  if (at !== null && Number.isNaN(at)) { io.err(`warmup status: --at must be an ISO instant such as 2026-12-05T17:00:00Z (got ${values.at})`); throw new ExitError(2); }
  const opts = { ...values, at, filter };
  if (values.watch === undefined) return once(plan, opts, io);
  const seconds = Number(values.watch);
  if (!(seconds > 0)) { io.err(`warmup status: --watch takes a number of seconds (got ${values.watch})`); throw new ExitError(2); }
  for (;;) {
    let frame = '';
    // The frame is drawn once whole: everything goes through `out` (no `outBytes`).
    const { outBytes: _direct, ...frameIo } = io;
    const code = await once(plan, opts, { ...frameIo, out: (t) => { frame += t.endsWith('\n') ? t : `${t}\n`; } });
    io.out(`\x1b[2J\x1b[H${frame}\n(refreshing every ${seconds}s; Ctrl-C to stop)`);
    if (code !== 0) return code;
    await new Promise((r) => setTimeout(r, seconds * 1000));
  }
}

interface Options { day?: string; db?: string; json?: boolean; queue?: boolean; all?: boolean; at: number | null; filter: StatusFilter }

async function once(plan: Plan, values: Options, io: CliIo): Promise<number> {
  const store = await openStoreFor({ plan, db: values.db, readonly: true });
  try {
    const run = await store.lastRun(plan.name);
    const now = values.at ?? await store.storeNow(plan.name, Date.now());
    const clock: StatusView['clock'] = values.at !== null ? '--at' : !run ? 'wall clock' : run.ended_at !== null ? 'run ended' : 'run running';
    let day: string | undefined;
    if (values.day !== undefined) {
      const n = Number(values.day);
      if (!Number.isInteger(n) || n < 1) { io.err(`warmup status: --day must be a whole number from 1 (got ${values.day})`); throw new ExitError(2); }
      day = addDays(plan.start, n - 1);
    } else {
      // The latest day with sending up to the view's date.
      day = await store.latestLaneDay(plan.name, localTime(now, plan.timezone).date);
    }
    const lanes = await store.loadLanes(plan.name);
    const ids = lanes.map((l) => l.id);
    const days = day ? await store.laneDays(plan.name, day) : [];
    // The forecast's history as one tally per lane (decided, advanced, last decided day), not every lane-day.
    const forecast = launchReadiness(plan, lanes, { tallies: await store.decisionTallies(plan.name) }, now);
    const holds = new Map<number, HoldView[]>();
    for (const h of await store.listHolds(plan.name)) holds.set(h.lane_id, [...holds.get(h.lane_id) ?? [], holdView(h)]);
    const all = statusLanes({
      plan, lanes, forecast,
      days: new Map(days.map((d) => [d.lane_id, d])),
      queues: await store.laneQueues(plan.name),
      lastReplies: await store.lastReplies(ids),
      replies: day ? await store.replyCounts(ids, day) : new Map(),
      holds,
    });
    // Which daemon of the fleet sends from which IP (a database from before fleets has no leases).
    const fleet = await readFleetView(store, plan, Date.now());
    const view: StatusView = {
      plan, day: day ?? null, dayNumber: day ? daysBetween(plan.start, day) + 1 : null, now, clock,
      run: run ? { id: run.id, startedAt: run.started_at, endedAt: run.ended_at, endReason: run.end_reason, speed: run.speed } : null,
      all, shown: applyFilter(all, values.filter), filter: values.filter, forecast,
    };
    if (values.json) {
      const json = {
        plan: plan.name, timezone: plan.timezone, day: view.day, dayNumber: view.dayNumber, launch: plan.launch,
        asOf: new Date(now).toISOString(), clock,
        run: run ? { id: run.id, startedAt: new Date(run.started_at).toISOString(), endedAt: run.ended_at ? new Date(run.ended_at).toISOString() : null, endReason: run.end_reason, speed: run.speed } : null,
        fleet: { daemons: fleet.daemons, ips: fleet.ips, attended: fleet.attended },
        filter: values.filter, lanes: view.shown, perIp: totalsBy(view.shown, 'ip'), perProvider: totalsBy(view.shown, 'provider'), forecast,
      };
      if (io.outBytes) io.outBytes(jsonLine(json));
      else io.out(jsonText(json));
      return 0;
    }
    const width = terminalWidth(io);
    const lines = values.queue ? renderQueue(view, { width }) : renderStatus(view, { width, all: Boolean(values.all) });
    if (!values.queue) lines.splice(3, 0, ...renderFleet(fleet, plan.timezone).map((l) => fit(l, width)));
    // Replies and reasons come from outside: no control character reaches the terminal.
    io.out(lines.map(printable).join('\n'));
    return 0;
  } finally {
    await store.close();
  }
}

/** The terminal's width: the CliIo's when it is a terminal, else $COLUMNS, else unknown (nothing cut). */
function terminalWidth(io: CliIo): number | undefined {
  if (io.columns) return io.columns;
  const env = Number(io.env.COLUMNS);
  return Number.isInteger(env) && env > 20 ? env : undefined;
}
