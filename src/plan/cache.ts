/**
 * A cache of loaded plans, for the commands that only read (`warmup status`):
 * parsing the YAML, checking it against the schema and normalizing it cost
 * more than the rest of `status` together, mostly in compiling the YAML and
 * zod libraries, which a cache hit never loads.
 *
 * A cached plan is used only when it is certainly what loading the file now
 * would give: the same warmup build (every bundle gets its own id; without one,
 * as under tsx or tsc's output, nothing is cached), the same plan file path,
 * working directory and options, the same text in the plan file, and the
 * same everything the loading read besides: each side file's text (or the
 * same error reading it), whether each file it asked about exists,
 * and the value of each environment variable it looked up. Anything else is a
 * miss: the plan is loaded as usual and the entry rewritten. Only plans that
 * load without errors, with secrets skipped, are cached (no key or password
 * ever reaches the cache); entries are the user's only (0600 in a 0700 folder).
 * Texts are kept whole and compared, not hashed: no collision to argue about,
 * and no node:crypto to load (tens of milliseconds of a status run).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { cacheDir } from '../util/cache-dir.js';
import { decodeTree, encodeTree } from '../util/tree-codec.js';
import type { LoadResult } from './load.js';
import type { PlanFiles } from './normalize/context.js';
import type { Plan, PlanIssue } from './types.js';

/** Set by the bundler (`npm run bundle`): one id per build of the CLI. */
declare const __WARMUP_BUILD__: string | undefined;

/** The bundle's build id; null when running unbundled (tsx, tsc's output, tests). */
function bundledBuild(): string | null {
  return typeof __WARMUP_BUILD__ === 'string' ? __WARMUP_BUILD__ : null;
}

/** Where entries live and which build wrote them. */
export interface PlanCache {
  readonly dir: string;
  readonly build: string;
}

/** Bumped when the entry's layout changes. */
const FORMAT = 2;

/**
 * The CLI's cache: `$WARMUP_CACHE_DIR` (`off` or empty: no cache), else
 * `$XDG_CACHE_HOME/warmup`, else `~/.cache/warmup`; null outside a bundled build.
 */
export function planCacheFor(env: Readonly<Record<string, string | undefined>>, build: string | null = bundledBuild()): PlanCache | null {
  if (build === null) return null;
  const dir = cacheDir(env, homedir, join, resolve);
  return dir === null ? null : { dir, build };
}

export interface CachedLoadOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** null: load without the cache. */
  readonly cache: PlanCache | null;
  readonly scheduleWarnings?: boolean;
}

/** What one loading read besides the plan file: checked again before its result is reused. */
interface Reads {
  /** [absolute path, its text, or null and the error code when reading it failed]. */
  files: [string, string | null, string?][];
  exists: [string, boolean][];
  /** [name, value or null when unset]. */
  env: [string, string | null][];
}

interface Header {
  readonly format: number;
  readonly build: string;
  readonly key: string;
  readonly text: string;
  readonly reads: Reads;
}

/**
 * `loadPlanFile(path, { secrets: 'skip' })`, through the cache: the same
 * result, without loading the plan's parser on a hit. Never fails because of
 * the cache: an unreadable, foreign or broken entry is a miss, and an entry
 * that cannot be written is skipped.
 *
 * @example
 * const r = await loadPlanFileCached('plan.yaml', { cwd: io.cwd, env: io.env, cache: planCacheFor(io.env), scheduleWarnings: false });
 */
export async function loadPlanFileCached(path: string, options: CachedLoadOptions): Promise<LoadResult> {
  const abs = resolve(options.cwd, path);
  const scheduleWarnings = options.scheduleWarnings ?? true;
  let text: string | null = null;
  try { text = readFileSync(abs, 'utf8'); } catch { /* the loader reports it */ }
  const key = JSON.stringify([abs, options.cwd, 'skip', scheduleWarnings]);
  const entry = options.cache && text !== null ? join(options.cache.dir, `plan-${fnv1a(key)}.json`) : null;
  if (entry && text !== null) {
    const hit = readEntry(entry, options.cache!.build, key, text, options.env);
    if (hit) return hit;
  }
  const { loadPlan, loadPlanFile } = await import('./load.js');
  if (text === null || !entry) return loadPlanFile(path, { cwd: options.cwd, env: options.env, secrets: 'skip', scheduleWarnings });
  const reads: Reads = { files: [], exists: [], env: [] };
  const watched = recording(options.env, reads);
  const result = loadPlan(text, { file: path, cwd: options.cwd, env: watched.env, files: watched.files, secrets: 'skip', scheduleWarnings });
  if (result.ok && !watched.enumerated()) {
    writeEntry(entry, { format: FORMAT, build: options.cache!.build, key, text, reads }, { plan: result.plan, warnings: result.warnings });
  }
  return result;
}

/** The entry's file name for a key (the key itself is in the entry and compared: a clash is only a miss). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** A side file as a loading read it: [text, undefined] or [null, error code]. */
function readSide(path: string): [string | null, string?] {
  try { return [readFileSync(path, 'utf8')]; } catch (e) { return [null, (e as NodeJS.ErrnoException).code ?? 'ERROR']; }
}

/** The environment and the side files as the loader sees them, noting every read. */
function recording(env: Readonly<Record<string, string | undefined>>, reads: Reads): { env: Readonly<Record<string, string | undefined>>; files: PlanFiles; enumerated(): boolean } {
  let enumerated = false;
  const note = (k: string) => { if (!reads.env.some(([n]) => n === k)) reads.env.push([k, env[k] ?? null]); };
  const watchedEnv = new Proxy(env, {
    get(target, k) { if (typeof k === 'string') note(k); return Reflect.get(target, k) as unknown; },
    has(target, k) { if (typeof k === 'string') note(k); return Reflect.has(target, k); },
    // A loading that lists the environment depends on all of it: not cached.
    ownKeys(target) { enumerated = true; return Reflect.ownKeys(target); },
    getOwnPropertyDescriptor(target, k) { if (typeof k === 'string') note(k); return Reflect.getOwnPropertyDescriptor(target, k); },
  });
  const files: PlanFiles = {
    read(p) {
      try {
        const t = readFileSync(p, 'utf8');
        reads.files.push([p, t]);
        return t;
      } catch (e) {
        reads.files.push([p, null, (e as NodeJS.ErrnoException).code ?? 'ERROR']);
        throw e;
      }
    },
    exists(p) { const yes = existsSync(p); reads.exists.push([p, yes]); return yes; },
  };
  return { env: watchedEnv, files, enumerated: () => enumerated };
}

function readEntry(path: string, build: string, key: string, text: string, env: Readonly<Record<string, string | undefined>>): LoadResult | null {
  try {
    const raw = readFileSync(path, 'utf8');
    const nl = raw.indexOf('\n');
    const h = JSON.parse(raw.slice(0, nl)) as Header;
    if (h.format !== FORMAT || h.build !== build || h.key !== key || h.text !== text) return null;
    if (!h.reads.env.every(([k, v]) => (env[k] ?? null) === v)) return null;
    if (!h.reads.exists.every(([p, yes]) => existsSync(p) === yes)) return null;
    if (!h.reads.files.every(([p, was, code]) => { const [now, nowCode] = readSide(p); return now === was && nowCode === code; })) return null;
    const r = decodeTree(raw.slice(nl + 1)) as { plan: Plan; warnings: readonly PlanIssue[] };
    return { ok: true, plan: r.plan, warnings: r.warnings };
  } catch {
    return null;
  }
}

function writeEntry(path: string, header: Header, result: { plan: Plan; warnings: readonly PlanIssue[] }): void {
  try {
    const body = encodeTree(result);
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(header)}\n${body}`, { mode: 0o600 });
    renameSync(tmp, path); // whole entries only, even with two writers at once
  } catch {
    /* a read-only home, a full disk, a plan the codec cannot carry: no cache, same result */
  }
}
