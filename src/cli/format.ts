/** Plain-text tables and numbers for terminal output. */

export function num(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function pct(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : `${(x * 100).toFixed(1)}%`;
}

/** Left-aligns the first `leftCols` columns, right-aligns the rest. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], leftCols = 1): string {
  rows = rows.map((r) => r.map(printable));
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

// C0 and C1 control characters, DEL, line/paragraph separators and bidi overrides: an SMTP reply
// or an operator's reason is data from outside and must not steer the terminal that shows it.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from outside (SMTP replies, reasons) made safe for a terminal: every
 * control character is shown as an escape, e.g. ESC as `\x1b`.
 *
 * @example printable('554 \x1b[2Jgone') // '554 \\x1b[2Jgone'
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * Pretty JSON for a terminal: the same value as JSON.stringify, with the
 * characters JSON leaves raw but terminals act on (C1 controls, DEL, bidi
 * overrides) written as \u escapes.
 */
export function jsonText(value: unknown): string {
  // JSON.stringify already escapes C0 inside strings; the newlines left are the layout's own.
  const text = JSON.stringify(value, null, 2);
  // ASCII without DEL (what a length equal to the UTF-8 length and no U+007F mean) has nothing
  // to escape: returned without the regex's pass over it (~2 ms of status's 882 KB).
  return isPlainAscii(text) ? text : escapeForTerminal(text);
}

/**
 * jsonText(value) and a newline, as the UTF-8 bytes `io.out` would write (`warmup status
 * --json`'s 882 KB): encoded once into a buffer of its known length, where `io.out` of the
 * text would append the newline (a second string of the whole text) and have Buffer.from
 * measure it again before encoding it.
 */
export function jsonLine(value: unknown): Uint8Array {
  const text = JSON.stringify(value, null, 2);
  if (!isPlainAscii(text)) return Buffer.from(`${escapeForTerminal(text)}\n`);
  const bytes = Buffer.allocUnsafe(text.length + 1);
  bytes.write(text, 0, text.length, 'latin1');
  bytes[text.length] = 0x0a;
  return bytes;
}

/** ASCII without DEL: a length equal to the UTF-8 length and no U+007F. */
const isPlainAscii = (text: string): boolean => Buffer.byteLength(text) === text.length && !text.includes('\u007f');

const escapeForTerminal = (text: string): string =>
  text.replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
