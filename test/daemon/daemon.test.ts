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
