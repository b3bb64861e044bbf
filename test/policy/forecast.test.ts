import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPlanFile } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { launchReadiness, readinessDay, type LaneHistoryDay } from '../../src/policy/forecast.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const r = loadPlanFile(`${root}plans/small.yaml`, { cwd: '/tmp', env: {}, secrets: 'skip' });
if (!r.ok) throw new Error('plans/small.yaml does not load');
const plan: Plan = r.plan; // Europe/Paris, 2026-12-01 -> launch 2026-12-15
const paris = (local: string) => Date.parse(`${local}+01:00`);
const history = (days: number, decision = 'advance'): LaneHistoryDay[] =>
  Array.from({ length: days }, (_, i) => ({ ip: '127.0.0.2', provider: 'gmail', day: `2026-12-${String(i + 1).padStart(2, '0')}`, decision }));

describe('readinessDay: the one day every view forecasts from', () => {
  it.each([
    ['during day 5, days 1-4 decided', paris('2026-12-05T10:00:00'), history(4), '2026-12-05'],
    ['day 5 decided at 21:00, same evening', paris('2026-12-05T22:00:00'), history(5), '2026-12-06'],
    ['day 5 decided, just after midnight', paris('2026-12-06T00:00:00'), history(5), '2026-12-06'],
    ['before the start', paris('2026-11-20T12:00:00'), [], '2026-12-01'],
    ['long after launch', paris('2027-01-20T12:00:00'), history(14), '2026-12-15'],
  ])('%s', (_what, now, h, day) => {
    expect(readinessDay(plan, h, now)).toBe(day);
  });

  it('gives the same ready-on date the evening a day is decided and the next morning (status vs simulate/report)', () => {
    const lanes = [{ ip: '127.0.0.2', provider: 'gmail', stage: 6, state: 'active' as const }];
    const h = [...history(4), ...history(8, 'hold').slice(4)];
    const evening = launchReadiness(plan, lanes, h, paris('2026-12-08T21:30:00'));
    const morning = launchReadiness(plan, lanes, h, paris('2026-12-09T08:00:00'));
    expect(evening.lanes[0]!.readyOn).not.toBeNull();
    expect(evening.lanes[0]!.readyOn).toBe(morning.lanes[0]!.readyOn);
    expect(evening.asOf).toBe('2026-12-09');
  });
});

describe('the default store path', () => {
  it("follows the plan's folder, not the current directory", () => {
    expect(plan.storePath).toBe(`${root}plans/data/warmup.db`);
  });
});
