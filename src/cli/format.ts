/** Plain-text tables and numbers for terminal output. */

export function num(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function pct(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : `${(x * 100).toFixed(1)}%`;
}

/** Left-aligns the first `leftCols` columns, right-aligns the rest. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], leftCols = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells
    .map((c, i) => (i < leftCols ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
    .join('  ')
    .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export { localStamp } from '../schedule/calendar.js';

/** A duration as `45s`, `12m`, `3h05m`, `2d04h`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Cuts a line to `width` columns with an ellipsis (no-op when the width is unknown). */
export function fit(line: string, width: number | undefined): string {
  if (width === undefined || line.length <= width) return line;
  return width <= 1 ? line.slice(0, width) : `${line.slice(0, width - 1)}…`;
}
