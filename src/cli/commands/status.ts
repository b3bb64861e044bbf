import { forecastLaunch } from '../../policy/forecast.js';
import { addDays, daysBetween } from '../../schedule/calendar.js';
import { openStore } from '../../store/open.js';
import * as q from '../../store/queries.js';
import { ExitError } from '../../util/errors.js';
import { parse, planArg } from '../args.js';
import { num, pct, table } from '../format.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

export const usage = `Usage: warmup status PLAN.yaml [--day N] [--db PATH] [--json] [--watch [SECONDS]]

Where each lane stands, read from the database (safe while the daemon runs):
per lane the stage, the day's target, sent, accepted, deferred (4xx answers),
bounced, failed (network, timeout, TLS), in flight, retries queued and state
with every hold on the lane (who, until when, why; --json adds the evidence);
then totals per IP and per provider.

Then the launch forecast: per lane whether, at the pace so far (holds and
back-offs included), it reaches its launch-day volume by the launch date and
when it would; per IP a verdict (ready / behind / paused) and its launch-day
capacity per provider; and the total launch-day capacity per provider.

  --day N          plan day N (1 = the start date); default: the latest day with sending
  --watch [SECS]   redraw every SECS seconds (default 5) until interrupted`;

interface Totals { target: number; sent: number; accepted: number; deferred: number; bounced: number; failed: number; inFlight: number; retries: number }
const zero = (): Totals => ({ target: 0, sent: 0, accepted: 0, deferred: 0, bounced: 0, failed: 0, inFlight: 0, retries: 0 });

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  // --watch takes an optional number: let parseArgs see it as a string option.
  const args = argv.map((a, i) => (a === '--watch' && !/^\d+$/.test(argv[i + 1] ?? '') ? '--watch=5' : a));
  const { values, positionals } = parse(args, { day: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' }, watch: { type: 'string' } }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const { plan } = loadOrExit(file, io, { quietWarnings: true });
  if (values.watch === undefined) return once(plan, values, io);
  const seconds = Number(values.watch);
  if (!(seconds > 0)) { io.err(`warmup status: --watch takes a number of seconds (got ${values.watch})`); throw new ExitError(2); }
  for (;;) {
    let frame = '';
    const code = await once(plan, values, { ...io, out: (t) => { frame += t.endsWith('\n') ? t : `${t}\n`; } });
    io.out(`\x1b[2J\x1b[H${frame}\n(refreshing every ${seconds}s; Ctrl-C to stop)`);
    if (code !== 0) return code;
    await new Promise((r) => setTimeout(r, seconds * 1000));
  }
}

async function once(plan: import('../../plan/types.js').Plan, values: { day?: string; db?: string; json?: boolean }, io: CliIo): Promise<number> {
  const store = await openStore(values.db ?? plan.storePath, { readonly: true });
  try {
    let day: string | undefined;
    if (values.day !== undefined) {
      const n = Number(values.day);
      if (!Number.isInteger(n) || n < 1) { io.err(`warmup status: --day must be a whole number from 1 (got ${values.day})`); throw new ExitError(2); }
      day = addDays(plan.start, n - 1);
    } else {
      const latest = await store.db.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
        .select((eb) => eb.fn.max('lane_days.day').as('day')).where('lanes.plan', '=', plan.name).executeTakeFirst();
      day = latest?.day ?? undefined;
    }
    const lanes = await q.loadLanes(store.db, plan.name);
    const days = day ? await q.laneDays(store.db, plan.name, day) : [];
    const history = await q.laneHistory(store.db, plan.name);
    const queues = await q.queueCounts(store.db, plan.name);
    const run = await q.lastRun(store.db, plan.name);
    const holds = new Map<number, q.HoldView[]>();
    for (const h of await q.listHolds(store.db, plan.name)) holds.set(h.lane_id, [...holds.get(h.lane_id) ?? [], q.holdView(h)]);
    const byLane = new Map(days.map((d) => [d.lane_id, d]));
    const rows = lanes.map((l) => {
      const d = byLane.get(l.id);
      const qc = queues.get(l.id) ?? { inFlight: 0, retries: 0 };
      return {
        ip: l.ip, provider: l.provider, stage: d?.stage ?? l.stage, state: l.state, stateReason: l.state_reason, holds: holds.get(l.id) ?? [],
        target: d?.target ?? 0, sent: d?.sent ?? 0, accepted: d?.accepted ?? 0, deferred: d?.deferred ?? 0,
        bounced: d?.bounced ?? 0, failed: d?.failed ?? 0, inFlight: qc.inFlight, retries: qc.retries, decision: d?.decision ?? null,
        inbox: d?.inbox ?? 0, spam: d?.spam ?? 0, missing: d?.missing ?? 0,
        holdsInRow: l.holds_in_row,
        flagged: l.holds_in_row >= (plan.providers.find((p) => p.name === l.provider)?.thresholds.flagAfterHolds ?? Infinity),
        rateFactor: l.rate_factor, maxConnections: l.max_connections,
      };
    });
    const sum = (key: 'ip' | 'provider') => {
      const out: Record<string, Totals> = {};
      for (const r of rows) {
        const t = (out[r[key]] ??= zero());
        t.target += r.target; t.sent += r.sent; t.accepted += r.accepted; t.deferred += r.deferred;
        t.bounced += r.bounced; t.failed += r.failed; t.inFlight += r.inFlight; t.retries += r.retries;
      }
      return out;
    };
    const dayNumber = day ? daysBetween(plan.start, day) + 1 : null;
    const forecast = forecastLaunch(plan, lanes, history, day ?? plan.start);
    const report = {
      plan: plan.name, day: day ?? null, dayNumber, launch: plan.launch,
      run: run ? { id: run.id, startedAt: new Date(run.started_at).toISOString(), endedAt: run.ended_at ? new Date(run.ended_at).toISOString() : null, endReason: run.end_reason, speed: run.speed } : null,
      lanes: rows, perIp: sum('ip'), perProvider: sum('provider'), forecast,
    };
    if (values.json) { io.out(JSON.stringify(report, null, 2)); return 0; }
    io.out(`Plan "${plan.name}"${day ? `, day ${dayNumber} (${day})` : ': nothing sent yet'}; launch ${plan.launch}`);
    if (run) io.out(`Last run #${run.id} started ${report.run!.startedAt}${run.ended_at ? `, ended ${report.run!.endedAt} (${run.end_reason})` : ', running'}`);
    const placed = rows.some((r) => r.inbox + r.spam + r.missing > 0);
    const head = ['ip', 'provider', 'stage', 'target', 'sent', 'accepted', 'deferred', 'bounced', 'failed', 'in flight', 'retries', ...(placed ? ['inbox', 'spam'] : []), 'decision', 'state'];
    const stateOf = (r: (typeof rows)[number]) => {
      const shaping = [r.rateFactor < 1 ? `rate x${r.rateFactor}` : '', r.maxConnections ? `${r.maxConnections} conn` : ''].filter(Boolean).join(', ');
      // Every hold on the lane: it sends again only once all are gone.
      const base = r.holds.length === 0 ? 'active'
        : `${r.state}: ${r.holds.map((h) => `${h.actor}${h.until ? ` until ${h.until.slice(0, 16).replace('T', ' ')}` : ''} (${h.reason.slice(0, 60)})`).join(' + ')}`;
      return [base, shaping, r.flagged ? `FLAGGED: held ${r.holdsInRow} days` : ''].filter(Boolean).join('; ');
    };
    io.out(`\n${table(head, rows.map((r) => [r.ip, r.provider, String(r.stage), num(r.target), num(r.sent), num(r.accepted), num(r.deferred), num(r.bounced), num(r.failed), num(r.inFlight), num(r.retries),
      ...(placed ? [pct(r.inbox + r.spam ? r.inbox / (r.inbox + r.spam) : null), pct(r.inbox + r.spam ? r.spam / (r.inbox + r.spam) : null)] : []), r.decision ?? '-', stateOf(r)]), 2)}`);
    for (const [label, totals] of [['ip', report.perIp], ['provider', report.perProvider]] as const) {
      io.out(`\nPer ${label}:\n${table([label, 'target', 'sent', 'accepted', 'acceptance', 'deferred', 'bounced', 'failed', 'in flight', 'retries'],
        Object.entries(totals).map(([k, t]) => [k, num(t.target), num(t.sent), num(t.accepted), pct(t.target ? t.accepted / t.target : null), num(t.deferred), num(t.bounced), num(t.failed), num(t.inFlight), num(t.retries)]))}`);
    }
    io.out(`\nLaunch forecast for ${plan.launch} (at each lane's pace so far):`);
    io.out(table(['ip', 'provider', 'stage', 'pace', 'launch target', 'projected', 'verdict', 'ready on'], forecast.lanes.map((l) => [
      l.ip, l.provider, String(l.stage), pct(l.pace), num(l.launchTarget), num(l.projectedVolume), l.verdict,
      l.readyOn === null ? 'never at this pace' : l.readyOn + (daysBetween(l.readyOn, plan.launch) < 0 ? ' (after launch)' : ''),
    ]), 2));
    const providers = plan.providers.map((p) => p.name);
    io.out(`\nPer IP on launch day:\n${table(['ip', 'verdict', ...providers], forecast.ips.map((i) => [i.ip, i.verdict, ...providers.map((p) => num(i.capacity[p] ?? 0))]), 2)}`);
    io.out(`\nLaunch-day capacity per provider (sign-up mail each can take): ${providers.map((p) => `${p} ${num(forecast.capacity[p] ?? 0)}`).join(', ')}`);
    return 0;
  } finally {
    await store.close();
  }
}
