/** What a command may touch of the process: passed in, so commands run in-process in tests. */
export interface CliIo {
  out(text: string): void;
  /** Writes bytes to stdout as they are (text already encoded, with its newline); without it, callers decode and `out`. */
  outBytes?(bytes: Uint8Array): void;
  err(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Width of the terminal stdout is, when it is one (output is cut to fit it). */
  readonly columns?: number | undefined;
  /** Whether stderr is a terminal (progress draws a bar there, else prints lines). */
  readonly stderrIsTTY?: boolean;
  /** Writes to stderr as is, without a newline (the progress bar redrawn in place). */
  progress?(text: string): void;
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  env: process.env,
  cwd: process.cwd(),
  get columns() { return process.stdout.isTTY ? process.stdout.columns : undefined; },
  get stderrIsTTY() { return Boolean(process.stderr.isTTY); },
  progress: (t) => { process.stderr.write(t); },
};

/**
 * processIo with stdout written to file descriptor 1 directly (`warmup status`): Node builds
 * `process.stdout` on first use, and for a pipe that loads its net and stream modules (~17M
 * instructions, ~4 ms, of a status run whose whole output is one write). Same bytes, same
 * order (stdout to a pipe or file is written synchronously on Linux either way). When the
 * reader has gone (EPIPE) the process stops quietly with success, as `runProcess` does; a
 * descriptor that would block (EAGAIN: a non-blocking pipe left full) hands the rest to
 * `process.stdout`, which waits for it.
 */
export function directIo(fs: { writeSync(fd: number, data: Uint8Array, offset: number, length: number): number }): CliIo {
  let stream: NodeJS.WriteStream | null = null;
  const toStream = (bytes: Uint8Array) => {
    if (!stream) {
      stream = process.stdout;
      stream.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(0);
        throw err;
      });
    }
    stream.write(bytes);
  };
  let stderrWatched = false;
  const outBytes = (bytes: Uint8Array): void => {
    if (stream) { toStream(bytes); return; }
    for (let at = 0; at < bytes.length;) {
      try {
        at += fs.writeSync(1, bytes, at, bytes.length - at);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') process.exit(0);
        if (code !== 'EAGAIN') throw e;
        toStream(bytes.subarray(at));
        return;
      }
    }
  };
  return {
    out: (t) => outBytes(Buffer.from(t.endsWith('\n') ? t : `${t}\n`)),
    outBytes,
    err: (t) => {
      if (!stderrWatched) {
        stderrWatched = true;
        process.stderr.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'EPIPE') process.exit(0);
          throw err;
        });
      }
      process.stderr.write(t.endsWith('\n') ? t : `${t}\n`);
    },
    env: process.env,
    cwd: process.cwd(),
    // Asked by the text views only (node:tty would load net as well).
    get columns() { return process.stdout.isTTY ? process.stdout.columns : undefined; },
    get stderrIsTTY() { return Boolean(process.stderr.isTTY); },
    progress: (t) => { process.stderr.write(t); },
  };
}

/** Collects output in memory (tests). */
export function memoryIo(env: Record<string, string | undefined> = {}, cwd = process.cwd()): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    env,
    cwd,
    out(t: string) { io.stdout += t.endsWith('\n') ? t : `${t}\n`; },
    err(t: string) { io.stderr += t.endsWith('\n') ? t : `${t}\n`; },
  };
  return io;
}
