/**
 * Day-end decisions exactly once across restarts, on the real daemon against
 * the smtp-sink peer: a day whose window ended while no daemon ran is decided
 * at the next start, even when no later sending day would open.
 */
import { describe, expect, it } from 'vitest';
import { load, startDaemon, until, writePlan } from './harness.js';

describe('day-end decisions across restarts', () => {
  it('decides at start a day whose window ended while the daemon was down, after the last ramp day, exactly once', async () => {
    const { file } = writePlan({
      name: 'decide-late', ips: ['127.0.0.151'], ramp: '{ daily: [6] }', launch: '2026-12-02',
      providers: { sink: { domains: ['sink.test'], seeds: ['late-a@sink.test'] } },
    });
    const plan = load(file);
    // 10 min of plan time a real second: stop mid-window with a few sent.
    const first = await startDaemon(plan, { from: '2026-12-01T09:00:00Z', speed: 600 });
    await until('a message accepted', 20_000, async () => {
      const d = await first.store.db.selectFrom('lane_days').select('accepted').executeTakeFirst();
      return d && d.accepted >= 1 ? d : undefined;
    });
    await first.stop();
    // Back up at 23:00: the window (08:00-20:00) and the retry grace (2 h) are over; day 2 is launch day, when nothing sends.
    const second = await startDaemon(plan, { from: '2026-12-01T23:00:00Z', speed: 1 });
    const days = await second.store.db.selectFrom('lane_days').select(['day', 'decision', 'decided_at']).execute();
    const events = await second.store.db.selectFrom('events').select(['kind']).where('kind', 'like', 'day_%').execute();
    // Another pass (a tick) decides nothing twice.
    await second.daemon.tick();
    const again = await second.store.db.selectFrom('events').select(['kind']).where('kind', 'like', 'day_%').execute();
    await second.stop();
    expect(days).toHaveLength(1);
    expect(days[0]!.decision).not.toBeNull();
    expect(days[0]!.decided_at).toBeGreaterThanOrEqual(Date.parse('2026-12-01T23:00:00Z'));
    expect(events).toHaveLength(1);
    expect(again).toHaveLength(1);
  }, 60_000);
});
