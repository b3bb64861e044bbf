/**
 * `warmup status` (the bundled CLI, as installed) through the plan cache: a
 * second run reads the plan from the cache, and a changed plan file, seed list
 * or bad plan is never hidden by it. And through the code cache of its bundle
 * (src/cli/code-cache.ts): the same output whatever the entry's state. Needs
 * `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'warmup-status-cache-'));
const cache = join(dir, 'cache');
const plan = join(dir, 'plans/small.yaml');
const db = join(dir, 'sim.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  cpSync(join(root, 'plans'), join(dir, 'plans'), { recursive: true });
  const code = await main(['simulate', plan, '--days', '2', '--db', db, '--seed', '3'], memoryIo({}, dir));
  expect(code).toBe(0);
}, 60_000);

function status(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'dist/bundle/main.js'), 'status', plan, '--db', db, ...args], {
    cwd: dir, encoding: 'utf8', env: { ...process.env, WARMUP_CACHE_DIR: cache },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const edit = (file: string, from: string, to: string) => writeFileSync(file, readFileSync(file, 'utf8').replace(from, to));

describe('warmup status with the plan cache', () => {
  it('gives the same output from the cache as without it', () => {
    const first = status('--json', '--at', '2026-12-02T18:00:00Z');
    expect(first.code).toBe(0);
    expect(readdirSync(cache).filter((f) => f.startsWith('plan-'))).toHaveLength(1);
    const cached = status('--json', '--at', '2026-12-02T18:00:00Z');
    const uncached = spawnSync(process.execPath, [join(root, 'dist/bundle/main.js'), 'status', plan, '--db', db, '--json', '--at', '2026-12-02T18:00:00Z'], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, WARMUP_CACHE_DIR: 'off' },
    });
    expect(cached.out).toBe(first.out);
    expect(uncached.stdout).toBe(first.out);
  });

  it('shows a change to the plan file at once', () => {
    expect(JSON.parse(status('--json').out).launch).toBe('2026-12-15');
    edit(plan, 'launch: 2026-12-15', 'launch: 2026-12-14');
    expect(JSON.parse(status('--json').out).launch).toBe('2026-12-14');
    edit(plan, 'launch: 2026-12-14', 'launch: 2026-12-15');
    expect(JSON.parse(status('--json').out).launch).toBe('2026-12-15');
  });

  it('refuses a plan broken since the last run, as without the cache', () => {
    expect(status().code).toBe(0);
    edit(plan, 'timezone: Europe/Paris', 'timezone: Europe/Nowhere');
    const r = status();
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/small\.yaml:\d+:\d+ timezone: /);
    edit(plan, 'timezone: Europe/Nowhere', 'timezone: Europe/Paris');
    expect(status().code).toBe(0);
  });

  it('shows a change to a seed list the plan reads', () => {
    expect(status().code).toBe(0);
    rmSync(join(dir, 'plans/seeds/yahoo.txt'));
    const r = status();
    expect(r.code).toBe(2);
    expect(r.err).toContain('file not found');
  });
});

describe('warmup status with the code cache', () => {
  // The plan as shipped (the tests above edit it and remove a seed list).
  beforeAll(() => cpSync(join(root, 'plans'), join(dir, 'plans'), { recursive: true }));
  const args = ['--json', '--at', '2026-12-02T18:00:00Z'];
  const entry = () => readdirSync(cache).filter((f) => f.startsWith('code-status-bin.cjs-')).map((f) => join(cache, f));

  it('writes one entry and gives the same output from it, from a damaged one and from one V8 refuses', () => {
    rmSync(cache, { recursive: true, force: true });
    const first = status(...args);
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(entry()).toHaveLength(1);
    const [file] = entry();
    const good = readFileSync(file!);
    expect(status(...args)).toEqual(first);
    // A damaged byte in the cached data: refused before V8 reads it, then written anew.
    const damaged = Buffer.from(good);
    damaged[16 + 200]! ^= 0xff;
    writeFileSync(file!, damaged);
    expect(status(...args)).toEqual(first);
    expect(readFileSync(file!).equals(damaged)).toBe(false);
    // Data V8 refuses (the source right, both copies equal): compiled as without the cache, the entry replaced.
    const dataLength = good.readUInt32LE(12);
    const junk = Buffer.alloc(dataLength, 7);
    writeFileSync(file!, Buffer.concat([good.subarray(0, 16), junk, junk, good.subarray(16 + 2 * dataLength)]));
    expect(status(...args)).toEqual(first);
    const rewritten = readFileSync(file!);
    expect(rewritten.subarray(16, 16 + 64).equals(junk.subarray(0, 64))).toBe(false);
    // A hit leaves the entry as it is.
    const before = statSync(file!).mtimeMs;
    expect(status(...args)).toEqual(first);
    expect(statSync(file!).mtimeMs).toBe(before);
  });

  it('gives the same output when the cache folder cannot be written', () => {
    const blocked = join(dir, 'not-a-folder');
    writeFileSync(blocked, 'x');
    const run = (env: Record<string, string>) => spawnSync(process.execPath, [join(root, 'dist/bundle/main.js'), 'status', plan, '--db', db, ...args], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, ...env },
    });
    const off = run({ WARMUP_CACHE_DIR: 'off' });
    const r = run({ WARMUP_CACHE_DIR: blocked });
    expect(off.status).toBe(0);
    expect({ code: r.status, out: r.stdout, err: r.stderr }).toEqual({ code: 0, out: off.stdout, err: '' });
  });
});
