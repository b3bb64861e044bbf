import { appendFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LogTailer } from '../../src/postfix/log-tailer.js';
import type { LogPosition } from '../../src/store/routed.js';

const log = pino({ level: 'silent' });

/** A tailer that records lines and the position after each, driven by explicit polls. */
function tail(file: string, start: LogPosition | null) {
  const lines: string[] = [];
  let last: LogPosition | null = null;
  const t = new LogTailer({ path: file, start, log, rotateGraceMs: 0, onLines: async (ls, at) => { lines.push(...ls); last = at; } });
  return { t, lines, last: () => last };
}

describe('LogTailer', () => {
  it('starts at the end of an existing file on a first run, then reads each new complete line once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warmup-tail-'));
    const file = path.join(dir, 'maillog');
    writeFileSync(file, 'old 1\nold 2\n');
    const { t, lines } = tail(file, null);
    await t.poll();
    appendFileSync(file, 'new 1\nnew 2\npart');
    await t.poll();
    await t.poll();
    expect(lines).toEqual(['new 1', 'new 2']);
    appendFileSync(file, 'ial\n');
    await t.poll();
    expect(lines).toEqual(['new 1', 'new 2', 'partial']);
    await t.stop();
  });

  it('follows a rotation: the rest of the old file, then the new file from its start', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warmup-tail-'));
    const file = path.join(dir, 'maillog');
    writeFileSync(file, '');
    const { t, lines } = tail(file, null);
    await t.poll();
    appendFileSync(file, 'a\n');
    await t.poll();
    renameSync(file, `${file}.20261130-053000`);
    appendFileSync(`${file}.20261130-053000`, 'b (written before Postfix reopened its log)\n');
    writeFileSync(file, 'c\n');
    await t.poll();
    await t.poll();
    expect(lines).toEqual(['a', 'b (written before Postfix reopened its log)', 'c']);
    await t.stop();
  });

  it('after a restart, resumes at the saved position, also in a file rotated away meanwhile: no line twice, none missed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warmup-tail-'));
    const file = path.join(dir, 'maillog');
    writeFileSync(file, '');
    const first = tail(file, null);
    await first.t.poll();
    appendFileSync(file, '1\n2\n');
    await first.t.poll();
    await first.t.stop();
    const saved = first.last()!;
    // While warmup is down: more lines, a rotation, lines in the new file.
    appendFileSync(file, '3\n');
    renameSync(file, `${file}.1`);
    writeFileSync(file, '4\n5\n');
    const second = tail(file, saved);
    await second.t.poll();
    await second.t.poll();
    expect([...first.lines, ...second.lines]).toEqual(['1', '2', '3', '4', '5']);
    await second.t.stop();
    // Restarted again at its own last position: nothing new, nothing repeated.
    const third = tail(file, second.last()!);
    await third.t.poll();
    appendFileSync(file, '6\n');
    await third.t.poll();
    expect(third.lines).toEqual(['6']);
    await third.t.stop();
  });

  it('reads a file truncated in place from its start', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warmup-tail-'));
    const file = path.join(dir, 'maillog');
    writeFileSync(file, 'x\ny\n');
    const { t, lines } = tail(file, { path: file, inode: 'unknown', offset: 0 });
    await t.poll();
    expect(lines).toEqual(['x', 'y']);
    writeFileSync(file, 'z\n');
    await t.poll();
    await t.poll();
    expect(lines).toEqual(['x', 'y', 'z']);
    await t.stop();
  });
});
