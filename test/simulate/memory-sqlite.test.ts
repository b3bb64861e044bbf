import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlanFile } from '../../src/plan/load.js';
import { defaultModels } from '../../src/simulate/model-file.js';
import { simulatePlan } from '../../src/simulate/run.js';
import { memoryStore } from '../../src/store/memory/index.js';
import { openStore } from '../../src/store/open.js';
import { createLogger } from '../../src/util/log.js';

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
});
