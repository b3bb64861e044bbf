import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlan, loadPlanFile } from '../../src/plan/load.js';
import { defaultModels } from '../../src/simulate/model-file.js';
import { simulatePlan } from '../../src/simulate/run.js';
import { memoryStore } from '../../src/store/memory/index.js';
import { openStore } from '../../src/store/open.js';
import { createLogger } from '../../src/util/log.js';
import { SIM_PLAN } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'warmup-simulate-stores-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('warmup simulate on the memory store', () => {
  it('gives the same day-end decisions, counts and events as on SQLite: plans/small.yaml, default model, seed 1', async () => {
    const loaded = loadPlanFile(resolve(import.meta.dirname, '../../plans/small.yaml'), { secrets: 'skip' });
    if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join('\n'));
    const plan = loaded.plan;
    const log = createLogger({ level: 'silent' });
    const sqlite = await openStore(join(dir, 'small.db'), { durability: 'throwaway' });
    const memory = memoryStore();
    try {
      const onSqlite = await simulatePlan({ plan, models: defaultModels(plan), seed: 1, store: sqlite, log });
      const inMemory = await simulatePlan({ plan, models: defaultModels(plan), seed: 1, store: memory, log });

      // Every lane-day: its stage, target, counters and decision.
      expect(inMemory.days).toEqual(onSqlite.days);
      expect(inMemory.days.filter((d) => d.decision !== null).length).toBeGreaterThan(60);
      expect(inMemory.totals).toEqual(onSqlite.totals);
      expect(inMemory.totals.messages).toBeGreaterThan(10_000);
      expect(inMemory.events).toEqual(onSqlite.events);
      expect(inMemory.lanes).toEqual(onSqlite.lanes);
      expect(inMemory.forecast).toEqual(onSqlite.forecast);
      expect(inMemory).toEqual(onSqlite);
      // What status and the metrics read of the two stores agrees as well.
      const byLane = (rows: Array<{ lane_id: number; outcome: string; n: number }>) => [...rows].sort((a, b) => a.lane_id - b.lane_id || a.outcome.localeCompare(b.outcome));
      expect(byLane(await memory.attemptOutcomeCounts(plan.name))).toEqual(byLane(await sqlite.attemptOutcomeCounts(plan.name)));
      const history = (rows: Array<{ ip: string; provider: string; day: string }>) => [...rows].sort((a, b) => a.ip.localeCompare(b.ip) || a.provider.localeCompare(b.provider) || a.day.localeCompare(b.day));
      expect(history(await memory.laneHistory(plan.name))).toEqual(history(await sqlite.laneHistory(plan.name)));
      const lanes = (await sqlite.loadLanes(plan.name)).map((l) => l.id);
      expect(await memory.lastReplies(lanes)).toEqual(await sqlite.lastReplies(lanes));
      expect(await memory.lastEventId()).toBe(await sqlite.lastEventId());
    } finally {
      await sqlite.close();
      await memory.close();
    }
  }, 600_000);

  it('releases every message at its final outcome: a run to launch ends holding none, with the same result as SQLite', async () => {
    // Three days of the test plan: the daemon stops at launch once its retries are done, so every message is final.
    const loaded = loadPlan(SIM_PLAN.replace('launch: 2026-12-15', 'launch: 2026-12-04'), { file: '/nonexistent/sim-test.yaml' });
    if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join('\n'));
    const plan = loaded.plan;
    const log = createLogger({ level: 'silent' });
    const sqlite = await openStore(join(dir, 'release.db'), { durability: 'throwaway' });
    // As `warmup simulate` opens it: no placement poller runs, so no accepted message waits for a placement.
    const released = memoryStore({ placementMailboxes: [] });
    const kept = memoryStore();
    try {
      const run = (store: typeof sqlite) => simulatePlan({ plan, models: defaultModels(plan), seed: 1, store, log });
      const onSqlite = await run(sqlite);
      const inMemory = await run(released);
      expect(inMemory.ended).toBe('plan complete');
      expect(inMemory).toEqual(onSqlite);
      expect(inMemory.totals.messages).toBeGreaterThan(1000);
      expect(await released.queueCounts(plan.name)).toEqual(new Map());
      expect(released.heldMessages()).toBe(0);
      // By default the store cannot know which mailboxes placements will be asked for: it keeps the accepted ones.
      expect(await run(kept)).toEqual(onSqlite);
      expect(kept.heldMessages()).toBe(onSqlite.totals.accepted);
    } finally {
      await sqlite.close();
      await released.close();
      await kept.close();
    }
  }, 600_000);
});
