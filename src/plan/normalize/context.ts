/**
 * What every section of the plan's normalization shares: the written plan, the
 * options, the error and warning reporters, and the reading of side files
 * (keys, seed lists, templates) through the injected `PlanFiles`.
 */
import { isAbsolute, resolve } from 'node:path';
import { parseDuration } from '../duration.js';
import { isMailbox } from '../ip.js';
import type { WrittenPlan } from '../schema.js';
import type { KeyPath } from '../yaml-locate.js';

/** How a plan reaches its side files (keys, seed lists, templates). */
export interface PlanFiles {
  /** Reads a UTF-8 file; throws an errno error (ENOENT, EACCES, EISDIR) when it cannot. */
  read(absolutePath: string): string;
  /** Whether a file exists (used for secrets that are not read, to warn what start will need). */
  exists?(absolutePath: string): boolean;
}

export interface NormalizeOptions {
  /** Directory relative file names in the plan are resolved against. */
  readonly baseDir: string;
  /** The current directory (kept for messages; every relative path, the default store too, follows `baseDir`). */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly files: PlanFiles;
  readonly file: string | null;
  /**
   * What to do with secrets (the DKIM private key, IMAP password files): `load` reads and checks
   * them (start, check); `check` reads nothing but warns what `start` will need (validate);
   * `skip` ignores them (commands that never sign: plan, simulate, status, report...).
   */
  readonly secrets?: SecretsMode;
}

/** See {@link NormalizeOptions.secrets}. */
export type SecretsMode = 'load' | 'check' | 'skip';

export type Report = (path: KeyPath, message: string) => void;

export interface NormalizeContext {
  readonly w: WrittenPlan;
  readonly opts: NormalizeOptions;
  readonly secrets: SecretsMode;
  /** Reports an error: the plan is refused. */
  readonly err: Report;
  readonly warn: Report;
  /** True once any error was reported. */
  failed(): boolean;
  /** A duration the schema already checked the form of, in ms. */
  dur(text: string): number;
  /** A plan path with ${VAR} expanded, resolved against the plan's folder; null (reported) when a variable is unset. */
  filePath(path: KeyPath, name: string): string | null;
  /**
   * A secret file's path when secrets are not loaded: never an error; with `check`, a warning
   * for what `start` will need (the variable set, the file present).
   */
  secretPath(path: KeyPath, name: string, what: string, create: string): string;
  /** A side file's text; null (reported) when it cannot be read. */
  readText(path: KeyPath, name: string): string | null;
  /** One address a line; blank lines and # comments skipped. */
  readAddressFile(path: KeyPath, name: string): string[];
}

export function normalizeContext(w: WrittenPlan, opts: NormalizeOptions, error: Report, warn: Report): NormalizeContext {
  let failed = false;
  const err: Report = (path, message) => { failed = true; error(path, message); };
  const dur = (text: string): number => parseDuration(text) ?? 0; // schema already checked the form
  const secrets: SecretsMode = opts.secrets ?? 'load';
  /** Expands ${VAR} from the environment, then resolves against the plan's folder. */
  const expandPath = (name: string): { abs: string } | { missing: string } => {
    let missing: string | null = null;
    const expanded = name.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, v: string) => {
      const val = opts.env[v];
      if (val === undefined) missing = v;
      return val ?? '';
    });
    if (missing) return { missing };
    return { abs: isAbsolute(expanded) ? expanded : resolve(opts.baseDir, expanded) };
  };
  const filePath = (path: KeyPath, name: string): string | null => {
    const p = expandPath(name);
    if ('missing' in p) { err(path, `environment variable ${p.missing} is not set`); return null; }
    return p.abs;
  };
  /**
   * A secret file's path when secrets are not loaded: never an error; with `check`, a warning
   * for what `start` will need (the variable set, the file present).
   */
  const secretPath = (path: KeyPath, name: string, what: string, create: string): string => {
    const p = expandPath(name);
    if (secrets === 'check') {
      if ('missing' in p) {
        const hint = p.missing === 'CREDENTIALS_DIRECTORY' ? ' (the unit `warmup systemd` prints sets it and hands the file over)' : '';
        warn(path, `warmup start will need environment variable ${p.missing} for ${what}${hint}`);
      } else if (opts.files.exists && !opts.files.exists(p.abs)) {
        warn(path, `warmup start will need ${what} at ${p.abs}, which does not exist yet${create ? `: ${create.replace('$FILE', p.abs)}` : ''}`);
      }
    }
    return 'abs' in p ? p.abs : name;
  };
  const readText = (path: KeyPath, name: string): string | null => {
    const abs = filePath(path, name);
    if (abs === null) return null;
    try {
      return opts.files.read(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') err(path, `file not found: ${abs}`);
      else if (code === 'EACCES') err(path, `file not readable (permission denied): ${abs}`);
      else if (code === 'EISDIR') err(path, `is a directory, not a file: ${abs}`);
      else err(path, `cannot read ${abs}: ${(e as Error).message}`);
      return null;
    }
  };
  /** One address a line; blank lines and # comments skipped. */
  const readAddressFile = (path: KeyPath, name: string): string[] => {
    const text = readText(path, name);
    if (text === null) return [];
    const out: string[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') return;
      if (!isMailbox(line)) err(path, `${name}:${i + 1}: "${line}" is not an email address`);
      else out.push(line.toLowerCase());
    });
    return out;
  };
  return { w, opts, secrets, err, warn, failed: () => failed, dur, filePath, secretPath, readText, readAddressFile };
}
