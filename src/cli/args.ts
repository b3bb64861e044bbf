/** Argument parsing shared by every command (node:util parseArgs, strict). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ExitError } from '../util/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses argv for one command; a usage mistake becomes exit 2 with the command's usage. */
export function parse<T extends Options>(argv: readonly string[], options: T, usage: string, io: { err(t: string): void }) {
  try {
    return parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    io.err(`warmup: ${(e as Error).message}\n\n${usage}`);
    throw new ExitError(2);
  }
}

/** Exactly one positional: the plan file. */
export function planArg(positionals: readonly string[], usage: string, io: { err(t: string): void }): string {
  if (positionals.length !== 1) {
    io.err(`warmup: expected one plan file${positionals.length ? `, got ${positionals.length} arguments` : ''}\n\n${usage}`);
    throw new ExitError(2);
  }
  return positionals[0]!;
}
