/**
 * Running one command as the process: its exit code, or the code an error
 * maps to (ExitError's own; 2 for bad input; 1 for anything else). Shared by
 * the CLI (./main.ts) and the one-file `warmup status` (./status-bin.ts).
 */
import { ExitError, WarmupError, describeError } from '../util/errors.js';
import type { CliIo } from './io.js';

/** Bad input that a WarmupError reports (exit 2) rather than a runtime failure (exit 1). */
const INPUT_ERRORS = new Set(['PLAN_INVALID', 'STORE_MISSING', 'STORE_URL', 'USAGE']);

/** A command module: `run` returns the exit code or throws. */
export interface CommandModule {
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

/** Loads and runs command `name` with `argv`; never throws. */
export async function runCommand(name: string, load: () => Promise<CommandModule>, argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const mod = await load();
    return await mod.run(argv, io);
  } catch (e) {
    if (e instanceof ExitError) {
      if (e.message) io.err(e.message);
      return e.exitCode;
    }
    io.err(`warmup ${name}: ${describeError(e)}`);
    return e instanceof WarmupError && INPUT_ERRORS.has(e.code) ? 2 : 1;
  }
}

/**
 * Runs `run` as the process: its result is the exit code. The only place that calls process.exit
 * (with io.ts's directIo, whose output watches for EPIPE itself: `watchStreams` false).
 */
export function runProcess(run: () => Promise<number>, watchStreams = true): void {
  // `warmup status | head`: when the reader goes away, stop quietly with success, as cat does.
  for (const stream of watchStreams ? [process.stdout, process.stderr] : []) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  run().then((code) => { process.exitCode = code; });
}
