/**
 * `warmup plan --fit` and `warmup simulate` agree on the example plans: a lane --fit calls ready
 * is ready in the simulation under the default model with the default seed, and the plan-level
 * verdicts are the same. The simulations are whole runs (20-60 s each on a busy 2-core machine).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlan, loadPlanFile } from '../../src/plan/load.js';
import { fitPlan } from '../../src/policy/fit.js';
import { defaultModels } from '../../src/simulate/model-file.js';
import { simulatePlan } from '../../src/simulate/run.js';
import { openStore } from '../../src/store/open.js';
import { createLogger } from '../../src/util/log.js';

const plansDir = fileURLToPath(new URL('../../plans/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'warmup-fit-agreement-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([
  ['small.yaml', true],
  ['japan.yaml', true],
  ['launch.yaml', false],
] as const)('plans/%s', (name, ready) => {
  it(`--fit says ${ready ? 'ready' : 'not ready'}, and the simulation agrees lane by lane`, async () => {
    const r = loadPlanFile(`${plansDir}${name}`, { env: {}, secrets: 'skip', scheduleWarnings: false });
    if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
    const fit = fitPlan(r.plan, defaultModels(r.plan));
    expect(fit.ready).toBe(ready);

    const store = await openStore(join(dir, `${name}.db`), { durability: 'throwaway' });
    try {
      const sim = await simulatePlan({ plan: r.plan, models: defaultModels(r.plan), seed: 1, store, log: createLogger({ level: 'silent' }) });
      const verdict = new Map(sim.forecast.lanes.map((l) => [`${l.ip} ${l.provider}`, l.verdict]));
      const fitReady = fit.lanes.filter((l) => l.ready).map((l) => `${l.ip} ${l.provider}`);
      // Every lane --fit calls ready is ready in the simulation.
      expect(fitReady.map((k) => [k, verdict.get(k)])).toEqual(fitReady.map((k) => [k, 'ready']));
      expect(sim.forecast.lanes.every((l) => l.verdict === 'ready')).toBe(ready);
    } finally {
      await store.close();
    }
  }, 600_000);
});

describe('plans/launch.yaml, the example that is not ready', () => {
  const text = readFileSync(`${plansDir}launch.yaml`, 'utf8');
  const fitOf = (t: string) => {
    const r = loadPlan(t, { file: `${plansDir}launch.yaml`, env: {}, secrets: 'skip', scheduleWarnings: false });
    if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
    return fitPlan(r.plan, defaultModels(r.plan));
  };

  it('is ready once it starts on the earliest start --fit gives (every IP moved by as many days)', () => {
    const fit = fitOf(text);
    expect(fit.earliestStart).toBe('2026-11-26');
    expect(fitOf(text.replace('\nstart: 2026-12-01', '\nstart: 2026-11-26').replace('    start: 2026-12-04', '    start: 2026-11-29')).ready).toBe(true);
  });

  it('is ready with the launch volumes --fit says every IP carries', () => {
    const fit = fitOf(text);
    const [range, late] = fit.advice.slice(1).map((a) => Number(/at most ([\d,]+)$/.exec(a)![1]!.replaceAll(',', '')));
    expect(fitOf(text.replace('launch_volume: 6000', `launch_volume: ${range}`).replace('    launch_volume: 1500', `    launch_volume: ${late}`)).ready).toBe(true);
  });
});
