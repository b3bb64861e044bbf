#!/usr/bin/env node
/**
 * The `warmup` command. The only place that calls process.exit: every command
 * returns an exit code or throws ExitError; anything else is a runtime failure (1).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { ExitError, WarmupError, describeError } from '../util/errors.js';
import { processIo, type CliIo } from './io.js';
import { commands } from './commands/index.js';

const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };

export const usage = `warmup ${pkg.version}: IP warm-up scheduler for your own outbound mail servers

Usage: warmup COMMAND [options]

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n')}

Run \`warmup COMMAND --help\` for a command's options.
Exit status: 0 ok, 1 runtime failure, 2 bad input or usage.`;

/** Bad input that a WarmupError reports (exit 2) rather than a runtime failure (exit 1). */
const INPUT_ERRORS = new Set(['PLAN_INVALID', 'STORE_MISSING', 'STORE_URL', 'USAGE']);

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0] && commands[rest[0]]) return main([rest[0], '--help'], io);
    io.out(usage);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') { io.out(pkg.version); return 0; }
  const command = commands[name];
  if (!command) {
    io.err(`warmup: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  try {
    const mod = await command.load();
    return await mod.run(rest, io);
  } catch (e) {
    if (e instanceof ExitError) {
      if (e.message) io.err(e.message);
      return e.exitCode;
    }
    io.err(`warmup ${name}: ${describeError(e)}`);
    return e instanceof WarmupError && INPUT_ERRORS.has(e.code) ? 2 : 1;
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry || process.argv[1]?.endsWith('/warmup')) {
  // `warmup status | head`: when the reader goes away, stop quietly with success, as cat does.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
