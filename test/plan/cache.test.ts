/**
 * The plan cache (plan/cache.ts) gives what loading the file now would give, or
 * loads it: never a stale plan, whatever changed (the plan's bytes, a side file, an
 * environment variable a path names, the build), and never an error of its own.
 */
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlanFileCached, planCacheFor, type PlanCache } from '../../src/plan/cache.js';
import { loadPlanFile } from '../../src/plan/load.js';
import { encodeTree } from '../../src/util/tree-codec.js';

const root = mkdtempSync(join(tmpdir(), 'warmup-plan-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A copy of plans/small.yaml with its seed lists, and an empty cache. */
function fixture(): { dir: string; plan: string; cache: PlanCache } {
  const dir = join(root, `case-${++n}`);
  cpSync('plans', join(dir, 'plans'), { recursive: true });
  return { dir, plan: 'plans/small.yaml', cache: { dir: join(dir, 'cache'), build: 'build-1' } };
}

const load = (f: { dir: string; plan: string; cache: PlanCache | null }, env: Record<string, string> = {}) =>
  loadPlanFileCached(f.plan, { cwd: f.dir, env, cache: f.cache, scheduleWarnings: false });
const direct = (f: { dir: string; plan: string }, env: Record<string, string> = {}) =>
  loadPlanFile(f.plan, { cwd: f.dir, env, secrets: 'skip', scheduleWarnings: false });
const entryOf = (f: { cache: PlanCache }) => {
  const files = readdirSync(f.cache.dir);
  expect(files).toHaveLength(1);
  return join(f.cache.dir, files[0]!);
};
const planOf = (r: Awaited<ReturnType<typeof load>>) => {
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.plan;
};

describe('the plan cache', () => {
  it('gives, from its entry, exactly the plan loading gives, and does not rewrite the entry', async () => {
    const f = fixture();
    const first = planOf(await load(f));
    const entry = entryOf(f);
    const written = statSync(entry).mtimeMs;
    const second = planOf(await load(f));
    expect(statSync(entry).mtimeMs).toBe(written);
    expect(encodeTree(second)).toBe(encodeTree(first));
    expect(encodeTree(second)).toBe(encodeTree(planOf(direct(f))));
  });

  it('keeps the entry to the user (0600 in a 0700 folder) and holds no secret', async () => {
    const f = fixture();
    await load(f);
    expect(statSync(f.cache.dir).mode & 0o777).toBe(0o700);
    expect(statSync(entryOf(f)).mode & 0o777).toBe(0o600);
    expect(readFileSync(entryOf(f), 'utf8')).not.toMatch(/PRIVATE KEY/);
  });

  it('never gives a stale plan when the plan file changes, even keeping its size and time', async () => {
    const f = fixture();
    const file = join(f.dir, f.plan);
    planOf(await load(f));
    const before = statSync(file);
    writeFileSync(file, readFileSync(file, 'utf8').replace('launch: 2026-12-15', 'launch: 2026-12-16'));
    const { utimesSync } = await import('node:fs');
    utimesSync(file, before.atime, before.mtime);
    expect(planOf(await load(f)).launch).toBe('2026-12-16');
    expect(planOf(await load(f)).launch).toBe('2026-12-16');
  });

  it('never gives a stale plan when a side file it read changes (a seed list)', async () => {
    const f = fixture();
    const gmail = (r: Awaited<ReturnType<typeof load>>) => planOf(r).providers.find((p) => p.name === 'gmail')!.seeds.map((x) => x.address);
    const before = gmail(await load(f));
    writeFileSync(join(f.dir, 'plans/seeds/gmail.txt'), 'only.one@gmail.example\n');
    expect(gmail(await load(f))).toEqual(['only.one@gmail.example']);
    expect(before).not.toEqual(['only.one@gmail.example']);
  });

  it('gives the same error as loading when a side file it read goes away', async () => {
    const f = fixture();
    planOf(await load(f));
    rmSync(join(f.dir, 'plans/seeds/yahoo.txt'));
    const r = await load(f);
    expect(r.ok).toBe(false);
    expect(r).toEqual(direct(f));
  });

  it('never gives a stale plan when an environment variable a path names changes', async () => {
    const f = fixture();
    const file = join(f.dir, f.plan);
    writeFileSync(file, readFileSync(file, 'utf8').replace('seeds_file: seeds/gmail.txt', 'seeds_file: "${SEEDS}/gmail.txt"'));
    writeFileSync(join(f.dir, 'other.txt'), 'x@gmail.example\n');
    const gmail = (r: Awaited<ReturnType<typeof load>>) => planOf(r).providers.find((p) => p.name === 'gmail')!.seeds.map((x) => x.address);
    expect(gmail(await load(f, { SEEDS: join(f.dir, 'plans/seeds') }))).not.toEqual(['x@gmail.example']);
    writeFileSync(join(f.dir, 'gmail.txt'), 'x@gmail.example\n');
    expect(gmail(await load(f, { SEEDS: f.dir }))).toEqual(['x@gmail.example']);
    const unset = await load(f, {});
    expect(unset.ok).toBe(false);
    expect(unset).toEqual(direct(f, {}));
  });

  it('does not use an entry another build wrote', async () => {
    const f = fixture();
    await load(f);
    const entry = entryOf(f);
    const written = readFileSync(entry, 'utf8');
    await load({ ...f, cache: { ...f.cache, build: 'build-2' } });
    expect(readFileSync(entry, 'utf8')).not.toBe(written);
    expect(readFileSync(entry, 'utf8')).toContain('"build":"build-2"');
  });

  it('loads as usual when the entry is broken or the cache cannot be written', async () => {
    const f = fixture();
    await load(f);
    writeFileSync(entryOf(f), '{"format":2,');
    expect(encodeTree(planOf(await load(f)))).toBe(encodeTree(planOf(direct(f))));
    writeFileSync(join(f.dir, 'not-a-dir'), '');
    const blocked = { ...f, cache: { dir: join(f.dir, 'not-a-dir', 'cache'), build: 'b' } };
    expect(encodeTree(planOf(await load(blocked)))).toBe(encodeTree(planOf(direct(f))));
    if (process.getuid?.() !== 0) {
      chmodSync(f.cache.dir, 0o500);
      expect(planOf(await load(f)).name).toBe('small');
      chmodSync(f.cache.dir, 0o700);
    }
  });

  it('caches no plan with errors, and reports them as loading does', async () => {
    const f = fixture();
    const file = join(f.dir, f.plan);
    writeFileSync(file, readFileSync(file, 'utf8').replace('launch: 2026-12-15', 'launch: 2026-11-15'));
    const r = await load(f);
    expect(r.ok).toBe(false);
    expect(r).toEqual(direct(f));
    expect(() => readdirSync(f.cache.dir)).toThrow();
    const missing = await load({ ...f, plan: 'plans/nope.yaml' });
    expect(missing).toEqual(direct({ ...f, plan: 'plans/nope.yaml' }));
  });

  it('is found from WARMUP_CACHE_DIR, XDG_CACHE_HOME or HOME, off with WARMUP_CACHE_DIR=off, and off outside a bundled build', () => {
    expect(planCacheFor({ WARMUP_CACHE_DIR: '/tmp/x', XDG_CACHE_HOME: '/tmp/y' }, 'b')).toEqual({ dir: '/tmp/x', build: 'b' });
    expect(planCacheFor({ XDG_CACHE_HOME: '/tmp/y', HOME: '/home/u' }, 'b')).toEqual({ dir: '/tmp/y/warmup', build: 'b' });
    expect(planCacheFor({ HOME: '/home/u' }, 'b')).toEqual({ dir: '/home/u/.cache/warmup', build: 'b' });
    expect(planCacheFor({ WARMUP_CACHE_DIR: 'off', HOME: '/home/u' }, 'b')).toBeNull();
    expect(planCacheFor({ WARMUP_CACHE_DIR: '', HOME: '/home/u' }, 'b')).toBeNull();
    // Under vitest there is no bundler's build id: nothing is cached.
    expect(planCacheFor({ WARMUP_CACHE_DIR: '/tmp/x' })).toBeNull();
  });
});
