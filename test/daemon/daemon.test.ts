import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { loadPlan } from '../../src/plan/load.js';
import { createModelMailer, createModelResolver } from '../../src/simulate/mailer.js';
import { defaultModels } from '../../src/simulate/model-file.js';
import { ModelledReceivers } from '../../src/simulate/receivers.js';
import { memoryStore } from '../../src/store/memory/index.js';
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
