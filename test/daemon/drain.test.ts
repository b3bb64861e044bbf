/**
 * SIGTERM's drain deadline on the real daemon: an MX that takes the message
 * and never answers holds the one connection; sends queued behind it must not
 * open a connection after the deadline, go back to the retry queue unsent,
 * and the stop completes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { load, startDaemon, until, writePlan } from './harness.js';
import { holdingMx, type HoldingMx } from './holding-mx.js';

let mx: HoldingMx | null = null;
afterAll(async () => { await mx?.close(); });

describe('SIGTERM after the drain period', () => {
  it('opens nothing new, returns unsent messages to the retry queue, and stops', async () => {
    mx = await holdingMx('127.0.0.164', 2527, new Promise(() => {}));
    const { file } = writePlan({
      name: 'drain', ips: ['127.0.0.165'], ramp: '{ daily: [200] }', launch: '2026-12-02',
      providers: { never: { domains: ['never.test'], seeds: ['d@never.test'] } },
      delivery: ['routes: { never: "127.0.0.164:2527" }', 'max_connections_per_mx: 1', 'catch_up_factor: 50'],
    });
    const run = await startDaemon(load(file), { from: '2026-12-01T12:00:00Z', speed: 600, drainMs: 500 });
    await until('sends to queue behind the one connection', 10_000, () => run.daemon.inFlight >= 4);
    const queued = run.daemon.inFlight;
    const t0 = Date.now();
    await run.daemon.stop('SIGTERM');
    const tookMs = Date.now() - t0;
    const opened = mx.connections();
    const statuses = await run.db.selectFrom('messages').select(['status', 'attempts']).execute();
    // Nothing opens after the deadline, even once the held connection's slot frees up.
    for (const s of mx.sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    await run.store.close();
    expect(tookMs).toBeLessThan(3000);
    expect(run.daemon.drained).toBe(false);
    expect(mx.connections()).toBe(opened);
    expect(opened).toBe(1);
    // One message was under way (in flight: the next start records it as interrupted); the rest went back unsent.
    expect(statuses.filter((m) => m.status === 'in_flight')).toHaveLength(1);
    expect(statuses.filter((m) => m.status === 'deferred' && m.attempts === 0)).toHaveLength(queued - 1);
  }, 30_000);
});
