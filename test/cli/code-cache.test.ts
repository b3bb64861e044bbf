/**
 * The code cache the bin runs `warmup status`'s CommonJS bundle through
 * (src/cli/code-cache.ts): an entry is used only for the very source it was
 * made from, and a missing, stale, truncated, corrupt, rejected or unwritable
 * one falls back to compiling, with the same result and no error. (An entry V8
 * itself rejects is tested through the bin, test/cli/status-cache.test.ts: in
 * one process V8's own in-memory cache answers before any entry is read.)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { runCached } from '../../src/cli/code-cache.js';

const require = createRequire(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'warmup-code-cache-'));
const cache = join(dir, 'cache');
const file = join(dir, 'bundle.cjs');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A bundle whose run records what it computed, through a parameter and through module.exports. */
const bundle = (answer: number) => `'use strict';
function square(x) { return x * x; }
function later(n) { return Array.from({ length: n }, (_, i) => square(i)).reduce((a, b) => a + b, 0); }
module.exports = { square, later, answer: ${answer} };
report({ answer: ${answer}, sum: later(10), file: __filename, dir: __dirname, fs: typeof require('node:fs').readFileSync });
`;

let reports: unknown[] = [];
const run = (cacheDir: string | null = cache) => runCached(require, { file, dir: cacheDir, params: { report: (r: unknown) => reports.push(r) } });
const entry = () => join(cache, readdirSync(cache).find((f) => f.startsWith('code-bundle.cjs-'))!);
const expected = (answer: number) => ({ answer, sum: 285, file, dir, fs: 'function' });

beforeEach(() => {
  reports = [];
  rmSync(cache, { recursive: true, force: true });
  writeFileSync(file, bundle(42));
});

describe('runCached', () => {
  it('compiles without a cache folder and writes nothing', () => {
    const use = run(null);
    use.save();
    expect(use.state).toBe('off');
    expect(reports).toEqual([expected(42)]);
  });

  it('writes an entry after a miss and uses it on the next run, with the same result', () => {
    const first = run();
    expect(first.state).toBe('miss');
    first.save();
    first.save(); // once
    expect(readdirSync(cache)).toEqual([`code-bundle.cjs-${process.version}-${process.arch}.bin`]);
    const second = run();
    expect(second.state).toBe('hit');
    second.save();
    expect(reports).toEqual([expected(42), expected(42)]);
  });

  it('ignores an entry made from another source, even of the same length', () => {
    run().save();
    writeFileSync(file, bundle(43)); // same length, other code
    const use = run();
    expect(use.state).toBe('miss');
    expect(reports).toEqual([expected(42), expected(43)]);
    use.save();
    expect(run().state).toBe('hit');
    expect(reports.at(-1)).toEqual(expected(43));
  });

  it('ignores a truncated or damaged entry', () => {
    run().save();
    const good = readFileSync(entry());
    writeFileSync(entry(), good.subarray(0, good.length - 1));
    expect(run().state).toBe('miss');
    const damaged = Buffer.from(good);
    damaged[16 + 100]! ^= 0xff; // a byte of the cached data, which V8 itself would not notice
    writeFileSync(entry(), damaged);
    expect(run().state).toBe('miss');
    writeFileSync(entry(), 'not an entry');
    expect(run().state).toBe('miss');
    expect(reports).toEqual([expected(42), expected(42), expected(42), expected(42)]);
  });

  it('runs the same when the cache folder cannot be written', () => {
    writeFileSync(cache, 'a file where the folder should be');
    const use = run();
    expect(() => use.save()).not.toThrow();
    expect(run().state).toBe('miss');
    expect(reports).toEqual([expected(42), expected(42)]);
  });
});
