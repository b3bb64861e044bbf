/**
 * The warm-up report: one self-contained HTML page (inline CSS and SVG, no
 * script, a Content-Security-Policy that forbids any fetch). Pure: data in,
 * text out.
 */
import { addDays, daysBetween } from '../schedule/calendar.js';
import { dayChart, esc, legend, statusGrid, type Marker, type Series } from './charts.js';
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

function readiness(d: ReportData): string {
  const f = d.forecast;
  const rows = f.lanes.map((l) => `<tr class="${esc(l.verdict)}"><td>${esc(l.ip)}</td><td>${esc(l.provider)}</td><td>${esc(l.state)}</td><td class="num">${l.stage}</td>`
    + `<td class="num">${l.projectedStage}</td><td class="num">${int(l.projectedVolume)}</td><td class="num">${int(l.launchTarget)}</td><td class="num">${pct(l.pace)}</td>`
    + `<td><span class="badge ${esc(l.verdict)}">${esc(l.verdict)}</span></td><td>${esc(l.readyOn ?? 'never at this pace')}</td></tr>`).join('');
  const caps = Object.entries(f.capacity).map(([p, v]) => `<tr><td>${esc(p)}</td><td class="num">${int(v)}</td></tr>`).join('');
  const ips = f.ips.map((i) => `<span class="badge ${esc(i.verdict)}">${esc(i.ip)}: ${esc(i.verdict)}</span>`).join(' ');
  return `<table class="readiness" data-table="readiness"><thead><tr><th>IP</th><th>provider</th><th>state</th><th>stage</th><th>stage at launch</th><th>launch capacity</th><th>launch target</th><th>pace</th><th>verdict</th><th>ready on</th></tr></thead><tbody>${rows}</tbody></table>`
    + `<p class="ips">${ips}</p><table class="capacity" data-table="capacity"><thead><tr><th>provider</th><th>launch-day capacity</th></tr></thead><tbody>${caps}</tbody></table>`;
}

function eventMarkers(d: ReportData, days: readonly string[]): Marker[] {
  return d.events.map((e) => ({
    index: days.indexOf(e.day),
    color: EVENT_COLORS[e.kind] ?? EVENT_COLORS[e.to ?? ''] ?? '#4b5563',
    label: `${new Date(e.at).toISOString().slice(0, 16).replace('T', ' ')} UTC ${e.kind}${e.ip ? ` ${e.ip}` : ''}${e.provider ? `/${e.provider}` : ''} by ${e.actor}${e.reason ? `: ${e.reason}` : ''}`,
  }));
}

/**
 * The report page. Sections: summary, launch readiness, target against
 * accepted per provider and per IP, deferral and bounce rates, stage over
 * time with events, DNSBL history, placement (when seeds were read), events.
 *
 * @example
 * writeFileSync('report.html', renderReport(await loadReportData(db, plan, Date.now())));
 */
export function renderReport(d: ReportData): string {
  const days = dayAxis(d);
  const launchIndex = days.indexOf(d.plan.launch);
  const all = d.laneDays;
  const totals = all.reduce((a, r) => ({ accepted: a.accepted + r.accepted, target: a.target + r.target, attempts: a.attempts + r.attempts, deferred: a.deferred + r.deferred + r.failed, bounced: a.bounced + r.bounced }), { accepted: 0, target: 0, attempts: 0, deferred: 0, bounced: 0 });
  const states = ['active', 'suspended', 'paused'].map((s) => `${d.lanes.filter((l) => l.state === s).length} ${s}`).join(', ');
  const toLaunch = daysBetween(d.today, d.plan.launch);
  const s: string[] = [];

  s.push(`<header><h1>Warm-up report: ${esc(d.plan.name)}</h1><p>${esc(d.plan.start)} → launch ${esc(d.plan.launch)} (${esc(d.plan.timezone)}) · generated ${esc(new Date(d.generatedAt).toISOString().slice(0, 16).replace('T', ' '))} UTC · ${toLaunch > 0 ? `${toLaunch} days to launch` : toLaunch === 0 ? 'launch day' : `${-toLaunch} days after launch`}</p></header>`);
  const routed = all.reduce((a, r) => a + r.routedAccepted, 0);
  s.push(`<section class="cards"><div><b>${int(totals.accepted)}</b><span>accepted of ${int(totals.target)} targeted${routed > 0 ? `, ${int(routed)} of them real mail routed through Postfix` : ''}</span></div>`
    + `<div><b>${totals.attempts ? pct(totals.deferred / totals.attempts) : '–'}</b><span>deferral rate (all days)</span></div>`
    + `<div><b>${totals.attempts ? pct(totals.bounced / totals.attempts) : '–'}</b><span>bounce rate (all days)</span></div>`
    + `<div><b>${d.lanes.length}</b><span>lanes: ${esc(states)}</span></div></section>`);

  s.push(`<section><h2>Launch readiness</h2><p class="note">Stage and capacity each lane reaches on launch day at the pace it has kept (share of days that advanced).</p>${readiness(d)}</section>`);

  s.push('<section><h2>Target against accepted, per provider</h2>');
  for (const p of d.plan.providers) s.push(`<h3>${esc(p)}</h3>${volumeChart(`volume-provider-${p}`, d, days, all.filter((r) => r.provider === p), (x) => x.perProvider[p] ?? 0)}`);
  s.push('</section><section><h2>Target against accepted, per IP</h2>');
  for (const ip of d.plan.ips) s.push(`<h3>${esc(ip)}</h3>${volumeChart(`volume-ip-${ip}`, d, days, all.filter((r) => r.ip === ip), (x) => x.perIp[ip] ?? 0)}`);
  s.push('</section>');

  const attempts = sumBy(all, days, (r) => r.attempts);
  const rate = (pick: (r: ReportLaneDay) => number) => sumBy(all, days, pick).map((v, i) => (v === null || !attempts[i] ? null : v / attempts[i]!));
  const rateSeries: Series[] = [
    { name: 'deferral rate (4xx + failures)', color: '#d97706', kind: 'line', values: rate((r) => r.deferred + r.failed) },
    { name: 'bounce rate (5xx)', color: '#dc2626', kind: 'line', values: rate((r) => r.bounced) },
  ];
  s.push(`<section><h2>Deferral and bounce rates per day</h2><p class="note">Share of the day's attempts (first tries and retries), as the day-end policy counts them.</p>${legend(rateSeries)}${dayChart({ id: 'rates', days, series: rateSeries, yLabel: 'share of attempts', format: pct, yMin: 0.1, launchIndex })}</section>`);

  const laneKeys = d.lanes.map((l) => `${l.ip} ${l.provider}`);
  const stageSeries: Series[] = d.lanes.map((l, k) => {
    const byDay = new Map(all.filter((r) => r.ip === l.ip && r.provider === l.provider).map((r) => [r.day, r.stage]));
    return { name: laneKeys[k]!, color: PALETTE[k % PALETTE.length]!, kind: 'step', values: days.map((day) => byDay.get(day) ?? null) };
  });
  s.push(`<section><h2>Stage over time</h2><p class="note">Ramp stage each lane ran at; triangles mark events (hover for who and why).</p>${legend(stageSeries)}${dayChart({ id: 'stages', days, series: stageSeries, yLabel: 'stage', markers: eventMarkers(d, days), launchIndex })}</section>`);

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
  s.push(`<section><h2>DNSBL history</h2><p class="note">Worst answer of each day per IP and zone: <span class="swatch listed"></span> listed <span class="swatch clear"></span> clear <span class="swatch error"></span> no answer. ${listedNow.length ? `${listedNow.length} listed IP-days.` : 'No listing seen.'}</p>`
    + `${d.dnsbl.length ? statusGrid({ id: 'dnsbl', days: dnsDays, rows: dnsRows, colors: { listed: '#dc2626', clear: '#86efac', error: '#d1d5db' } }) : '<p class="empty">No DNSBL checks recorded yet.</p>'}</section>`);

  if (all.some((r) => r.inbox + r.spam + r.missing > 0)) {
    const placeSeries: Series[] = [
      { name: 'inbox', color: '#16a34a', kind: 'stack', values: sumBy(all, days, (r) => r.inbox) },
      { name: 'spam', color: '#dc2626', kind: 'stack', values: sumBy(all, days, (r) => r.spam) },
      { name: 'missing', color: '#9ca3af', kind: 'stack', values: sumBy(all, days, (r) => r.missing) },
    ];
    s.push(`<section><h2>Seed placement</h2><p class="note">Where the seed mailboxes found each day's messages.</p>${legend(placeSeries)}${dayChart({ id: 'placement', days, series: placeSeries, yLabel: 'seed messages', launchIndex })}</section>`);
  }

  const events = d.events.map((e) => `<tr><td>${esc(new Date(e.at).toISOString().slice(0, 16).replace('T', ' '))}</td><td>${esc(e.kind)}</td><td>${esc(e.ip ?? 'all')}</td><td>${esc(e.provider ?? 'all')}</td><td>${esc(e.actor)}</td><td>${esc(e.reason ?? '')}</td></tr>`).join('');
  s.push(`<section><h2>Events</h2>${events ? `<table data-table="events"><thead><tr><th>at (UTC)</th><th>event</th><th>IP</th><th>provider</th><th>by</th><th>reason</th></tr></thead><tbody>${events}</tbody></table>` : '<p class="empty">No events yet.</p>'}</section>`);

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Warm-up report: ${esc(d.plan.name)}</title>
<style>${CSS}</style></head>
<body>${s.join('\n')}
<footer>warmup report · figures from the warm-up database, plan-local days (${esc(d.plan.timezone)}).</footer>
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
.empty{color:var(--muted);font-style:italic}
@media print{body{padding:0}section{break-inside:avoid}}
`;
