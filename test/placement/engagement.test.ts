/**
 * Engagement against the real Dovecot peer: a message the Postfix MX filed in
 * Junk is moved to INBOX, read and flagged when the provider engages, and left
 * exactly as it was when it does not.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/placement/engage.js';
import { PlacementPoller } from '../../src/placement/poller.js';
import { manualClock } from '../../src/util/clock.js';
import { readMaildir, waitForMail } from '../peers/peers.js';
import { JUNK_IP, memoryLogger, openWorld, placementPlan, sendWarmup, type World } from './helpers.js';

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.close();
});

const hasId = (id: string) => (m: { raw: Buffer }) => m.raw.toString('latin1').includes(`<${id}>`);
/** Maildir info flags of a message file (`...:2,FS` -> "FS"). */
const flagsOf = (file: string) => /:2,([A-Za-z]*)$/.exec(file)?.[1] ?? '';

describe('engagement', () => {
  it('moves a message from Junk to INBOX, marks it read and flags it, when the provider engages', async () => {
    const clock = manualClock(Date.now());
    const { plan, env } = placementPlan({
      name: 'pl-engage',
      seeds: [{ address: 'seed2@postfix.test' }],
      providerExtra: '    engagement: { mark_read: true, move_to_inbox: true, flag: true, share: 1, delay: { min: 10m, max: 10m }, pace: 1s }',
    });
    const w = await openWorld(plan, clock);
    worlds.push(w);
    const m = await sendWarmup(w, clock, JUNK_IP, 'seed2@postfix.test');
    await waitForMail('postfix.test', 'seed2', { folder: 'Junk', match: hasId(m.messageId) });
    const poller = new PlacementPoller({ plan, store: w.store.store, clock, log: memoryLogger().log, env, random: seededRandom(7) });

    const placed = await poller.pollOnce();
    expect(placed.mailboxes[0]).toMatchObject({ status: 'ok', placed: { spam: 1 }, engaged: 0 });
    const row = await w.store.db.selectFrom('placements').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ placement: 'spam', folder: 'Junk', engage_at: row.checked_at + 600_000, engaged_at: null });
    // Not due yet: still in Junk, untouched.
    expect((await readMaildir('postfix.test', 'seed2', 'Junk')).filter(hasId(m.messageId))).toHaveLength(1);

    clock.advance(600_000);
    const engaged = await poller.pollOnce();
    expect(engaged.mailboxes[0]).toMatchObject({ status: 'ok', pending: 0, engaged: 1 });
    const [inInbox] = await waitForMail('postfix.test', 'seed2', { match: hasId(m.messageId) });
    expect(flagsOf(inInbox!.file)).toContain('S');
    expect(flagsOf(inInbox!.file)).toContain('F');
    expect((await readMaildir('postfix.test', 'seed2', 'Junk')).filter(hasId(m.messageId))).toHaveLength(0);
    const after = await w.store.db.selectFrom('placements').selectAll().executeTakeFirstOrThrow();
    // Where it landed stays recorded as spam; what we did is recorded beside it.
    expect(after).toMatchObject({ placement: 'spam', engaged: 'read,flag,move', engaged_at: clock.now() });

    const idle = await poller.pollOnce();
    expect(idle.mailboxes[0]).toMatchObject({ status: 'idle', engaged: 0 });
  });

  it('leaves messages alone when engagement is off (the default)', async () => {
    const clock = manualClock(Date.now());
    const { plan, env } = placementPlan({ name: 'pl-quiet', seeds: [{ address: 'seed3@postfix.test' }] });
    expect(plan.providers[0]!.engagement).toBeNull();
    const w = await openWorld(plan, clock);
    worlds.push(w);
    const m = await sendWarmup(w, clock, JUNK_IP, 'seed3@postfix.test');
    const [before] = await waitForMail('postfix.test', 'seed3', { folder: 'Junk', match: hasId(m.messageId) });
    const poller = new PlacementPoller({ plan, store: w.store.store, clock, log: memoryLogger().log, env, random: () => 0 });

    expect((await poller.pollOnce()).mailboxes[0]).toMatchObject({ status: 'ok', placed: { spam: 1 }, engaged: 0 });
    clock.advance(86_400_000);
    await poller.pollOnce();

    const [still] = (await readMaildir('postfix.test', 'seed3', 'Junk')).filter(hasId(m.messageId));
    expect(still).toBeDefined();
    expect(flagsOf(still!.file)).not.toMatch(/[SF]/);
    expect(still!.raw.equals(before!.raw)).toBe(true);
    expect((await readMaildir('postfix.test', 'seed3')).filter(hasId(m.messageId))).toHaveLength(0);
    expect(await w.store.db.selectFrom('placements').select(['engage_at', 'engaged']).execute()).toEqual([{ engage_at: null, engaged: null }]);
  });
});
