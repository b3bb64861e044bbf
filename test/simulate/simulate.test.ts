import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/simulate/model-file.js';
import type { ProviderModel } from '../../src/simulate/profiles.js';
import { simulatePlan, type SimulationResult } from '../../src/simulate/run.js';
import { openStore } from '../../src/store/open.js';
import { createLogger } from '../../src/util/log.js';
import { simPlan } from './helpers.js';

const plan = simPlan();
const dir = mkdtempSync(join(tmpdir(), 'warmup-simulate-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function models(yaml: string): ReadonlyMap<string, ProviderModel> {
  const r = loadModel(yaml, plan);
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.line}:${e.column} ${e.message}`).join('\n'));
  return r.models;
}

async function simulate(m: ReadonlyMap<string, ProviderModel>, seed: number, days: number): Promise<SimulationResult> {
  const store = await openStore(join(dir, `sim-${++n}.db`), { durability: 'throwaway' });
  try {
    return await simulatePlan({ plan, models: m, seed, days, store, log: createLogger({ level: 'silent' }) });
  } finally {
    await store.close();
  }
}

// Noisy enough that two seeds cannot plausibly give the same three days.
const NOISY = models(`default:
  greylist: { share: 0.3, delay: 5m }
  random_deferral: 0.02
  hourly_limit: { start: 1000, max: 1000 }
  replies: { random: "451 4.3.0 Temporary local problem, try again" }
`);

describe('warmup simulate', () => {
  it('gives the same outcome for the same seed and a different one for another seed', async () => {
    const a = await simulate(NOISY, 11, 3);
    const b = await simulate(NOISY, 11, 3);
    const c = await simulate(NOISY, 12, 3);
    expect(a.days.length).toBe(3 * 6);
    expect(a.until).toBe('2026-12-03');
    expect(a.answers.greylist).toBeGreaterThan(0);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
    expect(c.answers).not.toEqual(a.answers);
  });

  it('holds or backs off a lane the provider pushes back while the other lanes advance', async () => {
    const r = await simulate(models(`default:
  random_deferral: 0
  greylist: { share: 0 }
  mailbox_per_hour: 10000
  hourly_limit: { start: 1000, max: 1000 }
providers:
  gmail:
    hourly_limit: { start: 1, max: 2 }
    cooldown: 2h
`), 1, 3);
    const decisions = (provider: string) => r.days.filter((d) => d.provider === provider).map((d) => d.decision);
    for (const d of decisions('gmail')) expect(['hold', 'back_off']).toContain(d);
    expect(decisions('yahoo')).toEqual(['advance', 'advance', 'advance', 'advance', 'advance', 'advance']);
    expect(decisions('outlook')).toEqual(['advance', 'advance', 'advance', 'advance', 'advance', 'advance']);
    // The pushed-back lanes never climbed: they still run at stage 1 while the others reached stage 4.
    for (const l of r.lanes) expect(l.stage).toBe(l.provider === 'gmail' ? 1 : 4);
    const gmailDay1 = r.days.find((d) => d.provider === 'gmail' && d.dayNumber === 1)!;
    expect(gmailDay1.deferred).toBeGreaterThan(0);
    expect(gmailDay1.accepted).toBeLessThan(gmailDay1.target);
    expect(r.answers.rate).toBeGreaterThan(0);
    // Launch readiness from the same data: gmail lanes are behind, the others on track.
    for (const l of r.forecast.lanes) expect(l.verdict).toBe(l.provider === 'gmail' ? 'behind' : 'ready');
    expect(r.events.some((e) => e.provider === 'gmail' && (e.kind === 'day_hold' || e.kind === 'day_back_off'))).toBe(true);
  });
});
