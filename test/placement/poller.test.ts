/**
 * The placement poller against the real Dovecot peer: mail from 127.0.0.39 is
 * delivered into Junk by the Postfix MX, mail from 127.0.0.141 into INBOX.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PlacementPoller } from '../../src/placement/poller.js';
import { decideDay } from '../../src/policy/day-end.js';
import { getLaneDay } from '../../src/store/queries.js';
import { manualClock } from '../../src/util/clock.js';
import { waitForMail } from '../peers/peers.js';
import { BAD_PASSWORD_ENV, DEAD_IMAP, INBOX_IP, JUNK_IP, memoryLogger, openWorld, placementPlan, sendWarmup, type World } from './helpers.js';

const HOUR = 3_600_000;
const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.close();
});

const hasId = (id: string) => (m: { raw: Buffer }) => m.raw.toString('latin1').includes(`<${id}>`);

describe('PlacementPoller.pollOnce', () => {
  it('finds messages in INBOX and in Junk, records placement and arrival time, and counts them on the lane-day', async () => {
    const clock = manualClock(Date.now());
    const { plan, env } = placementPlan({ name: 'pl-basic', seeds: [{ address: 'seed1@postfix.test' }] });
    const w = await openWorld(plan, clock);
    worlds.push(w);
    const inbox = await sendWarmup(w, clock, INBOX_IP, 'seed1@postfix.test');
    const spam = await sendWarmup(w, clock, JUNK_IP, 'seed1@postfix.test');
    await waitForMail('postfix.test', 'seed1', { match: hasId(inbox.messageId) });
    await waitForMail('postfix.test', 'seed1', { folder: 'Junk', match: hasId(spam.messageId) });
    const sentAt = clock.now();
    // The manual clock follows the wall clock here, so arrival delays are real seconds.
    clock.set(Date.now());
    const { log, text } = memoryLogger();
    const poller = new PlacementPoller({ plan, store: w.store.store, clock, log, env });

    const summary = await poller.pollOnce();

    expect(summary.mailboxes).toEqual([expect.objectContaining({ address: 'seed1@postfix.test', status: 'ok', pending: 2, error: null, failures: 0 })]);
    expect(summary.placed).toEqual({ inbox: 1, spam: 1, other: 0, missing: 0 });
    const rows = await w.store.db.selectFrom('placements').selectAll().orderBy('message_id').execute();
    expect(rows.map((r) => [r.message_id, r.placement, r.folder, r.mailbox])).toEqual([
      [inbox.id, 'inbox', 'INBOX', 'seed1@postfix.test'],
      [spam.id, 'spam', 'Junk', 'seed1@postfix.test'],
    ]);
    for (const r of rows) {
      expect(r.arrived_after_ms).not.toBeNull();
      // INTERNALDATE has whole seconds; the message arrived between sending and now.
      expect(r.arrived_after_ms!).toBeGreaterThanOrEqual(0);
      expect(r.arrived_after_ms!).toBeLessThanOrEqual(Date.now() - sentAt + 1000);
      expect(r.engage_at).toBeNull();
    }
    expect((await getLaneDay(w.store.db, w.lanes.get(INBOX_IP)!.id, w.day))).toMatchObject({ inbox: 1, spam: 0, missing: 0 });
    expect((await getLaneDay(w.store.db, w.lanes.get(JUNK_IP)!.id, w.day))).toMatchObject({ inbox: 0, spam: 1, missing: 0 });
    // The junk lane went from no placements to 100% spam: one event, with the figures.
    const events = await w.store.db.selectFrom('events').selectAll().where('kind', '=', 'placement_spam').execute();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ lane_id: w.lanes.get(JUNK_IP)!.id, ip: JUNK_IP, provider: 'pt', actor: 'placement' });
    expect(JSON.parse(events[0]!.cause)).toMatchObject({ day: w.day, inbox: 0, spam: 1, spamRate: 1, maxSpamRate: 0.2 });
    expect(summary.crossings).toHaveLength(1);
    expect(text()).not.toContain('seedpass');

    // The day-end policy reads these counters the way the daemon passes them (daemon.ts #decide):
    // the junk lane holds on its spam placement, the inbox lane advances.
    const decide = async (ip: string) => {
      const row = (await getLaneDay(w.store.db, w.lanes.get(ip)!.id, w.day))!;
      return decideDay({
        stage: row.stage, target: row.accepted, accepted: row.accepted, deferred: row.deferred, failed: row.failed,
        bounced: row.bounced, attempts: row.sent + row.retries, inbox: row.inbox, spam: row.spam,
      }, plan.providers[0]!.ramp, plan.providers[0]!.thresholds, 0);
    };
    expect(await decide(INBOX_IP)).toMatchObject({ decision: 'advance', rates: { spamRate: 0 } });
    expect(await decide(JUNK_IP)).toMatchObject({ decision: 'hold', reason: 'spam placement 100.0% above 20.0%', rates: { spamRate: 1 } });

    // A second poll looks for nothing: every message has its placement.
    const again = await poller.pollOnce();
    expect(again.mailboxes[0]).toMatchObject({ status: 'idle', pending: 0 });
    expect(await w.store.db.selectFrom('placements').select('id').execute()).toHaveLength(2);
  });

  it('marks a message missing only once imap.missing_after has passed since it was accepted', async () => {
    const clock = manualClock(Date.now());
    const { plan, env } = placementPlan({ name: 'pl-missing', seeds: [{ address: 'seed1@postfix.test' }] });
    const w = await openWorld(plan, clock);
    worlds.push(w);
    const lost = await sendWarmup(w, clock, INBOX_IP, 'seed1@postfix.test', { send: false });
    const poller = new PlacementPoller({ plan, store: w.store.store, clock, log: memoryLogger().log, env });

    clock.advance(2 * HOUR - 60_000);
    const early = await poller.pollOnce();
    expect(early.mailboxes[0]).toMatchObject({ status: 'ok', pending: 1 });
    expect(early.placed.missing).toBe(0);
    expect(await w.store.db.selectFrom('placements').select('id').execute()).toHaveLength(0);

    clock.advance(60_000);
    const late = await poller.pollOnce();
    expect(late.placed).toEqual({ inbox: 0, spam: 0, other: 0, missing: 1 });
    const row = await w.store.db.selectFrom('placements').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ message_id: lost.id, placement: 'missing', folder: null, arrived_after_ms: null });
    expect((await getLaneDay(w.store.db, w.lanes.get(INBOX_IP)!.id, w.day))).toMatchObject({ inbox: 0, spam: 0, missing: 1 });
  });

  it('records a wrong password and a server that is down, backs off exponentially, and still polls the other mailbox', async () => {
    const clock = manualClock(Date.now());
    const { plan, env } = placementPlan({
      name: 'pl-faults',
      seeds: [
        { address: 'seed1@postfix.test' },
        { address: 'seed2@postfix.test', passwordEnv: BAD_PASSWORD_ENV },
        { address: 'seed3@postfix.test', host: DEAD_IMAP },
      ],
    });
    const w = await openWorld(plan, clock);
    worlds.push(w);
    const good = await sendWarmup(w, clock, INBOX_IP, 'seed1@postfix.test');
    await sendWarmup(w, clock, INBOX_IP, 'seed2@postfix.test');
    await sendWarmup(w, clock, INBOX_IP, 'seed3@postfix.test');
    await waitForMail('postfix.test', 'seed1', { match: hasId(good.messageId) });
    const { log, lines, text } = memoryLogger();
    const poller = new PlacementPoller({ plan, store: w.store.store, clock, log, env });
    const t0 = clock.now();

    const first = await poller.pollOnce();
    const [s1, s2, s3] = first.mailboxes;
    expect(s1).toMatchObject({ address: 'seed1@postfix.test', status: 'ok', placed: { inbox: 1, spam: 0, other: 0, missing: 0 } });
    expect(s2).toMatchObject({ address: 'seed2@postfix.test', status: 'error', error: { code: 'IMAP_AUTH' }, failures: 1, retryAt: t0 + 5 * 60_000 });
    expect(s3).toMatchObject({ address: 'seed3@postfix.test', status: 'error', error: { code: 'IMAP_CONNECT' }, failures: 1, retryAt: t0 + 5 * 60_000 });
    const events = await w.store.db.selectFrom('events').selectAll().where('kind', '=', 'imap_error').orderBy('id').execute();
    expect(events.map((e) => [e.provider, JSON.parse(e.cause).mailbox, JSON.parse(e.cause).code])).toEqual(expect.arrayContaining([
      ['pt', 'seed2@postfix.test', 'IMAP_AUTH'],
      ['pt', 'seed3@postfix.test', 'IMAP_CONNECT'],
    ]));
    expect(events).toHaveLength(2);
    expect(lines().filter((l) => l.event === 'imap_error')).toHaveLength(2);

    // Within the backoff the failing mailboxes are left alone.
    clock.advance(60_000);
    const second = await poller.pollOnce();
    expect(second.mailboxes.map((m) => m.status)).toEqual(['idle', 'backoff', 'backoff']);

    // After it they are tried again, and the next wait doubles.
    clock.set(t0 + 5 * 60_000);
    const third = await poller.pollOnce();
    expect(third.mailboxes[1]).toMatchObject({ status: 'error', failures: 2, retryAt: t0 + 15 * 60_000 });
    expect(third.mailboxes[2]).toMatchObject({ status: 'error', failures: 2, retryAt: t0 + 15 * 60_000 });
    // One event per failure streak; every failure is logged.
    expect(await w.store.db.selectFrom('events').select('id').where('kind', '=', 'imap_error').execute()).toHaveLength(2);
    expect(lines().filter((l) => l.event === 'imap_error')).toHaveLength(4);
    // Nothing was decided about the unreachable mailboxes' messages.
    expect(await w.store.db.selectFrom('placements').select('mailbox').execute()).toEqual([{ mailbox: 'seed1@postfix.test' }]);
    expect(text()).not.toContain('not-the-password');
    expect(text()).not.toContain('seedpass');
  });
});
