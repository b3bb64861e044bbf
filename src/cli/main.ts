#!/usr/bin/env node
/**
 * The `warmup` command: every command returns an exit code or throws
 * ExitError; anything else is a runtime failure (1), see ./run-command.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { processIo, type CliIo } from './io.js';
import { commands } from './commands/index.js';
import { runCommand, runProcess } from './run-command.js';

const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };

export const usage = `warmup ${pkg.version}: IP warm-up scheduler for your own outbound mail servers

Usage: warmup COMMAND [options]

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n')}

Run \`warmup COMMAND --help\` for a command's options.
Exit status: 0 ok, 1 runtime failure, 2 bad input or usage.`;

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
  return runCommand(name, command.load, rest, io);
}

/** Runs the process's command line (the bundled bin calls this; see ./bin.ts). */
export function cli(): void {
  runProcess(() => main(process.argv.slice(2)));
}

// Run directly (tsx src/cli/main.ts, tsc's dist/cli/main.js); the bundle's bin, ./bin.ts, calls cli() itself.
const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) cli();
