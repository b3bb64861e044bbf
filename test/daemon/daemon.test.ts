import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { loadPlan } from '../../src/plan/load.js';
import { createModelMailer, createModelResolver } from '../../src/simulate/mailer.js';
import { defaultModels } from '../../src/simulate/model-file.js';
import { ModelledReceivers } from '../../src/simulate/receivers.js';
import type { Mailer } from '../../src/send/mailer.js';
import { memoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/store.js';
import { manualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { fixtureDir, validText } from '../plan/helpers.js';

describe('the daemon\'s hour counters', () => {
  it('count the sends of an hour\'s first tick in that hour, not in the hour before', async () => {
    const loaded = loadPlan(validText, { file: `${fixtureDir}plan.yaml` });
    if (!loaded.ok) throw new Error('fixture must load');
    const plan = loaded.plan;
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ level: 'info', destination: new Writable({ write(chunk, _e, done) { lines.push(JSON.parse(String(chunk))); done(); } }) });
    const clock = manualClock(Date.UTC(2026, 11, 1, 8)); // 09:00 in Paris: the window opens
    const daemon = new Daemon({
      plan, store: memoryStore(), log, clock, resolver: createModelResolver(plan), writeGroupMs: 0,
      mailer: createModelMailer({ plan, receivers: new ModelledReceivers(defaultModels(plan), 1), clock }),
    });
    await daemon.start({ ticker: false, firstTick: true });
    await daemon.settle();
    const lane = async () => (await daemon.routableLanes('gmail', clock.now(), '2026-12-01')).find((l) => l.ip === '127.0.0.2')!;
    const before = await lane();
    // Four hours later the lane is behind: its first tick of the 12:00 UTC hour sends.
    clock.set(Date.UTC(2026, 11, 1, 12));
    await daemon.tick();
    await daemon.settle();
    const after = await lane();
    const sentThisHour = after.carried - before.carried;
    expect(sentThisHour).toBeGreaterThan(0);
    expect(after.hourCarried).toBe(sentThisHour);
    // The 08:00 hour's line counts only that hour's sends.
    const closed = lines.find((l) => l.msg === 'hourly' && l.ip === '127.0.0.2' && l.provider === 'gmail');
    expect(closed ? closed.sent : 0).toBe(before.carried);
    await daemon.stop('SIGTERM');
  });
});

describe('routing real mail in a fleet', () => {
  it('offers only the lanes of held IPs, and an IP taken back is routed with the day every host carried meanwhile', async () => {
    const loaded = loadPlan(validText, { file: `${fixtureDir}plan.yaml` });
    if (!loaded.ok) throw new Error('fixture must load');
    const plan = loaded.plan;
    const mine = plan.ips[0]!.address;
    const held = new Set([mine]);
    const store = memoryStore();
    const clock = manualClock(Date.UTC(2026, 11, 1, 8)); // 09:00 in Paris: the window opens
    const daemon = new Daemon({
      plan, store, log: createLogger({ level: 'silent' }), clock, resolver: createModelResolver(plan), writeGroupMs: 0, fleet: { held, leased: held, host: 'a' },
      mailer: createModelMailer({ plan, receivers: new ModelledReceivers(defaultModels(plan), 1), clock }),
    });
    await daemon.start({ ticker: false, firstTick: true });
    await daemon.settle();
    const routable = () => daemon.routableLanes('gmail', clock.now(), '2026-12-01');
    // The plan's other IPs are held elsewhere: not routable here.
    expect(plan.ips.length).toBeGreaterThan(1);
    expect((await routable()).map((l) => l.ip)).toEqual([mine]);
    // The lease is lost: nothing is routable here. Another host carries mail on the lane meanwhile.
    held.delete(mine);
    expect(await routable()).toEqual([]);
    const laneId = daemon.laneIdOf(mine, 'gmail')!;
    await store.recordRoutedDeliveries(plan.name, 'b', [1, 2, 3].map((i) => ({
      laneId, day: '2026-12-01', queueId: `QB${i}`, recipient: `r${i}@gmail.com`, at: clock.now(), mxHost: null, mxAddress: null, outcome: 'accepted' as const,
      code: 250, enhanced: '2.0.0', reply: '250 ok', stage: 'dot', status: 'sent' as const, mailboxSignal: false,
    })), { path: '/var/log/b/maillog', inode: '1', offset: 300 });
    // Taken back: its day is read again, with the other host's mail in it.
    held.add(mine);
    await daemon.adopt([mine]);
    await daemon.tick();
    await daemon.settle();
    const [lane] = await routable();
    const day = (await store.getLaneDay(laneId, '2026-12-01'))!;
    expect(day.routed).toBe(3);
    expect(lane).toMatchObject({ ip: mine, carried: day.sent });
    await daemon.stop('SIGTERM');
  });
});

describe('a fleet daemon whose message write outlasts its lease', () => {
  it('sends none of the messages for an IP it no longer sends from once the write returns, and returns them to the retry queue', async () => {
    const loaded = loadPlan(validText, { file: `${fixtureDir}plan.yaml` });
    if (!loaded.ok) throw new Error('fixture must load');
    const plan = loaded.plan;
    const mine = plan.ips[0]!.address;
    const held = new Set([mine]);
    const real = memoryStore();
    // The write of a tick's messages waits (a network partition from the database) until released.
    let release: () => void = () => {};
    let writing: () => void = () => {};
    const written = new Promise<void>((r) => { writing = r; });
    let gate: Promise<void> | null = null;
    const store = new Proxy(real, {
      get(target, name, receiver) {
        if (name === 'createMessages' && gate) {
          const wait = gate;
          return async (...args: Parameters<Store['createMessages']>) => { writing(); await wait; return target.createMessages(...args); };
        }
        return Reflect.get(target, name, receiver) as unknown;
      },
    }) as Store;
    const clock = manualClock(Date.UTC(2026, 11, 1, 8)); // 09:00 in Paris: the window opens
    const model = createModelMailer({ plan, receivers: new ModelledReceivers(defaultModels(plan), 1), clock });
    const sentFrom: string[] = [];
    const mailer: Mailer = { send: (r) => { sentFrom.push(r.localAddress ?? ''); return model.send(r); }, close: () => model.close() };
    const daemon = new Daemon({
      plan, store, log: createLogger({ level: 'silent' }), clock, resolver: createModelResolver(plan), writeGroupMs: 0, fleet: { held, leased: held, host: 'a' }, mailer,
    });
    await daemon.start({ ticker: false, firstTick: true });
    await daemon.settle();
    const before = sentFrom.length;
    // Four hours later the lane has sends due; the tick chooses them, and their write hangs.
    gate = new Promise<void>((r) => { release = r; });
    clock.set(Date.UTC(2026, 11, 1, 12));
    const tick = daemon.tick();
    await written;
    // Meanwhile the lease renewals went overdue (or another daemon took the IP over): held is empty.
    held.delete(mine);
    gate = null;
    release();
    await tick;
    await daemon.settle();
    expect(sentFrom.length).toBe(before);
    const laneIds = plan.providers.map((p) => daemon.laneIdOf(mine, p.name)).filter((id): id is number => id !== null);
    expect(await real.pendingRetries(plan.name, laneIds)).toBeGreaterThan(0);
    // Held again (a renewal succeeded): the returned messages are sent, from this daemon's IP only.
    held.add(mine);
    await daemon.tick();
    await daemon.settle();
    expect(sentFrom.length).toBeGreaterThan(before);
    expect(new Set(sentFrom)).toEqual(new Set([mine]));
    expect(await real.pendingRetries(plan.name, laneIds)).toBe(0);
    await daemon.stop('SIGTERM');
  });
});
