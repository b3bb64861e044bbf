/**
 * `warmup status` as text: a header that says as of when (in the plan's zone), the lanes (all of
 * them when few or when narrowed; otherwise the ones that need the operator, grouped per provider),
 * the replies behind them, totals per provider and per IP, the launch forecast, and the queue view
 * (`--queue`). Every line fits the terminal width when it is known. Pure.
 */
import type { Plan } from '../../plan/types.js';
import { evidenceOf } from '../../policy/evidence.js';
import type { Forecast } from '../../policy/forecast.js';
import { daysBetween } from '../../schedule/calendar.js';
import type { HoldView } from '../../store/holds.js';
import { duration, fit, localStamp, num, pct, printable, table } from '../format.js';
import { totalsBy, type Figures, type StatusFilter, type StatusLane } from './model.js';

/** Above this many lanes the table lists only the lanes that need attention (unless --all or narrowed). */
export const MAX_LISTED_LANES = 24;

export interface StatusView {
  readonly plan: Plan;
  readonly day: string | null;
  readonly dayNumber: number | null;
  /** The instant the view is as of, and where it came from. */
  readonly now: number;
  readonly clock: 'run ended' | 'run running' | 'wall clock' | '--at';
  readonly run: { readonly id: number; readonly startedAt: number; readonly endedAt: number | null; readonly endReason: string | null; readonly speed: number } | null;
  /** Every lane, and the lanes the filter keeps. */
  readonly all: readonly StatusLane[];
  readonly shown: readonly StatusLane[];
  readonly filter: StatusFilter;
  readonly forecast: Forecast;
}

export interface RenderOptions {
  /** Terminal width; lines are cut to it (undefined: not a terminal, nothing is cut). */
  readonly width?: number;
  /** List every lane even when there are many. */
  readonly all?: boolean;
}

const BASE_HEAD = ['target', 'sent', 'accepted', 'deferred', 'mbox-def', 'bounced', 'expired', 'failed', 'queue'];
/** With real mail routed through Postfix, `sent` is split into seed sends and routed mail beside it. */
const figureHead = (routed: boolean) => (routed ? ['target', 'sent', 'seed', 'routed', ...BASE_HEAD.slice(2)] : BASE_HEAD);
const figureCells = (f: Figures, routed: boolean) => [num(f.target), num(f.sent), ...(routed ? [num(f.sent - f.routed), num(f.routed)] : []), num(f.accepted), num(f.deferred), num(f.mailboxDeferred), num(f.bounced), num(f.expired), num(f.failed), num(f.inFlight + f.retries)];
const routes = (v: StatusView) => v.plan.postfix !== null || v.all.some((l) => l.routed > 0);

export function renderStatus(v: StatusView, o: RenderOptions = {}): string[] {
  const out = header(v);
  if (v.day === null) {
    out.push('', 'Nothing sent yet.');
  }
  const narrowed = v.filter.ip !== undefined || v.filter.provider !== undefined;
  const listAll = o.all || narrowed || v.shown.length <= MAX_LISTED_LANES;
  const listed = listAll ? v.shown : v.shown.filter((l) => l.problems.length > 0);
  if (v.day !== null) {
    out.push('', listAll ? `Lanes on day ${v.dayNumber} (${v.day}):` : `Lanes that need attention on day ${v.dayNumber} (${v.day}): ${listed.length} of ${v.shown.length}`);
    if (listed.length > 0) out.push(...laneTable(v, listed));
    else out.push('  none');
    if (!listAll) out.push(`(${v.shown.length - listed.length} lanes without problems not listed: --provider NAME or --ip ADDR narrows, --all lists every lane)`);
    out.push(`mbox-def: deferrals about one mailbox (not the IP); queue: in flight + waiting for a retry (\`--queue\` for details)${routes(v) ? '; seed: warmup\'s own sends, routed: real mail Postfix delivered through the lane' : ''}`);
    const replies = replyLines(v, listed);
    if (replies.length > 0) out.push('', 'Holds and replies (last, and most frequent problem reply of the day):', ...replies);
  }
  out.push('', 'Per provider:', ...providerTable(v));
  out.push('', ...ipLines(v, listAll));
  out.push('', `Launch-day capacity per provider (sign-up mail each can take on ${v.plan.launch}): ${v.plan.providers.map((p) => `${p.name} ${num(v.forecast.capacity[p.name] ?? 0)}`).join(', ')}`);
  return out.map((l) => fit(l, o.width));
}

/** `warmup status --queue`: what waits, per lane, and why. */
export function renderQueue(v: StatusView, o: RenderOptions = {}): string[] {
  const out = header(v);
  const lanes = v.shown.filter((l) => l.retries + l.inFlight > 0).sort((a, b) => b.retries - a.retries || b.inFlight - a.inFlight);
  const waiting = lanes.reduce((a, l) => a + l.retries, 0);
  const inFlight = lanes.reduce((a, l) => a + l.inFlight, 0);
  const oldest = min(lanes.map((l) => l.queue.oldestAt));
  const next = min(lanes.map((l) => l.queue.nextRetryAt));
  out.push('', `Queue: ${num(waiting)} messages waiting for a retry on ${lanes.length} lanes, ${num(inFlight)} in flight`
    + (oldest === null ? '' : `; oldest waiting ${duration(v.now - oldest)}`) + (next === null ? '' : `; next retry ${when(v, next)}`));
  if (lanes.length === 0) return out.map((l) => fit(l, o.width));
  out.push(...table(['ip', 'provider', 'waiting', 'in flight', 'oldest', 'next retry', 'top deferral replies today'], lanes.map((l) => [
    l.ip, l.provider, num(l.retries), num(l.inFlight), l.queue.oldestAt === null ? '-' : duration(v.now - l.queue.oldestAt),
    l.queue.nextRetryAt === null ? '-' : when(v, l.queue.nextRetryAt),
    l.topReplies.filter((r) => r.outcome === 'deferred').slice(0, 2).map((r) => `${r.n}x ${r.reply}`).join(' | ') || '-',
  ]), 2).split('\n'));
  // The reply column is the last, so cutting lines to the width keeps the columns aligned.
  return out.map((l) => fit(l, o.width));
}

function header(v: StatusView): string[] {
  const zone = v.plan.timezone;
  const asOf = `${localStamp(v.now, zone)}`;
  const source = v.clock === 'run ended' ? `the end of run #${v.run!.id}${v.run!.endReason ? ` (${v.run!.endReason})` : ''}`
    : v.clock === 'run running' ? `run #${v.run!.id}'s clock${v.run!.speed !== 1 ? ` (x${v.run!.speed})` : ''}, running`
      : v.clock === '--at' ? '--at' : 'the wall clock (no run recorded)';
  const totalDays = daysBetween(v.plan.start, v.plan.launch);
  const lines = [
    `Plan "${v.plan.name}"${v.day ? `, day ${v.dayNumber} of ${totalDays} (${v.day})` : ''}; launch ${v.plan.launch}; times in ${zone}`,
    `As of ${asOf}, ${source}${v.run ? `; run #${v.run.id} started ${localStamp(v.run.startedAt, zone)}` : ''}`,
  ];
  const count = (pred: (l: StatusLane) => boolean) => v.all.filter(pred).length;
  const states = ['active', 'suspended', 'paused'].map((s) => [s, count((l) => l.state === s)] as const).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`);
  const verdicts = ['ready', 'behind'].map((s) => [s, count((l) => l.forecast?.verdict === s)] as const).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`);
  lines.push(`Lanes: ${v.all.length} (${states.join(', ')}); for launch: ${verdicts.join(', ') || '-'}; ${count((l) => l.problems.length > 0)} need attention`);
  const f = v.filter;
  const filters = [f.ip ? `--ip ${f.ip}` : '', f.provider ? `--provider ${f.provider}` : '', f.state ? `--state ${f.state}` : '', f.problems ? '--problems' : ''].filter(Boolean);
  if (filters.length > 0) lines.push(`Showing ${v.shown.length} of ${v.all.length} lanes (${filters.join(' ')})`);
  return lines;
}

function laneTable(v: StatusView, lanes: readonly StatusLane[]): string[] {
  const placed = lanes.some((r) => r.inbox + r.spam + r.missing > 0);
  const head = ['ip', 'provider', 'state', 'ready on', 'stage', ...figureHead(routes(v)), ...(placed ? ['inbox', 'spam'] : [])];
  return table(head, lanes.map((r) => [
    r.ip, r.provider, stateCell(r), readyCell(v, r), String(r.stage), ...figureCells(r, routes(v)),
    ...(placed ? [pct(r.inbox + r.spam ? r.inbox / (r.inbox + r.spam) : null), pct(r.inbox + r.spam ? r.spam / (r.inbox + r.spam) : null)] : []),
  ]), 4).split('\n');
}

/** `advance`, `hold`, `open` (the day is not decided yet), `paused`..., with shaping and the flag. */
function stateCell(r: StatusLane): string {
  const base = r.state !== 'active' ? r.state : r.decision ?? 'open';
  const extra = [r.rateFactor < 1 ? `x${r.rateFactor}` : '', r.maxConnections ? `${r.maxConnections}conn` : '', r.flagged ? `FLAGGED(${r.holdsInRow})` : ''].filter(Boolean);
  return [base, ...extra].join(' ');
}

function readyCell(v: StatusView, r: StatusLane): string {
  const f = r.forecast;
  if (!f) return '-';
  if (f.verdict === 'paused') return 'paused';
  if (f.readyOn === null) return 'never';
  return `${f.readyOn}${daysBetween(f.readyOn, v.plan.launch) < 0 ? ' late' : ''}`;
}

function replyLines(v: StatusView, lanes: readonly StatusLane[]): string[] {
  const out: string[] = [];
  const pad = Math.max(0, ...lanes.map((l) => l.ip.length + l.provider.length + 1));
  for (const l of lanes) {
    const name = `${l.ip} ${l.provider}`.padEnd(pad);
    // Reasons and replies come from other servers: printable() keeps them from steering the terminal.
    const line = (text: string) => out.push(`  ${name}  ${printable(text)}`);
    if (l.holds.length > 0) {
      const holds = l.holds.map((h) => `${h.actor}${h.until ? ` until ${localStamp(Date.parse(h.until), v.plan.timezone)}` : ''} (${holdWhy(h)})`);
      line(`${l.state}: ${holds.join(' + ')}`);
    } else if (l.state !== 'active' && l.stateReason) line(`${l.state}: ${l.stateReason}`);
    if (l.lastReply) {
      const r = l.lastReply;
      line(`last ${when(v, r.at)} (${duration(v.now - r.at)} ago) ${r.outcome}: ${r.reply ?? '(no reply)'}`);
    }
    const top = l.topReplies[0];
    if (top) line(`most ${top.n}x ${top.outcome}: ${top.reply}`);
    if (l.greylisted > 0) line(`greylisted ${l.greylisted}x (not deferrals; ${l.greylistPassed} accepted on retry)`);
    if (l.unknownUsers > 0) line(`unknown recipients ${l.unknownUsers} (list hygiene, not in the bounce rate)`);
  }
  return out;
}

/** A hold's reason, and the top reply behind it unless the reason already quotes it. */
function holdWhy(h: HoldView): string {
  const [top] = evidenceOf({ evidence: h.evidence });
  const why = h.reason.replace(/; top replies: .*$/, '');
  if (!top || why.includes(top.reply)) return why;
  return `${why}; ${top.count}x ${top.reply}`;
}

function providerTable(v: StatusView): string[] {
  const totals = totalsBy(v.shown, 'provider');
  const rows = v.plan.providers.filter((p) => totals[p.name]).map((p) => {
    const t = totals[p.name]!;
    const mine = v.shown.filter((l) => l.provider === p.name);
    return [p.name, String(mine.length), String(mine.filter((l) => l.forecast?.verdict === 'behind').length), String(mine.filter((l) => l.problems.length > 0).length),
      pct(t.target ? t.accepted / t.target : null), ...figureCells(t, routes(v))];
  });
  return table(['provider', 'lanes', 'behind', 'attention', 'acceptance', ...figureHead(routes(v))], rows).split('\n');
}

function ipLines(v: StatusView, listAll: boolean): string[] {
  const totals = totalsBy(v.shown, 'ip');
  const ips = v.forecast.ips.filter((i) => totals[i.ip]);
  if (!listAll && ips.length > MAX_LISTED_LANES) {
    const by = (verdict: string) => ips.filter((i) => i.verdict === verdict).map((i) => i.ip);
    const behind = by('behind');
    const paused = by('paused');
    return [`Per IP: ${ips.length} IPs, ${by('ready').length} ready for launch, ${behind.length} behind${behind.length ? ` (${behind.join(', ')})` : ''}, ${paused.length} paused${paused.length ? ` (${paused.join(', ')})` : ''}; --ip ADDR for one`];
  }
  return ['Per IP (launch-day capacity: sign-up mail the IP can take on launch day):', ...table(['ip', 'verdict', 'capacity', ...figureHead(routes(v))], ips.map((i) => [
    i.ip, i.verdict, num(Object.values(i.capacity).reduce((a, b) => a + b, 0)), ...figureCells(totals[i.ip]!, routes(v)),
  ])).split('\n')];
}

/** A time of day, with the date when it is not the view's day. */
function when(v: StatusView, at: number): string {
  const stamp = localStamp(at, v.plan.timezone);
  return stamp.slice(0, 10) === localStamp(v.now, v.plan.timezone).slice(0, 10) ? stamp.slice(11) : stamp;
}

function min(values: ReadonlyArray<number | null>): number | null {
  const xs = values.filter((x): x is number => x !== null);
  return xs.length ? Math.min(...xs) : null;
}
