import { addDays, daysBetween } from '../../schedule/calendar.js';
import { openStore } from '../../store/open.js';
import * as q from '../../store/queries.js';
import { ExitError } from '../../util/errors.js';
import { parse, planArg } from '../args.js';
import { num, pct, table } from '../format.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

export const usage = `Usage: warmup status PLAN.yaml [--day N] [--db PATH] [--json]

Where each lane stands, read from the database (safe while the daemon runs):
per lane the stage, the day's target, sent, accepted, deferred (4xx answers),
bounced, failed (network, timeout, TLS), in flight, retries queued and state;
then totals per IP and per provider.

  --day N   plan day N (1 = the start date); default: the latest day with sending`;

interface Totals { target: number; sent: number; accepted: number; deferred: number; bounced: number; failed: number; inFlight: number; retries: number }
const zero = (): Totals => ({ target: 0, sent: 0, accepted: 0, deferred: 0, bounced: 0, failed: 0, inFlight: 0, retries: 0 });

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { day: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' } }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const { plan } = loadOrExit(file, io, { quietWarnings: true });
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
    const queues = await q.queueCounts(store.db, plan.name);
    const run = await q.lastRun(store.db, plan.name);
    const byLane = new Map(days.map((d) => [d.lane_id, d]));
    const rows = lanes.map((l) => {
      const d = byLane.get(l.id);
      const qc = queues.get(l.id) ?? { inFlight: 0, retries: 0 };
      return {
        ip: l.ip, provider: l.provider, stage: d?.stage ?? l.stage, state: l.state, stateReason: l.state_reason,
        target: d?.target ?? 0, sent: d?.sent ?? 0, accepted: d?.accepted ?? 0, deferred: d?.deferred ?? 0,
        bounced: d?.bounced ?? 0, failed: d?.failed ?? 0, inFlight: qc.inFlight, retries: qc.retries, decision: d?.decision ?? null,
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
    const report = {
      plan: plan.name, day: day ?? null, dayNumber, launch: plan.launch,
      run: run ? { id: run.id, startedAt: new Date(run.started_at).toISOString(), endedAt: run.ended_at ? new Date(run.ended_at).toISOString() : null, endReason: run.end_reason, speed: run.speed } : null,
      lanes: rows, perIp: sum('ip'), perProvider: sum('provider'),
    };
    if (values.json) { io.out(JSON.stringify(report, null, 2)); return 0; }
    io.out(`Plan "${plan.name}"${day ? `, day ${dayNumber} (${day})` : ': nothing sent yet'}; launch ${plan.launch}`);
    if (run) io.out(`Last run #${run.id} started ${report.run!.startedAt}${run.ended_at ? `, ended ${report.run!.endedAt} (${run.end_reason})` : ', running'}`);
    const head = ['ip', 'provider', 'stage', 'target', 'sent', 'accepted', 'deferred', 'bounced', 'failed', 'in flight', 'retries', 'state'];
    io.out(`\n${table(head, rows.map((r) => [r.ip, r.provider, String(r.stage), num(r.target), num(r.sent), num(r.accepted), num(r.deferred), num(r.bounced), num(r.failed), num(r.inFlight), num(r.retries), r.state === 'active' ? r.state : `${r.state}: ${r.stateReason ?? ''}`]), 2)}`);
    for (const [label, totals] of [['ip', report.perIp], ['provider', report.perProvider]] as const) {
      io.out(`\nPer ${label}:\n${table([label, 'target', 'sent', 'accepted', 'acceptance', 'deferred', 'bounced', 'failed', 'in flight', 'retries'],
        Object.entries(totals).map(([k, t]) => [k, num(t.target), num(t.sent), num(t.accepted), pct(t.target ? t.accepted / t.target : null), num(t.deferred), num(t.bounced), num(t.failed), num(t.inFlight), num(t.retries)]))}`);
    }
    return 0;
  } finally {
    await store.close();
  }
}
