/**
 * `warmup status` (the bundled CLI, as installed) through the plan cache: a
 * second run reads the plan from the cache, and a changed plan file, seed list
 * or bad plan is never hidden by it. Needs `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    expect(readdirSync(cache)).toHaveLength(1);
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
