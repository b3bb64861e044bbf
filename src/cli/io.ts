/** What a command may touch of the process: passed in, so commands run in-process in tests. */
export interface CliIo {
  out(text: string): void;
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
