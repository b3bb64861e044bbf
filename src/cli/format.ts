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
