/**
 * The warm-up report: one self-contained HTML page (inline CSS and SVG, no
 * script, a Content-Security-Policy that forbids any fetch). Pure: data in,
 * text out.
 */
import { addDays, daysBetween, localStamp } from '../schedule/calendar.js';
import { dayChart, esc, fold, FOLD, legend, statusGrid, type Marker, type Series } from './charts.js';
import { renderFleetSection } from './fleet.js';
import type { ReportData, ReportLaneDay } from './data.js';

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#4b5563', '#ea580c'];
const EVENT_COLORS: Record<string, string> = { pause: '#dc2626', paused: '#dc2626', suspended: '#d97706', suspend: '#d97706', back_off: '#ea580c', hold: '#ca8a04', active: '#16a34a', resume: '#16a34a', dnsbl_listed: '#7f1d1d', dnsbl_clear: '#15803d' };
const pct = (n: number) => `${(n * 100).toFixed(n > 0 && n < 0.1 ? 1 : 0)}%`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** Every day from start to launch (and any recorded day outside it). */
function dayAxis(d: ReportData): string[] {
  let first = d.plan.start;
  let last = d.plan.launch;
  for (const r of d.laneDays) {
    if (r.day < first) first = r.day;
    if (r.day > last) last = r.day;
  }
  const days: string[] = [];
  for (let day = first; daysBetween(day, last) >= 0 && days.length < 400; day = addDays(day, 1)) days.push(day);
  return days;
}

function sumBy(rows: readonly ReportLaneDay[], days: readonly string[], pick: (r: ReportLaneDay) => number): Array<number | null> {
  const m = new Map<string, number>();
  for (const r of rows) m.set(r.day, (m.get(r.day) ?? 0) + pick(r));
  return days.map((day) => (m.has(day) ? m.get(day)! : null));
}

function volumeChart(id: string, d: ReportData, days: readonly string[], rows: readonly ReportLaneDay[], planned: (p: ReportData['planned'][number]) => number): string {
  const plannedByDay = new Map(d.planned.map((p) => [p.day, planned(p)]));
  const series: Series[] = [
    { name: 'accepted', color: '#16a34a', kind: 'bar', values: sumBy(rows, days, (r) => r.accepted) },
    // Real mail routed through Postfix, beside the seed sends (part of accepted).
    ...(rows.some((r) => r.routed > 0) ? [{ name: 'routed accepted', color: '#7c3aed', kind: 'bar' as const, values: sumBy(rows, days, (r) => r.routedAccepted) }] : []),
    { name: 'target', color: '#1d4ed8', kind: 'line', values: sumBy(rows, days, (r) => r.target) },
    { name: 'planned', color: '#9ca3af', kind: 'dash', values: days.map((day) => plannedByDay.get(day) ?? null) },
  ];
  return `${legend(series)}${dayChart({ id, days, series, yLabel: 'messages', launchIndex: days.indexOf(d.plan.launch) })}`;
}

/** Lanes that need the operator, first: behind or paused for launch, not active, held on their last day, failing. */
function attention(d: ReportData): Array<{ ip: string; provider: string; why: string[]; l: ReportData['forecast']['lanes'][number] }> {
  const lastDay = new Map<string, ReportLaneDay>();
  for (const r of d.laneDays) {
    const key = `${r.ip}|${r.provider}`;
    const before = lastDay.get(key);
    if (!before || r.day > before.day) lastDay.set(key, r);
  }
  const out = [];
  for (const l of d.forecast.lanes) {
    const last = lastDay.get(`${l.ip}|${l.provider}`);
    const why: string[] = [];
    if (l.verdict !== 'ready') why.push(l.verdict === 'paused' ? 'paused' : `behind: ready ${l.readyOn ?? 'never at this pace'}`);
    if (l.state === 'suspended') why.push('suspended');
    if (last?.decision === 'hold' || last?.decision === 'back_off') why.push(`${last.decision.replace('_', ' ')} on ${last.day}`);
    if (last && last.bounced + last.expired + last.failed > 0) why.push(`failing on ${last.day}: ${[[last.bounced, 'bounced'], [last.expired, 'expired'], [last.failed, 'failed']].filter(([n]) => n).map(([n, w]) => `${n} ${w}`).join(', ')}`);
    if (why.length) out.push({ ip: l.ip, provider: l.provider, why, l });
  }
  return out;
}

function attentionSection(d: ReportData): string {
  const rows = attention(d);
  if (rows.length === 0) return `<section><h2>Needs attention</h2><p class="empty ok">No lane needs attention: every lane is ready for launch at its pace.</p></section>`;
  const body = rows.map((r) => `<tr class="${esc(r.l.verdict)}"><td>${esc(r.ip)}</td><td>${esc(r.provider)}</td><td>${esc(r.l.state)}</td><td class="num">${r.l.stage}</td><td><span class="badge ${esc(r.l.verdict)}">${esc(r.l.verdict)}</span></td><td>${esc(r.why.join('; '))}</td></tr>`).join('');
  const table = `<table data-table="attention"><thead><tr><th>IP</th><th>provider</th><th>state</th><th>stage</th><th>verdict</th><th>why</th></tr></thead><tbody>${body}</tbody></table>`;
  return `<section><h2>Needs attention</h2><p class="note">${rows.length} of ${d.forecast.lanes.length} lanes.</p>${fold(rows.length > FOLD, `${rows.length} lanes`, table)}</section>`;
}

/** Totals per provider, with the figures status shows. */
function providerTable(d: ReportData): string {
  const rows = d.plan.providers.map((p) => {
    const mine = d.laneDays.filter((r) => r.provider === p);
    const t = (f: (r: ReportLaneDay) => number) => mine.reduce((a, r) => a + f(r), 0);
    const lanes = d.forecast.lanes.filter((l) => l.provider === p);
    return `<tr><td>${esc(p)}</td><td class="num">${lanes.length}</td><td class="num">${lanes.filter((l) => l.verdict === 'ready').length}</td><td class="num">${lanes.filter((l) => l.verdict !== 'ready').length}</td>`
      + [t((r) => r.target), t((r) => r.sent), t((r) => r.accepted), t((r) => r.deferred), t((r) => r.mailboxDeferred), t((r) => r.bounced), t((r) => r.expired), t((r) => r.failed)].map((v) => `<td class="num">${int(v)}</td>`).join('')
      + `<td class="num">${int(d.forecast.capacity[p] ?? 0)} / ${int(lanes.reduce((a, l) => a + l.launchTarget, 0))}</td></tr>`;
  }).join('');
  return `<table data-table="providers"><thead><tr><th>provider</th><th>lanes</th><th>ready</th><th>behind / paused</th><th>target</th><th>sent</th><th>accepted</th><th>deferred</th><th>mbox-def</th><th>bounced</th><th>expired</th><th>failed</th><th>launch capacity / target</th></tr></thead><tbody>${rows}</tbody></table>`
    + '<p class="note">All days so far. deferred: 4xx answers about the IP; mbox-def: about one mailbox (full, over its own rate); expired: given up after retrying.</p>';
}

function readiness(d: ReportData): string {
  const f = d.forecast;
  const rank = { paused: 0, behind: 1, ready: 2 } as const;
  const lanes = [...f.lanes].sort((a, b) => rank[a.verdict] - rank[b.verdict]);
  const rows = lanes.map((l) => `<tr class="${esc(l.verdict)}"><td>${esc(l.ip)}</td><td>${esc(l.provider)}</td><td>${esc(l.state)}</td><td class="num">${l.stage}</td>`
    + `<td class="num">${l.projectedStage}</td><td class="num">${int(l.projectedVolume)}</td><td class="num">${int(l.launchTarget)}</td><td class="num">${pct(l.pace)}</td>`
    + `<td><span class="badge ${esc(l.verdict)}">${esc(l.verdict)}</span></td><td>${esc(l.readyOn ?? 'never at this pace')}</td></tr>`).join('');
  const caps = Object.entries(f.capacity).map(([p, v]) => `<tr><td>${esc(p)}</td><td class="num">${int(v)}</td></tr>`).join('');
  const byVerdict = (v: string) => f.ips.filter((i) => i.verdict === v);
  const ips = f.ips.length > FOLD
    ? `${byVerdict('ready').length} IPs ready, ${byVerdict('behind').length} behind${byVerdict('behind').length ? ` (${esc(byVerdict('behind').map((i) => i.ip).join(', '))})` : ''}, ${byVerdict('paused').length} paused`
    : f.ips.map((i) => `<span class="badge ${esc(i.verdict)}">${esc(i.ip)}: ${esc(i.verdict)}</span>`).join(' ');
  const table = `<table class="readiness" data-table="readiness"><thead><tr><th>IP</th><th>provider</th><th>state</th><th>stage</th><th>stage at launch</th><th>launch capacity</th><th>launch target</th><th>pace</th><th>verdict</th><th>ready on</th></tr></thead><tbody>${rows}</tbody></table>`;
  return `<p class="ips">${ips}</p><table class="capacity" data-table="capacity"><thead><tr><th>provider</th><th>launch-day capacity</th></tr></thead><tbody>${caps}</tbody></table>`
    + fold(lanes.length > FOLD, `every lane (${lanes.length}), the ones not ready first`, table);
}

/** Stage over time for one provider: each IP when few, else the lowest, median and highest IP. */
function stageChart(d: ReportData, days: readonly string[], provider: string, launchIndex: number): string {
  const lanes = d.lanes.filter((l) => l.provider === provider);
  const rows = d.laneDays.filter((r) => r.provider === provider);
  let series: Series[];
  if (lanes.length <= 6) {
    series = lanes.map((l, k) => {
      const byDay = new Map(rows.filter((r) => r.ip === l.ip).map((r) => [r.day, r.stage]));
      return { name: l.ip, color: PALETTE[k % PALETTE.length]!, kind: 'step', values: days.map((day) => byDay.get(day) ?? null) };
    });
  } else {
    const perDay = new Map<string, number[]>();
    for (const r of rows) perDay.set(r.day, [...perDay.get(r.day) ?? [], r.stage]);
    const stat = (f: (xs: number[]) => number) => days.map((day) => { const xs = perDay.get(day); return xs ? f([...xs].sort((a, b) => a - b)) : null; });
    series = [
      { name: `highest of ${lanes.length} IPs`, color: '#16a34a', kind: 'line', values: stat((xs) => xs.at(-1)!) },
      { name: 'median IP', color: '#2563eb', kind: 'step', values: stat((xs) => xs[Math.floor((xs.length - 1) / 2)]!) },
      { name: 'lowest IP', color: '#dc2626', kind: 'line', values: stat((xs) => xs[0]!) },
    ];
  }
  const markers = eventMarkers(d, days, (e) => e.provider === provider || e.provider === null);
  return `${legend(series)}${dayChart({ id: `stages-${provider}`, days, series, yLabel: 'stage', markers, launchIndex, height: 200 })}`;
}

/** One line per provider: the share of its attempts that `pick` counts. */
function rateChart(id: string, d: ReportData, days: readonly string[], pick: (r: ReportLaneDay) => number, yLabel: string, launchIndex: number): string {
  const series: Series[] = d.plan.providers.map((p, k) => {
    const rows = d.laneDays.filter((r) => r.provider === p);
    const attempts = sumBy(rows, days, (r) => r.attempts);
    return { name: p, color: PALETTE[k % PALETTE.length]!, kind: 'line', values: sumBy(rows, days, pick).map((v, i) => (v === null || !attempts[i] ? null : v / attempts[i]!)) };
  });
  return `${legend(series)}${dayChart({ id, days, series, yLabel, format: pct, yMin: 0.1, launchIndex, height: 200 })}`;
}

/** Events grouped by day, each day folded with its counts per kind; the latest day open. */
function eventsSection(d: ReportData): string {
  if (d.events.length === 0) return '<section><h2>Events</h2><p class="empty">No events yet.</p></section>';
  const byDay = new Map<string, ReportData['events'][number][]>();
  for (const e of d.events) byDay.set(e.day, [...byDay.get(e.day) ?? [], e]);
  const latest = [...byDay.keys()].sort().at(-1);
  const groups = [...byDay.entries()].sort(([a], [b]) => (a < b ? 1 : -1)).map(([day, list]) => {
    const kinds = new Map<string, number>();
    for (const e of list) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
    const rows = list.map((e) => `<tr><td>${esc(localStamp(e.at, d.plan.timezone).slice(11))}</td><td>${esc(e.kind)}</td><td>${esc(e.ip ?? 'all')}</td><td>${esc(e.provider ?? 'all')}</td><td>${esc(e.actor)}</td><td>${esc(e.reason ?? '')}</td></tr>`).join('');
    const summary = `${day}: ${list.length} event${list.length === 1 ? '' : 's'} (${[...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`).join(', ')})`;
    return `<details class="events-day" data-day="${esc(day)}"${day === latest && list.length <= 200 ? ' open' : ''}><summary>${esc(summary)}</summary><table data-table="events"><thead><tr><th>at (${esc(d.plan.timezone)})</th><th>event</th><th>IP</th><th>provider</th><th>by</th><th>reason</th></tr></thead><tbody>${rows}</tbody></table></details>`;
  });
  return `<section><h2>Events</h2><p class="note">${d.events.length} events over ${byDay.size} days, newest day first; open a day to see them.</p>${groups.join('')}</section>`;
}

function eventMarkers(d: ReportData, days: readonly string[], keep: (e: ReportData['events'][number]) => boolean = () => true): Marker[] {
  return d.events.filter(keep).map((e) => ({
    index: days.indexOf(e.day),
    color: EVENT_COLORS[e.kind] ?? EVENT_COLORS[e.to ?? ''] ?? '#4b5563',
    label: `${localStamp(e.at, d.plan.timezone)} ${e.kind}${e.ip ? ` ${e.ip}` : ''}${e.provider ? `/${e.provider}` : ''} by ${e.actor}${e.reason ? `: ${e.reason}` : ''}`,
  }));
}

/**
 * The report page, problems first, readable at 6 lanes and at 300: summary cards, the lanes that
 * need attention, totals per provider, the fleet (one line for a single host), launch readiness
 * (the full lane table folded when long),
 * then per provider the target against accepted and the stage over time, deferral and bounce
 * rates per provider, target against accepted per IP (folded when many), DNSBL history, placement
 * (when seeds were read), and the events grouped by day.
 *
 * @example
 * writeFileSync('report.html', renderReport(await loadReportData(db, plan, Date.now())));
 */
export function renderReport(d: ReportData): string {
  const days = dayAxis(d);
  const launchIndex = days.indexOf(d.plan.launch);
  const all = d.laneDays;
  const totals = all.reduce((a, r) => ({ accepted: a.accepted + r.accepted, target: a.target + r.target, sent: a.sent + r.sent, attempts: a.attempts + r.attempts, deferred: a.deferred + r.deferred + r.failed, mailbox: a.mailbox + r.mailboxDeferred, bounced: a.bounced + r.bounced, expired: a.expired + r.expired }), { accepted: 0, target: 0, sent: 0, attempts: 0, deferred: 0, mailbox: 0, bounced: 0, expired: 0 });
  const states = ['active', 'suspended', 'paused'].map((s) => `${d.lanes.filter((l) => l.state === s).length} ${s}`).join(', ');
  const toLaunch = daysBetween(d.today, d.plan.launch);
  const s: string[] = [];

  s.push(`<header><h1>Warm-up report: ${esc(d.plan.name)}</h1><p>${esc(d.plan.start)} → launch ${esc(d.plan.launch)} · as of ${esc(localStamp(d.generatedAt, d.plan.timezone))} (${esc(d.plan.timezone)}) · ${toLaunch > 0 ? `${toLaunch} days to launch` : toLaunch === 0 ? 'launch day' : `${-toLaunch} days after launch`}</p></header>`);
  const routed = all.reduce((a, r) => a + r.routedAccepted, 0);
  s.push(`<section class="cards"><div><b>${int(totals.accepted)}</b><span>accepted of ${int(totals.target)} targeted, ${int(totals.sent)} sent${routed > 0 ? `; ${int(routed)} of the accepted real mail routed through Postfix` : ''}</span></div>`
    + `<div><b>${totals.attempts ? pct(totals.deferred / totals.attempts) : '–'}</b><span>deferral rate (all days); ${int(totals.mailbox)} per-mailbox deferrals</span></div>`
    + `<div><b>${totals.attempts ? pct(totals.bounced / totals.attempts) : '–'}</b><span>bounce rate (all days); ${int(totals.expired)} expired</span></div>`
    + `<div><b>${d.lanes.length}</b><span>lanes: ${esc(states)}</span></div></section>`);

  s.push(attentionSection(d));
  s.push(`<section><h2>Per provider</h2>${providerTable(d)}</section>`);
  s.push(renderFleetSection(d.fleet, d.plan.timezone));
  s.push(`<section><h2>Launch readiness</h2><p class="note">Stage and capacity each lane reaches on launch day at the pace it has kept (share of days that advanced).</p>${readiness(d)}</section>`);

  s.push('<section><h2>Each provider: target against accepted, and stage over time</h2><p class="note">Bars: accepted; line: the day\'s target; dashes: the plan before adaptation. Stages: triangles mark events (hover for who and why; "+N" for more that day).</p>');
  for (const p of d.plan.providers) {
    s.push(`<h3>${esc(p)}</h3>${volumeChart(`volume-provider-${p}`, d, days, all.filter((r) => r.provider === p), (x) => x.perProvider[p] ?? 0)}${stageChart(d, days, p, launchIndex)}`);
  }
  s.push('</section>');

  s.push(`<section><h2>Deferral and bounce rates per provider</h2><p class="note">Share of each provider's attempts (first tries and retries) per day, as the day-end policy counts them (4xx about the IP + failures).</p>`
    + `${rateChart('deferrals', d, days, (r) => r.deferred + r.failed, 'deferral rate', launchIndex)}${rateChart('bounces', d, days, (r) => r.bounced, 'bounce rate', launchIndex)}</section>`);

  const ipCharts = d.plan.ips.map((ip) => `<h3>${esc(ip)}</h3>${volumeChart(`volume-ip-${ip}`, d, days, all.filter((r) => r.ip === ip), (x) => x.perIp[ip] ?? 0)}`).join('');
  s.push(`<section><h2>Target against accepted, per IP</h2>${fold(d.plan.ips.length > 8, `${d.plan.ips.length} IPs`, ipCharts)}</section>`);

  const dnsDays = days.filter((day) => day <= (d.today > d.plan.launch ? d.today : d.plan.launch));
  const cellOf = new Map(d.dnsbl.map((r) => [`${r.day}|${r.ip}|${r.zone}`, r]));
  const dnsRows = d.plan.ips.flatMap((ip) => d.plan.zones.map((zone) => ({
    label: `${ip} ${zone}`,
    cells: dnsDays.map((day) => {
      const c = cellOf.get(`${day}|${ip}|${zone}`);
      return c ? { status: c.status, title: `${day} ${ip} ${zone}: ${c.status}` } : null;
    }),
  })));
  const listedNow = d.dnsbl.filter((r) => r.status === 'listed');
  const listedRows = dnsRows.filter((r) => r.cells.some((c) => c?.status === 'listed'));
  const grid = statusGrid({ id: 'dnsbl', days: dnsDays, rows: dnsRows, colors: { listed: '#dc2626', clear: '#86efac', error: '#d1d5db' } });
  s.push(`<section><h2>DNSBL history</h2><p class="note">Worst answer of each day per IP and zone: <span class="swatch listed"></span> listed <span class="swatch clear"></span> clear <span class="swatch error"></span> no answer. ${listedNow.length ? `${listedNow.length} listed IP-days (${esc(listedRows.map((r) => r.label).join(', '))}).` : 'No listing seen.'}</p>`
    + `${d.dnsbl.length ? fold(dnsRows.length > FOLD, `${dnsRows.length} IP × zone rows`, grid) : '<p class="empty">No DNSBL checks recorded yet.</p>'}</section>`);

  if (all.some((r) => r.inbox + r.spam + r.missing > 0)) {
    const placeSeries: Series[] = [
      { name: 'inbox', color: '#16a34a', kind: 'stack', values: sumBy(all, days, (r) => r.inbox) },
      { name: 'spam', color: '#dc2626', kind: 'stack', values: sumBy(all, days, (r) => r.spam) },
      { name: 'missing', color: '#9ca3af', kind: 'stack', values: sumBy(all, days, (r) => r.missing) },
    ];
    s.push(`<section><h2>Seed placement</h2><p class="note">Where the seed mailboxes found each day's messages.</p>${legend(placeSeries)}${dayChart({ id: 'placement', days, series: placeSeries, yLabel: 'seed messages', launchIndex })}</section>`);
  }

  s.push(eventsSection(d));

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Warm-up report: ${esc(d.plan.name)}</title>
<style>${CSS}</style></head>
<body>${s.join('\n')}
<footer>warmup report · figures from the warm-up database, plan-local days and times (${esc(d.plan.timezone)}).</footer>
</body></html>
`;
}

const CSS = `
:root{color-scheme:light;--ink:#111827;--muted:#6b7280;--line:#e5e7eb}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0 auto;max-width:1000px;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 6px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:14px;margin:16px 0 2px;color:#374151}
header p,.note,footer{color:var(--muted)}footer{margin-top:40px;font-size:12px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin-top:16px}.cards div{border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.cards b{display:block;font-size:22px}.cards span{color:var(--muted);font-size:12px}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:13px}th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left}th{background:#f9fafb;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}table.capacity{width:auto}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}.badge.ready{background:#dcfce7;color:#166534}.badge.behind{background:#fef3c7;color:#92400e}.badge.paused{background:#fee2e2;color:#991b1b}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;color:#374151;margin:4px 0}.legend span{display:inline-flex;align-items:center;gap:5px}
.key{display:inline-block;width:14px;height:10px;background:var(--c)}.key.line,.key.step{height:3px}.key.dash{height:0;border-top:2px dashed var(--c);background:none}
svg.chart{display:block;max-width:100%;height:auto;overflow:visible}
svg .grid{stroke:#f0f0f0}svg .axis{stroke:#9ca3af}svg .tick{font-size:11px;fill:#6b7280}svg .axis-label{font-size:11px;fill:#374151}
svg .series.line path{stroke-width:2}svg .series.dash path{stroke-dasharray:5 4;stroke-width:1.5}svg .series.dash circle{display:none}
svg .launch{stroke:#111827;stroke-dasharray:2 3}svg .launch-label{font-size:11px;fill:#111827}svg .row-label{font-size:11px}
.swatch{display:inline-block;width:10px;height:10px;vertical-align:middle}.swatch.listed{background:#dc2626}.swatch.clear{background:#86efac}.swatch.error{background:#d1d5db}
.empty{color:var(--muted);font-style:italic}.empty.ok{color:#166534}
details.fold,details.events-day{margin:6px 0}details>summary{cursor:pointer;color:#374151;font-weight:600}svg .marker-more{font-size:10px;fill:#374151}
@media print{body{padding:0}section{break-inside:avoid}}
`;
