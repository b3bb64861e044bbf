/**
 * Running a CommonJS bundle (`warmup status`'s dist/bundle/status-bin.cjs)
 * through V8's code cache: the bytecode of every function the last run
 * compiled is kept on disk and handed to V8 with the source, so a run
 * compiles almost nothing (Node 20 has no module.enableCompileCache; this is
 * vm.Script's `cachedData`, what that API does).
 *
 * One entry per bundle file name, Node version and architecture, in the cache
 * folder (util/cache-dir.ts): a header, the cached data twice, then the
 * bundle's whole source. It is used only when the source stored is byte for
 * byte the file's now and the two copies of the data are equal (compared, not
 * hashed: V8 checks the data's header but not its bytes, and a checksum
 * computed in JavaScript would cost ~2 ms a run, node:crypto or node:zlib
 * more to load, where comparing is a memcmp); V8 itself then checks its own
 * version and flags and may still reject it. Anything else (no entry, another build's, a truncated or
 * corrupt one, a rejected one) compiles as without a cache and writes a new
 * entry once the run is over (to a temporary file, then renamed: readers see
 * whole entries only). A cache that cannot be read or written is no cache: the
 * run is the same, only slower.
 *
 * Builtins are reached through the `require` given (the bin is an ES module
 * whose static imports of node:fs would build ES facades that load Node's
 * stream modules: milliseconds of every run).
 */
import type * as Fs from 'node:fs';
import type * as Module from 'node:module';
import type * as Path from 'node:path';
import type * as Vm from 'node:vm';

/** The entry's first bytes (its layout's version is the last digit). */
const MAGIC = 'warmupC2';
/** MAGIC, then the source's length and the data's (little-endian u32 each). */
const HEADER = 16;

export interface CachedRun {
  /** The CommonJS bundle, absolute. */
  readonly file: string;
  /** The cache folder, or null for none. */
  readonly dir: string | null;
  /** More parameters of the bundle's wrapper, after exports, require, module, __filename, __dirname. */
  readonly params?: Readonly<Record<string, unknown>>;
}

/** How a run used the cache, and what writes its entry. */
export interface CacheUse {
  /** 'off': no cache folder; 'miss': no usable entry; 'rejected': V8 refused the entry's data. */
  readonly state: 'off' | 'hit' | 'miss' | 'rejected';
  /** Writes a new entry with what the run compiled (a no-op after a hit or without a folder); never throws. */
  save(): void;
}

/**
 * Loads and runs the bundle `run.file`, through the code cache in `run.dir`.
 * Call `save()` once the run is over (at the process's exit): the entry then
 * holds every function the run compiled, not only the top level.
 */
export function runCached(require: NodeJS.Require, run: CachedRun): CacheUse {
  const fs = require('node:fs') as typeof Fs;
  const path = require('node:path') as typeof Path;
  const vm = require('node:vm') as typeof Vm;
  const source = fs.readFileSync(run.file);
  const entry = run.dir === null ? null : path.join(run.dir, `code-${path.basename(run.file)}-${process.version}-${process.arch}.bin`);
  const cachedData = entry === null ? undefined : readEntry(fs, entry, source);
  const names = ['exports', 'require', 'module', '__filename', '__dirname', ...Object.keys(run.params ?? {})];
  // One line, as Node's own CommonJS wrapper: line numbers in stack traces stay the file's.
  const script = new vm.Script(`(function (${names.join(', ')}) {${source.toString('utf8')}\n})`, {
    filename: run.file,
    ...(cachedData ? { cachedData } : {}),
  });
  const state = entry === null ? 'off' : cachedData === undefined ? 'miss' : script.cachedDataRejected ? 'rejected' : 'hit';
  const fn = script.runInThisContext() as (...args: unknown[]) => void;
  const module = { exports: {} };
  fn.call(module.exports, module.exports, (require('node:module') as typeof Module).createRequire(run.file), module, run.file, path.dirname(run.file), ...Object.values(run.params ?? {}));
  let saved = false;
  return {
    state,
    save: () => {
      if (entry === null || state === 'hit' || saved) return;
      saved = true;
      writeEntry(fs, path, entry, source, script);
    },
  };
}

/** The cached data of the entry at `entry` when it is for exactly `source`, else undefined. */
function readEntry(fs: typeof Fs, entry: string, source: Buffer): Buffer | undefined {
  let raw: Buffer;
  try { raw = fs.readFileSync(entry); } catch { return undefined; }
  if (raw.length < HEADER || raw.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const sourceLength = raw.readUInt32LE(8);
  const dataLength = raw.readUInt32LE(12);
  if (sourceLength !== source.length || raw.length !== HEADER + 2 * dataLength + sourceLength) return undefined;
  const data = raw.subarray(HEADER, HEADER + dataLength);
  if (!data.equals(raw.subarray(HEADER + dataLength, HEADER + 2 * dataLength)) || !source.equals(raw.subarray(HEADER + 2 * dataLength))) return undefined;
  return data;
}

function writeEntry(fs: typeof Fs, path: typeof Path, entry: string, source: Buffer, script: Vm.Script): void {
  try {
    const data = script.createCachedData();
    const header = Buffer.alloc(HEADER);
    header.write(MAGIC, 0, 'latin1');
    header.writeUInt32LE(source.length, 8);
    header.writeUInt32LE(data.length, 12);
    fs.mkdirSync(path.dirname(entry), { recursive: true, mode: 0o700 });
    const tmp = `${entry}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([header, data, data, source]), { mode: 0o600 });
    fs.renameSync(tmp, entry);
  } catch {
    /* a read-only home, a full disk: no cache, the same output */
  }
}
