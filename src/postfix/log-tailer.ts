/**
 * Follows Postfix's maillog_file from a saved position: every complete line
 * once, in order, across restarts and log rotation. A rotation (the file
 * renamed, a new one created) is noticed by the inode; the old file is read
 * to its end (Postfix may write to it until it reopens its log) before the
 * new one is read from its start. A position whose file was rotated while
 * warmup was down is found again by inode among the files beside it.
 */
import type { FileHandle } from 'node:fs/promises';
import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { LogPosition } from '../store/routed.js';
import type { Logger } from '../util/log.js';

export interface LogTailerOptions {
  readonly path: string;
  /** Where the last run stopped; null: start at the end of the file (old deliveries are not this plan's). */
  readonly start: LogPosition | null;
  /**
   * Called with the complete lines of each read (up to 64 KiB) and the position after the last;
   * the position moves only once it resolves, so the caller can record the lines and the
   * position in one transaction (a crash in between re-reads the batch, never skips it).
   */
  readonly onLines: (lines: string[], after: LogPosition) => Promise<void>;
  /** Called after each batch of lines with the position reached. */
  readonly onProgress?: (at: LogPosition) => Promise<void>;
  readonly log: Logger;
  /** Real milliseconds between looks at the file (default 200). */
  readonly pollMs?: number;
  /** Real milliseconds a rotated file must stay unchanged before it is left for the new one (default 1000). */
  readonly rotateGraceMs?: number;
}

interface Open {
  fh: FileHandle;
  inode: string;
  offset: number;
  /** The path it was opened under (a rotated file keeps the main path: it is found again by inode). */
  path: string;
}

export class LogTailer {
  readonly #o: Required<Omit<LogTailerOptions, 'onProgress'>> & Pick<LogTailerOptions, 'onProgress'>;
  #cur: Open | null = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  /** Since when (real ms) the open file has been replaced under its path without growing. */
  #rotatedIdleSince: number | null = null;
  #pending = true;

  constructor(options: LogTailerOptions) {
    this.#o = { pollMs: 200, rotateGraceMs: 1000, ...options };
  }

  /** The position reached (null before the file was first opened). */
  get position(): LogPosition | null {
    return this.#cur ? { path: this.#o.path, inode: this.#cur.inode, offset: this.#cur.offset } : null;
  }

  start(): void {
    const loop = async () => {
      if (this.#stopped) return;
      this.#running = this.poll().catch((e) => this.#o.log.error({ err: e }, 'reading the Postfix log failed; retrying'));
      await this.#running;
      if (!this.#stopped) this.#timer = setTimeout(() => void loop(), this.#o.pollMs);
    };
    void loop();
  }

  /** Stops after the line being handled; the position saved so far stays valid. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
    // The handle is closed but the position it reached stays readable.
    await this.#cur?.fh.close().catch(() => undefined);
  }

  /** One pass: opens the file if needed, reads every complete new line, follows a rotation. */
  async poll(): Promise<void> {
    if (!this.#cur && !(await this.#openInitial())) return;
    await this.#drain();
    const cur = this.#cur!;
    const now = await stat(this.#o.path).catch(() => null);
    if (now && String(now.ino) !== cur.inode) {
      // Rotated: Postfix writes to the old file until it reopens its log, so leave it only once it stays still.
      const size = (await cur.fh.stat()).size;
      if (size > cur.offset) { this.#rotatedIdleSince = null; return; }
      this.#rotatedIdleSince ??= Date.now();
      if (Date.now() - this.#rotatedIdleSince < this.#o.rotateGraceMs) return;
      await this.#drain(true);
      await cur.fh.close();
      this.#o.log.info({ path: this.#o.path, old_inode: cur.inode, inode: String(now.ino) }, 'Postfix log rotated: reading the new file from its start');
      this.#cur = await this.#openAt(String(now.ino), 0);
      this.#rotatedIdleSince = null;
      await this.#drain();
    } else if (now && now.size < cur.offset) {
      this.#o.log.warn({ path: this.#o.path, offset: cur.offset, size: now.size }, 'Postfix log truncated in place: reading it from its start');
      cur.offset = 0;
      await this.#drain();
    }
  }

  async #openInitial(): Promise<boolean> {
    const st = await stat(this.#o.path).catch(() => null);
    const start = this.#o.start;
    if (start && (!st || String(st.ino) !== start.inode)) {
      // The file of the saved position was rotated away while warmup was down: find it by inode.
      const rotated = await this.#findByInode(start.inode);
      if (rotated) {
        this.#o.log.info({ file: rotated, offset: start.offset }, 'reading the rest of the rotated Postfix log first');
        this.#cur = { fh: await open(rotated, 'r'), inode: start.inode, offset: start.offset, path: rotated };
        return true;
      }
      if (!st) return false;
      this.#o.log.warn({ path: this.#o.path, inode: start.inode }, 'the Postfix log file warmup had read up to is gone: reading the current file from its start (lines in between are lost)');
      this.#cur = await this.#openAt(String(st.ino), 0);
      return true;
    }
    if (!st) {
      if (this.#pending) this.#o.log.warn({ path: this.#o.path }, 'Postfix log file does not exist yet; waiting for it');
      this.#pending = false;
      return false;
    }
    const offset = start ? (st.size < start.offset ? 0 : start.offset) : st.size;
    this.#cur = await this.#openAt(String(st.ino), offset);
    return true;
  }

  async #openAt(inode: string, offset: number): Promise<Open> {
    const fh = await open(this.#o.path, 'r');
    const real = String((await fh.stat()).ino);
    // The path may have been rotated between stat and open: trust the handle.
    return { fh, inode: real, offset: real === inode ? offset : 0, path: this.#o.path };
  }

  async #findByInode(inode: string): Promise<string | null> {
    const dir = dirname(this.#o.path);
    const base = basename(this.#o.path);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.startsWith(base) || name === base) continue;
      const st = await stat(join(dir, name)).catch(() => null);
      if (st && String(st.ino) === inode) return join(dir, name);
    }
    return null;
  }

  /** Reads every complete line from the open file; `final` also takes a last line without its newline. */
  async #drain(final = false): Promise<void> {
    const cur = this.#cur!;
    const buf = Buffer.alloc(1 << 16);
    let carry = Buffer.alloc(0);
    let any = false;
    for (;;) {
      if (this.#stopped) return;
      const { bytesRead } = await cur.fh.read(buf, 0, buf.length, cur.offset + carry.length);
      if (bytesRead === 0) break;
      const chunk = Buffer.concat([carry, buf.subarray(0, bytesRead)]);
      const end = chunk.lastIndexOf(0x0a);
      if (end < 0) { carry = chunk; continue; }
      const lines = chunk.subarray(0, end).toString('utf8').split('\n');
      const after = cur.offset + end + 1;
      await this.#o.onLines(lines, { path: this.#o.path, inode: cur.inode, offset: after });
      cur.offset = after;
      carry = Buffer.from(chunk.subarray(end + 1));
      any = true;
    }
    if (final && carry.length > 0 && !this.#stopped) {
      const after = cur.offset + carry.length;
      await this.#o.onLines([carry.toString('utf8')], { path: this.#o.path, inode: cur.inode, offset: after });
      cur.offset = after;
      any = true;
    }
    if (any) await this.#o.onProgress?.({ path: this.#o.path, inode: cur.inode, offset: cur.offset });
  }

}
