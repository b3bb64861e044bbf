/**
 * The text output of `warmup simulate`: day by day per lane, the events that
 * are not routine, and launch readiness. Pure.
 */
import { num, pct, table } from '../cli/format.js';
import type { SimulationResult } from './run.js';

const DECISION: Readonly<Record<string, string>> = { advance: 'advance', hold: 'HOLD', back_off: 'BACK OFF', pause: 'PAUSE' };

/** Routine events left out of the event list (counted in its summary): the day tables show advances, and lapses follow every suspension. */
const ROUTINE = new Set(['day_advance', 'shaping_lapsed', 'active']);

/** Renders a simulation result for the terminal. */
export function formatSimulation(r: SimulationResult, o: { wallMs?: number; maxEvents?: number } = {}): string {
  const out: string[] = [];
  const lanes = r.lanes.length;
  out.push(`Simulated plan "${r.plan}" with seed ${r.seed}: ${r.from} to ${r.until}, ${lanes} lanes, ${Math.round(r.stepMs / 60_000)}-minute steps` +
    (o.wallMs === undefined ? '' : `, in ${(o.wallMs / 1000).toFixed(1)} s`));
  out.push(`Modelled receivers: ${Object.entries(r.profiles).map(([p, m]) => (p === m ? p : `${p} (as ${m})`)).join(', ')}`);

  const byDay = new Map<string, typeof r.days[number][]>();
  for (const d of r.days) byDay.set(d.day, [...(byDay.get(d.day) ?? []), d]);
  for (const [day, rows] of byDay) {
    const t = rows.reduce((a, d) => ({
      target: a.target + d.target, sent: a.sent + d.sent, accepted: a.accepted + d.accepted, deferred: a.deferred + d.deferred,
      mailbox: a.mailbox + d.mailboxDeferred, greylisted: a.greylisted + d.greylisted, expired: a.expired + d.expired,
    }), { target: 0, sent: 0, accepted: 0, deferred: 0, mailbox: 0, greylisted: 0, expired: 0 });
    out.push(`\nDay ${rows[0]!.dayNumber} (${day}): target ${num(t.target)}, sent ${num(t.sent)}, accepted ${num(t.accepted)} (${pct(t.target ? t.accepted / t.target : null)}), `
      + `${num(t.deferred)} deferrals, ${num(t.mailbox)} per-mailbox deferrals, ${num(t.greylisted)} greylisted, ${num(t.expired)} expired`);
    // The same figures as warmup status: sent (first tries) explains a target not met (e.g. a suspension).
    out.push(table(['ip', 'provider', 'stage', 'target', 'sent', 'accepted', 'deferred', 'mbox-def', 'grey', 'bounced', 'expired', 'failed', 'decision'], rows.map((d) => [
      d.ip, d.provider, String(d.stage), num(d.target), num(d.sent), num(d.accepted), num(d.deferred), num(d.mailboxDeferred), num(d.greylisted), num(d.bounced), num(d.expired), num(d.failed),
      d.decision === null ? 'open' : DECISION[d.decision] ?? d.decision,
    ]), 2));
  }

  const notable = r.events.filter((e) => !ROUTINE.has(e.kind));
  const max = o.maxEvents ?? 40;
  const kinds = new Map<string, number>();
  for (const e of r.events) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
  out.push(`\nEvents: ${[...kinds].map(([k, n]) => `${num(n)} ${k}`).join(', ') || 'none'}`);
  if (notable.length > max) out.push(`The first ${max} of ${num(notable.length)} that are not routine (--json has them all):`);
  for (const e of notable.slice(0, max)) {
    const reason = typeof e.cause.reason === 'string' ? e.cause.reason : typeof e.cause.rule === 'string' ? `rule ${e.cause.rule}` : '';
    out.push(`  ${e.at.slice(0, 16).replace('T', ' ')}Z  ${e.ip ?? '*'} ${e.provider ?? '*'}  ${e.kind}${e.from || e.to ? ` ${e.from ?? ''} -> ${e.to ?? ''}` : ''}  (${e.actor}${reason ? `: ${reason}` : ''})`);
  }

  const a = r.answers;
  out.push(`\nModelled answers: ${num(a.accepted)} accepted, ${num(a.rate)} rate limits, ${num(a.throttled)} deferred while throttled (ignored), ` +
    `${num(a.greylist)} greylisted, ${num(a.mailbox)} per-mailbox, ${num(a.random)} random, ${num(a.block)} blocked`);
  const t = r.totals;
  out.push(`Totals: ${num(t.messages)} messages, ${num(t.attempts)} attempts, ${num(t.accepted)} accepted, ${num(t.deferred)} deferrals (${num(t.mailboxDeferred)} of them per-mailbox), ${num(t.bounced)} bounced, ${num(t.expired)} expired`);

  const f = r.forecast;
  const ready = f.lanes.filter((l) => l.verdict === 'ready').length;
  out.push(`\nLaunch readiness on ${f.launch} (as of ${f.asOf}): ${ready} of ${f.lanes.length} lanes ready`);
  out.push(table(['ip', 'provider', 'stage', 'state', 'launch target', 'projected', 'verdict', 'ready on'], f.lanes.map((l) => [
    l.ip, l.provider, String(l.stage), l.state, num(l.launchTarget), num(l.projectedVolume), l.verdict, l.readyOn ?? 'never',
  ]), 2));
  const planned: Record<string, number> = {};
  for (const l of f.lanes) planned[l.provider] = (planned[l.provider] ?? 0) + l.launchTarget;
  out.push(`\nLaunch-day capacity per provider (projected / planned): ${Object.entries(f.capacity).map(([p, c]) => `${p} ${num(c)} / ${num(planned[p] ?? 0)}`).join(', ')}`);
  return out.join('\n');
}
