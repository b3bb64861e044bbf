/** Argument parsing shared by every command (node:util parseArgs, strict). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ExitError } from '../util/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses argv for one command; a usage mistake becomes exit 2 with the command's usage. */
export function parse<T extends Options>(argv: readonly string[], options: T, usage: string, io: { err(t: string): void }) {
  const config = { args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true } as const;
  const plain = plainParse(config.args, config.options);
  if (plain) return plain as ReturnType<typeof parseArgs<typeof config>>;
  try {
    return parseArgs(config);
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

/**
 * parseArgs' answer for the plainest command lines, without loading parseArgs (its first
 * call compiles Node's internal module: ~2.7 ms of every command): only `--name` of a
 * declared option (a string option followed by a value not starting with "-") and
 * positionals not starting with "-", with no option declaring a default or `multiple`.
 * Anything else (short flags, `--name=value`, `--`, unknown options, a missing value)
 * returns null: parseArgs itself answers, errors included.
 */
export function plainParse(args: readonly string[], options: Options): { values: Record<string, string | boolean>; positionals: string[] } | null {
  for (const o of Object.values(options)) if (o.default !== undefined || o.multiple) return null;
  const values: Record<string, string | boolean> = Object.create(null) as Record<string, string | boolean>;
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) { positionals.push(a); continue; }
    if (!a.startsWith('--') || a.includes('=')) return null;
    const name = a.slice(2);
    const o = Object.hasOwn(options, name) ? options[name] : undefined;
    if (!o) return null;
    if (o.type === 'boolean') { values[name] = true; continue; }
    const value = args[i + 1];
    if (value === undefined || value.startsWith('-')) return null;
    values[name] = value;
    i++;
  }
  return { values, positionals };
}
