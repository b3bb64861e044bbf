/**
 * Small inline SVG charts over a day axis: bars (grouped or stacked), lines
 * (solid, dashed, stepped), event markers, and a status grid. Pure string
 * building, no script: the report must open offline and print as is.
 */

/** Above this many rows a table or a set of charts is folded (a `<details>` the reader opens). */
export const FOLD = 24;

/** Content folded in a `<details>` when `folded`, else shown as is. */
export function fold(folded: boolean, summary: string, html: string): string {
  return folded ? `<details class="fold"><summary>${esc(summary)}</summary>${html}</details>` : html;
}

/** Escapes text for HTML and SVG content and attribute values. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Series {
  readonly name: string;
  readonly color: string;
  /** One value per day; null leaves a gap. */
  readonly values: ReadonlyArray<number | null>;
  /** bar: grouped bars; stack: stacked bars; line / dash / step: lines. */
  readonly kind: 'bar' | 'stack' | 'line' | 'dash' | 'step';
}

export interface Marker {
  /** Index into the chart's days. */
  readonly index: number;
  readonly label: string;
  readonly color: string;
}

export interface ChartOptions {
  /** Stable identifier (data-chart), also used by tests. */
  readonly id: string;
  readonly days: readonly string[];
  readonly series: readonly Series[];
  readonly yLabel: string;
  readonly format?: (n: number) => string;
  /** Upper bound of the y axis at least (e.g. 1 for rates). */
  readonly yMin?: number;
  readonly markers?: readonly Marker[];
  /** Day index of launch, drawn as a labelled line. */
  readonly launchIndex?: number;
  readonly width?: number;
  readonly height?: number;
}

const M = { l: 56, r: 16, t: 16, b: 40 };
const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

/** 0 .. a round maximum at or above `max`, in 4-5 steps. */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** A chart with a day axis. Returns an `<svg>` element. */
export function dayChart(o: ChartOptions): string {
  const W = o.width ?? 900;
  const H = o.height ?? 240;
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const n = Math.max(1, o.days.length);
  const band = pw / n;
  const format = o.format ?? fmt;
  const stacks = o.series.filter((s) => s.kind === 'stack');
  let max = o.yMin ?? 0;
  for (const s of o.series) if (s.kind !== 'stack') for (const v of s.values) if (v !== null && v > max) max = v;
  for (let i = 0; i < n; i++) max = Math.max(max, stacks.reduce((a, s) => a + (s.values[i] ?? 0), 0));
  const ticks = niceTicks(max);
  const top = ticks.at(-1)!;
  const x = (i: number) => M.l + (i + 0.5) * band;
  const yOf = (v: number) => M.t + ph - (v / top) * ph;
  const y = yOf;
  const out: string[] = [];
  out.push(`<svg class="chart" data-chart="${esc(o.id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.yLabel)} per day" xmlns="http://www.w3.org/2000/svg">`);
  // Axes and grid.
  for (const t of ticks) {
    out.push(`<line class="grid" x1="${M.l}" x2="${W - M.r}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}"/>`);
    out.push(`<text class="tick y-tick" x="${M.l - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${esc(format(t))}</text>`);
  }
  out.push(`<text class="axis-label" x="12" y="${(M.t + ph / 2).toFixed(1)}" transform="rotate(-90 12 ${(M.t + ph / 2).toFixed(1)})" text-anchor="middle">${esc(o.yLabel)}</text>`);
  const every = Math.max(1, Math.ceil(n / 12));
  o.days.forEach((d, i) => {
    if (i % every !== 0 && i !== n - 1) return;
    out.push(`<text class="tick x-tick" x="${x(i).toFixed(1)}" y="${H - M.b + 16}" text-anchor="middle">${esc(d.slice(5))}</text>`);
  });
  out.push(`<line class="axis" x1="${M.l}" x2="${W - M.r}" y1="${M.t + ph}" y2="${M.t + ph}"/>`);
  out.push(`<line class="axis" x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${M.t + ph}"/>`);
  if (o.launchIndex !== undefined && o.launchIndex >= 0 && o.launchIndex < n) {
    const lx = x(o.launchIndex).toFixed(1);
    out.push(`<line class="launch" x1="${lx}" x2="${lx}" y1="${M.t}" y2="${M.t + ph}"/><text class="launch-label" x="${lx}" y="${M.t - 4}" text-anchor="middle">launch</text>`);
  }
  // Bars: grouped bars side by side, stacked bars in one column after them.
  const bars = o.series.filter((s) => s.kind === 'bar');
  const cols = bars.length + (stacks.length > 0 ? 1 : 0);
  const bw = cols > 0 ? (band * 0.7) / cols : 0;
  bars.forEach((s, k) => {
    const rects = s.values.map((v, i) => (v === null || v <= 0 ? '' : `<rect x="${(x(i) - band * 0.35 + k * bw).toFixed(1)}" y="${y(v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}"><title>${esc(`${o.days[i]} ${s.name}: ${format(v)}`)}</title></rect>`)).join('');
    out.push(`<g class="series bars" data-series="${esc(s.name)}" fill="${esc(s.color)}">${rects}</g>`);
  });
  const base = new Array<number>(n).fill(0);
  for (const s of stacks) {
    const rects = s.values.map((v, i) => {
      if (v === null || v <= 0) return '';
      const r = `<rect x="${(x(i) - band * 0.35 + bars.length * bw).toFixed(1)}" y="${y(base[i]! + v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(base[i]!) - y(base[i]! + v)).toFixed(1)}"><title>${esc(`${o.days[i]} ${s.name}: ${format(v)}`)}</title></rect>`;
      base[i]! += v;
      return r;
    }).join('');
    out.push(`<g class="series bars" data-series="${esc(s.name)}" fill="${esc(s.color)}">${rects}</g>`);
  }
  // Lines, broken at gaps.
  // Lanes often share a stage: nudge step lines apart by a pixel or two so none hides another.
  // The spread stays within 6 px whatever the number of lines, so no line leaves the plot.
  const steps = o.series.filter((t) => t.kind === 'step');
  const nudge = steps.length > 1 ? Math.min(2, 6 / (steps.length - 1)) : 0;
  for (const s of o.series.filter((t) => t.kind === 'line' || t.kind === 'dash' || t.kind === 'step')) {
    const k = steps.indexOf(s);
    const y = (v: number) => Math.min(M.t + ph, Math.max(M.t, yOf(v) + (k < 0 ? 0 : (k - (steps.length - 1) / 2) * nudge)));
    let d = '';
    let prev: number | null = null;
    s.values.forEach((v, i) => {
      if (v === null) { prev = null; return; }
      if (prev === null) d += `M${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
      else if (s.kind === 'step') d += `H${(x(i) - band / 2).toFixed(1)}V${y(v).toFixed(1)}H${x(i).toFixed(1)}`;
      else d += `L${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
      prev = v;
    });
    const dots = s.values.map((v, i) => (v === null ? '' : `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5"><title>${esc(`${o.days[i]} ${s.name}: ${format(v)}`)}</title></circle>`)).join('');
    out.push(`<g class="series line${s.kind === 'dash' ? ' dash' : ''}" data-series="${esc(s.name)}" stroke="${esc(s.color)}" fill="${esc(s.color)}"><path d="${d}" fill="none"/>${dots}</g>`);
  }
  // Event markers: triangles at the top of their day, at most two rows of as many as fit the
  // day's band; the rest of the day is one "+N" (its title lists them), so markers stay in the box.
  const perRow = Math.max(1, Math.min(3, Math.floor(band / 8)));
  const byDay = new Map<number, Marker[]>();
  for (const m of o.markers ?? []) if (m.index >= 0 && m.index < n) byDay.set(m.index, [...byDay.get(m.index) ?? [], m]);
  for (const [i, list] of byDay) {
    const shown = list.length > perRow * 2 ? list.slice(0, perRow * 2 - 1) : list;
    shown.forEach((m, k) => {
      const mx = x(i) + ((k % perRow) - (perRow - 1) / 2) * 7;
      const my = M.t + 4 + Math.floor(k / perRow) * 8;
      out.push(`<path class="marker" d="M${mx.toFixed(1)} ${my}l4 7h-8z" fill="${esc(m.color)}"><title>${esc(m.label)}</title></path>`);
    });
    const rest = list.slice(shown.length);
    if (rest.length > 0) {
      out.push(`<text class="marker-more" x="${x(i).toFixed(1)}" y="${M.t + 30}" text-anchor="middle">+${rest.length}<title>${esc(rest.map((m) => m.label).slice(0, 40).join('\n') + (rest.length > 40 ? `\n… ${rest.length - 40} more` : ''))}</title></text>`);
    }
  }
  out.push('</svg>');
  return out.join('');
}

/** Colored legend entries for a chart's series. */
export function legend(series: ReadonlyArray<Pick<Series, 'name' | 'color' | 'kind'>>): string {
  return `<div class="legend">${series.map((s) => `<span><i class="key ${s.kind}" style="--c:${esc(s.color)}"></i>${esc(s.name)}</span>`).join('')}</div>`;
}

/** A grid of status cells: one row per label, one column per day. */
export function statusGrid(o: {
  readonly id: string;
  readonly days: readonly string[];
  readonly rows: ReadonlyArray<{ readonly label: string; readonly cells: ReadonlyArray<{ readonly status: string; readonly title: string } | null> }>;
  readonly colors: Readonly<Record<string, string>>;
}): string {
  const labelW = 230;
  const cell = Math.max(8, Math.min(28, Math.floor(520 / Math.max(1, o.days.length))));
  const W = labelW + cell * o.days.length + 10;
  const H = 24 + o.rows.length * (cell + 2) + 10;
  const out = [`<svg class="chart grid-chart" data-chart="${esc(o.id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">`];
  const every = Math.max(1, Math.ceil((o.days.length * 40) / (cell * o.days.length)));
  o.days.forEach((d, i) => {
    if (i % every === 0) out.push(`<text class="tick x-tick" x="${labelW + i * cell + cell / 2}" y="14" text-anchor="middle">${esc(d.slice(5))}</text>`);
  });
  o.rows.forEach((r, k) => {
    const ry = 22 + k * (cell + 2);
    out.push(`<text class="tick row-label" x="${labelW - 8}" y="${ry + cell / 2 + 4}" text-anchor="end">${esc(r.label)}</text>`);
    const rects = r.cells.map((c, i) => (c === null ? '' : `<rect class="cell ${esc(c.status)}" x="${labelW + i * cell}" y="${ry}" width="${cell - 2}" height="${cell}" fill="${esc(o.colors[c.status] ?? '#999')}"><title>${esc(c.title)}</title></rect>`)).join('');
    out.push(`<g class="series" data-series="${esc(r.label)}">${rects}</g>`);
  });
  out.push('</svg>');
  return out.join('');
}
