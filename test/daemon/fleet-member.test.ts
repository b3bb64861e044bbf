/**
 * A fleet member whose lease renewals fail or hang stops sending from its IPs before the fleet may
 * take them over (1.25 heartbeats after its last renewal, against 1.5 for a takeover), and sends
 * from them again once a renewal succeeds; an IP taken over meanwhile is not sent from again. The
 * store is the real memory store (the conformance suite holds it to SQLite's and PostgreSQL's
 * semantics), with its renewal made to fail or hang on demand; times are passed in.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FleetMember, OVERDUE_HEARTBEATS, STALE_HEARTBEATS } from '../../src/daemon/fleet.js';
import { loadPlan } from '../../src/plan/load.js';
import { memoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/store.js';
import { manualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { fixtureDir, validText } from '../plan/helpers.js';

const HEARTBEAT = 1000;

function setup() {
  const loaded = loadPlan(validText, { file: `${fixtureDir}plan.yaml` });
  if (!loaded.ok) throw new Error('fixture must load');
  const plan = loaded.plan;
  const ip = plan.ips[0]!.address;
  const real = memoryStore();
  let renewal: 'works' | 'fails' | 'hangs' = 'works';
  const store = new Proxy(real, {
    get(target, name, receiver) {
      if (name === 'renewIpLeases' && renewal !== 'works') {
        return () => (renewal === 'fails' ? Promise.reject(new Error('connection terminated unexpectedly')) : new Promise(() => {}));
      }
      return Reflect.get(target, name, receiver) as unknown;
    },
  }) as Store;
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: 'info', destination: new Writable({ write(chunk, _e, done) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); done(); } }) });
  let now = 1_000_000;
  const member = (host: string, pid: number) => new FleetMember({
    store, plan, host, pid, token: `t-${host}`, wanted: [ip], heartbeatMs: HEARTBEAT, alive: () => true,
    clock: manualClock(0), log, realNow: () => now,
  });
  return {
    ip, real, lines, member, plan: plan.name,
    at: (t: number) => { now = 1_000_000 + t; },
    renew: (how: typeof renewal) => { renewal = how; },
  };
}

describe('a fleet member whose lease renewals fail', () => {
  it('stops sending from its IPs before they may be taken over, and sends again once a renewal succeeds', async () => {
    const f = setup();
    const a = f.member('a', 1);
    expect((await a.join()).taken.map((t) => t.ip)).toEqual([f.ip]);
    expect([...a.held]).toEqual([f.ip]);
    f.renew('fails');
    f.at(HEARTBEAT);
    await a.beat();
    // One heartbeat late: still within the margin, still sending.
    expect([...a.held]).toEqual([f.ip]);
    expect(f.lines.at(-1)).toMatchObject({ level: 50, msg: 'IP lease renewal failed: retrying' });
    f.at(HEARTBEAT * OVERDUE_HEARTBEATS + 1);
    // Overdue: no IP to send from, whether or not a beat ran; the lease is still its own.
    expect([...a.held]).toEqual([]);
    expect([...a.leased]).toEqual([f.ip]);
    await a.beat();
    expect(f.lines.at(-1)).toMatchObject({ level: 50, msg: 'IP lease renewal failed: not sending from these IPs until it succeeds (the fleet may take them over)', ips: [f.ip] });
    // Not yet stale for the others: the lease is a's, and nobody else may take it.
    expect(HEARTBEAT * OVERDUE_HEARTBEATS + 1).toBeLessThan(HEARTBEAT * STALE_HEARTBEATS);
    expect((await f.real.ipLeases(f.plan)).map((l) => [l.ip, l.host])).toEqual([[f.ip, 'a']]);
    // The database answers again: sending again.
    f.renew('works');
    await a.beat();
    expect([...a.held]).toEqual([f.ip]);
    expect(f.lines.at(-1)).toMatchObject({ msg: 'IP leases renewed again: sending from these IPs again' });
  });

  it('a renewal that hangs stops the sending too, and an IP taken over meanwhile is not sent from again', async () => {
    const f = setup();
    const a = f.member('a', 1);
    const b = f.member('b', 2);
    await a.join();
    f.renew('hangs');
    f.at(HEARTBEAT);
    void a.beat(); // never returns
    f.at(HEARTBEAT * OVERDUE_HEARTBEATS + 1);
    expect([...a.held]).toEqual([]);
    // Stale for the fleet: b takes the IP over. a, still hanging, sends from nothing.
    f.renew('works');
    f.at(HEARTBEAT * STALE_HEARTBEATS + 1);
    expect((await b.join()).taken.map((t) => [t.ip, t.from?.host])).toEqual([[f.ip, 'a']]);
    expect([...b.held]).toEqual([f.ip]);
    expect([...a.held]).toEqual([]);
  });

  it('an IP taken over while its renewals failed is given up when they work again', async () => {
    const f = setup();
    let lostAll = 0;
    const a = f.member('a', 1);
    const b = f.member('b', 2);
    await a.join();
    // Its hooks, without its timer (beats are driven by hand below): start, then leave and join again.
    a.start({ onGain: async () => {}, onLoseAll: () => { lostAll++; } });
    await a.leave();
    await a.join();
    f.renew('fails');
    f.at(HEARTBEAT * STALE_HEARTBEATS + 1);
    await a.beat();
    expect([...a.held]).toEqual([]);
    f.renew('works');
    expect((await b.join()).taken.map((t) => t.ip)).toEqual([f.ip]);
    await a.beat();
    expect([...a.held]).toEqual([]);
    expect([...a.leased]).toEqual([]);
    expect(f.lines.some((l) => l.msg === 'another daemon took over IPs of this one (its heartbeat was late): no longer sending from them')).toBe(true);
    expect(lostAll).toBe(1);
  });
});
