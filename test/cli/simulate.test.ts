import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { memoryIo } from '../../src/cli/io.js';
import { SIM_PLAN } from '../simulate/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'warmup-cli-simulate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const planFile = join(dir, 'plan.yaml');
writeFileSync(planFile, `${SIM_PLAN}store: { path: ${join(dir, 'real.db')} }\n`);

describe('warmup simulate', () => {
  it('prints each day per lane, the events and launch readiness, and writes the HTML report', async () => {
    const io = memoryIo({}, dir);
    const report = join(dir, 'sim.html');
    expect(await main(['simulate', planFile, '--days', '2', '--seed', '3', '--report', report], io)).toBe(0);
    expect(io.stdout).toMatch(/Simulated plan "sim-test" with seed 3: 2026-12-01 to 2026-12-02, 6 lanes/);
    expect(io.stdout).toMatch(/Day 1 \(2026-12-01\): target 300/);
    expect(io.stdout).toMatch(/127\.0\.0\.121\s+gmail\s+1\s+50\s+\d+/);
    expect(io.stdout).toMatch(/Launch readiness on 2026-12-15 \(as of 2026-12-03\)/);
    expect(readFileSync(report, 'utf8')).toMatch(/<html[\s\S]*sim-test/);
    // The plan's own database is never touched.
    expect(existsSync(join(dir, 'real.db'))).toBe(false);
  });

  it('prints the result as JSON with --json', async () => {
    const io = memoryIo({}, dir);
    expect(await main(['simulate', planFile, '--days', '1', '--json'], io)).toBe(0);
    const r = JSON.parse(io.stdout) as { days: unknown[]; forecast: { lanes: unknown[] }; seed: number };
    expect(r.seed).toBe(1);
    expect(r.days).toHaveLength(6);
    expect(r.forecast.lanes).toHaveLength(6);
  });

  it('refuses a broken model file with line:column errors (exit 2)', async () => {
    const model = join(dir, 'model.yaml');
    writeFileSync(model, 'providers:\n  gmail:\n    cooldown: soon\n');
    const io = memoryIo({}, dir);
    expect(await main(['simulate', planFile, '--model', model], io)).toBe(2);
    expect(io.stderr).toMatch(/model\.yaml:3:15 providers\.gmail\.cooldown: must be a duration/);
  });

  it("refuses to simulate into the plan's own database (exit 2)", async () => {
    const io = memoryIo({}, dir);
    expect(await main(['simulate', planFile, '--db', join(dir, 'real.db')], io)).toBe(2);
    expect(io.stderr).toMatch(/plan's own database/);
  });

  it('runs in memory by default, and with --db writes the run to a SQLite file that status and events read', async () => {
    const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith('warmup-simulate-')));
    const inMemory = memoryIo({}, dir);
    expect(await main(['simulate', planFile, '--days', '2', '--json'], inMemory)).toBe(0);
    // Nothing on disk: no temporary database either.
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('warmup-simulate-') && !before.has(f))).toEqual([]);
    const kept = join(dir, 'kept.db');
    const onFile = memoryIo({}, dir);
    expect(await main(['simulate', planFile, '--days', '2', '--json', '--db', kept], onFile)).toBe(0);
    // The same run either way.
    expect(JSON.parse(onFile.stdout)).toEqual(JSON.parse(inMemory.stdout));
    const status = memoryIo({}, dir);
    expect(await main(['status', planFile, '--db', kept, '--json'], status)).toBe(0);
    const s = JSON.parse(status.stdout) as { lanes: unknown[] };
    expect(s.lanes).toHaveLength(6);
    const events = memoryIo({}, dir);
    expect(await main(['events', planFile, '--db', kept, '--json', '--limit', '100000', '--since', '2026-11-01'], events)).toBe(0);
    const sim = JSON.parse(inMemory.stdout) as { events: Array<{ kind: string }> };
    expect(sim.events.length).toBeGreaterThan(0);
    expect((JSON.parse(events.stdout) as Array<{ kind: string }>).map((e) => e.kind)).toEqual(sim.events.map((e) => e.kind));
  });
});
