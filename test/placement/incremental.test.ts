/**
 * What a placement poll reads, against the real Dovecot peer and the Postfix MX: the accepted
 * messages still to place, never those already placed or given up.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PlacementPoller } from '../../src/placement/poller.js';
import { getLaneDay } from '../../src/store/queries.js';
import { manualClock } from '../../src/util/clock.js';
import { maildirPath, waitForMail } from '../peers/peers.js';
import { INBOX_IP, JUNK_IP, memoryLogger, openWorld, pendingReads, placementPlan, sendWarmup, type World } from './helpers.js';

const HOUR = 3_600_000;
const DAY_MS = 24 * HOUR;
const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.close();
});

const hasId = (id: string) => (m: { raw: Buffer }) => m.raw.toString('latin1').includes(`<${id}>`);

/** A plan whose one seed is `seed`, its store, and a poller on a manual clock set to now. */
async function setUp(name: string, seed: string) {
  const clock = manualClock(Date.now());
  const { plan, env } = placementPlan({ name, seeds: [{ address: seed }] });
  const w = await openWorld(plan, clock);
  worlds.push(w);
  return { clock, w, poller: () => new PlacementPoller({ plan, store: w.store.store, clock, log: memoryLogger().log, env }) };
}

describe('what a placement poll reads', () => {
  it('once every placement is known, a poll reads no accepted message again; a new one is the only one read', async () => {
    const seed = 'seed2@postfix.test';
    const { clock, w, poller: newPoller } = await setUp('pl-incr', seed);
    const inbox = await sendWarmup(w, clock, INBOX_IP, seed);
    const spam = await sendWarmup(w, clock, JUNK_IP, seed);
    await waitForMail('postfix.test', 'seed2', { match: hasId(inbox.messageId) });
    await waitForMail('postfix.test', 'seed2', { folder: 'Junk', match: hasId(spam.messageId) });
    clock.set(Date.now());
    const poller = newPoller();

    expect(await pendingReads(w, [seed])).toBe(2);
    const first = await poller.pollOnce();
    expect(first.mailboxes[0]).toMatchObject({ status: 'ok', pending: 2 });
    expect(first.placed).toEqual({ inbox: 1, spam: 1, other: 0, missing: 0 });

    // Both are placed: the store's query walks none of them, and no mailbox is opened.
    expect(await pendingReads(w, [seed])).toBe(0);
    clock.advance(5 * 60_000);
    const second = await poller.pollOnce();
    expect(second.mailboxes[0]).toMatchObject({ status: 'idle', pending: 0 });

    // A new message: that one is read and placed, the two before are not read again.
    const next = await sendWarmup(w, clock, INBOX_IP, seed);
    await waitForMail('postfix.test', 'seed2', { match: hasId(next.messageId) });
    expect(await pendingReads(w, [seed])).toBe(1);
    const third = await poller.pollOnce();
    expect(third.mailboxes[0]).toMatchObject({ status: 'ok', pending: 1, placed: { inbox: 1, spam: 0, other: 0, missing: 0 } });
    expect(await pendingReads(w, [seed])).toBe(0);
    const rows = await w.store.db.selectFrom('placements').select(['message_id', 'placement']).orderBy('message_id').execute();
    expect(rows).toEqual([{ message_id: inbox.id, placement: 'inbox' }, { message_id: spam.id, placement: 'spam' }, { message_id: next.id, placement: 'inbox' }]);
  });

  it('a message arriving late is still found within imap.missing_after; one past it is given up once and never read again', async () => {
    const seed = 'seed3@postfix.test';
    const { clock, w, poller: newPoller } = await setUp('pl-horizon', seed);
    const late = await sendWarmup(w, clock, INBOX_IP, seed, { send: false });
    const lost = await sendWarmup(w, clock, JUNK_IP, seed, { send: false });
    const poller = newPoller();

    // Accepted, not in the mailbox yet: looked for, nothing decided.
    const first = await poller.pollOnce();
    expect(first.mailboxes[0]).toMatchObject({ status: 'ok', pending: 2 });
    expect(first.placed).toEqual({ inbox: 0, spam: 0, other: 0, missing: 0 });

    // One arrives an hour late, inside the 2h horizon: found.
    await late.deliver();
    await waitForMail('postfix.test', 'seed3', { match: hasId(late.messageId) });
    clock.advance(HOUR);
    const second = await poller.pollOnce();
    expect(second.mailboxes[0]).toMatchObject({ status: 'ok', pending: 2 });
    expect(second.placed).toEqual({ inbox: 1, spam: 0, other: 0, missing: 0 });

    // The other is still absent past the horizon: given up (missing), once.
    clock.advance(HOUR);
    const third = await poller.pollOnce();
    expect(third.mailboxes[0]).toMatchObject({ status: 'ok', pending: 1 });
    expect(third.placed).toEqual({ inbox: 0, spam: 0, other: 0, missing: 1 });
    expect(await pendingReads(w, [seed])).toBe(0);

    // When it turns up after all, nothing reads it: the placement stays as decided.
    await lost.deliver();
    await waitForMail('postfix.test', 'seed3', { folder: 'Junk', match: hasId(lost.messageId) });
    clock.advance(5 * 60_000);
    const fourth = await poller.pollOnce();
    expect(fourth.mailboxes[0]).toMatchObject({ status: 'idle', pending: 0 });
    const rows = await w.store.db.selectFrom('placements').select(['message_id', 'placement', 'folder']).orderBy('message_id').execute();
    expect(rows).toEqual([{ message_id: late.id, placement: 'inbox', folder: 'INBOX' }, { message_id: lost.id, placement: 'missing', folder: null }]);
    expect(await getLaneDay(w.store.db, w.lanes.get(JUNK_IP)!.id, w.day)).toMatchObject({ spam: 0, missing: 1 });
  });

  it('the mailbox search skips what arrived before the oldest pending message was created', async () => {
    const seed = 'seed3@postfix.test';
    const { clock, w, poller: newPoller } = await setUp('pl-since', seed);
    const recent = await sendWarmup(w, clock, INBOX_IP, seed);
    await waitForMail('postfix.test', 'seed3', { match: hasId(recent.messageId) });
    // A copy of a pending message dated three days before it was created: older history the
    // server is not asked to match (a delivered message cannot predate its own creation).
    const old = await sendWarmup(w, clock, INBOX_IP, seed, { send: false });
    const file = join(maildirPath('postfix.test', 'seed3'), 'new', `${Math.floor(Date.now() / 1000)}.M1P${process.pid}.since-test`);
    writeFileSync(file, `Message-ID: <${old.messageId}>\r\nFrom: hello@news.warmup.test\r\nTo: ${seed}\r\nSubject: old\r\n\r\nold\r\n`, { mode: 0o644 });
    const then = (Date.now() - 3 * DAY_MS) / 1000;
    utimesSync(file, then, then);

    const summary = await newPoller().pollOnce();
    expect(summary.mailboxes[0]).toMatchObject({ status: 'ok', pending: 2 });
    expect(summary.placed).toEqual({ inbox: 1, spam: 0, other: 0, missing: 0 });
    const rows = await w.store.db.selectFrom('placements').select(['message_id', 'placement']).execute();
    expect(rows).toEqual([{ message_id: recent.id, placement: 'inbox' }]);
  });
});
