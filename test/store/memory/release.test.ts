/**
 * The memory store releases a message once no operation can read it: every
 * step is also run on SQLite, whose answers the memory store must give too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryStore, type MemoryStore } from '../../../src/store/memory/index.js';
import { openStore } from '../../../src/store/open.js';
import { routedKey, type RoutedDelivery } from '../../../src/store/routed.js';
import type { Store } from '../../../src/store/store.js';
import { attempt, DAY, deferral, fourLanes, messages, openDay, PLAN } from '../conformance/fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'warmup-memory-release-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sqlite = () => openStore(join(dir, `store-${++n}.db`), { durability: 'throwaway' });

/** Runs `steps` on a memory store and on SQLite; returns both answers and the memory store. */
async function onBoth<T>(memory: MemoryStore, steps: (s: Store, held: () => number | null) => Promise<T>): Promise<{ memory: T; sqlite: T }> {
  const sql = await sqlite();
  try {
    return { memory: await steps(memory, () => memory.heldMessages()), sqlite: await steps(sql, () => null) };
  } finally {
    await sql.close();
    await memory.close();
  }
}

/** The error code a call is refused with ('ok' when it is not). */
const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? 'no code');
/** Whether a call is refused (each engine has its own error codes). */
const refused = (p: Promise<unknown>) => p.then(() => false, () => true);

describe('memory store: releasing messages', () => {
  it('releases a message at its final outcome, keeps an accepted one until its placement is written, and counts as SQLite does', async () => {
    const memory = memoryStore();
    const r = await onBoth(memory, async (s, held) => {
      await fourLanes(s);
      await openDay(s, 1);
      const [a, b, c] = await messages(s, 1, 4);
      const heldAtStart = held();
      await s.recordAttempt(attempt(a!.id, 1), { status: 'accepted', at: 20 });
      await s.recordAttempt(attempt(b!.id, 1, { outcome: 'bounced', code: 550, enhanced: '5.1.1', reply: '550 5.1.1 unknown user' }), { status: 'bounced', at: 20 });
      await s.recordAttempt(deferral(c!.id, 1), { status: 'deferred', nextAttemptAt: 100 });
      const heldAfterOutcomes = held();
      const expired = await s.claimDueRetries(100, [{ laneId: 1, limit: 5 }], 50);
      const heldAfterExpiry = held();
      const pending = await s.pendingPlacements(PLAN, ['r1@1.test', 'r2@1.test']);
      const placement = { messageId: a!.id, laneId: 1, day: DAY, mailbox: 'r1@1.test', folder: 'INBOX', placement: 'inbox' as const, arrivedAfterMs: 900, checkedAt: 5000, engageAt: 6000 };
      const placed = await s.recordPlacements(PLAN, [placement], () => 0.1);
      const heldAfterPlacement = held();
      // Written twice (a poller's retry): skipped, although the message is released by now.
      const again = await s.recordPlacements(PLAN, [placement], () => 0.1);
      return {
        heldAtStart, heldAfterOutcomes, heldAfterExpiry, heldAfterPlacement, expired, pending, placed, again,
        engage: await s.dueEngagements(['r1@1.test'], 6000, 5),
        pendingAfter: await s.pendingPlacements(PLAN, ['r1@1.test', 'r2@1.test']),
        day: await s.getLaneDay(1, DAY),
        queues: await s.queueCounts(PLAN),
        outcomes: await s.attemptOutcomeCounts(PLAN),
        replies: await s.replyCounts([1], DAY),
        unsettled: await s.unsettledMessages(1, DAY),
        // The unique constraint still holds the Message-ID of a released message.
        duplicate: await refused(s.createMessages([{ laneId: 1, day: DAY, recipient: 'x@1.test', messageId: `m1-2-${DAY}@x.test` }], 30)),
        unknown: await refused(s.recordAttempt(attempt(99, 1), { status: 'accepted', at: 30 })),
      };
    });
    const { heldAtStart, heldAfterOutcomes, heldAfterExpiry, heldAfterPlacement, ...answers } = r.memory;
    const { heldAtStart: _a, heldAfterOutcomes: _b, heldAfterExpiry: _c, heldAfterPlacement: _d, ...sqlAnswers } = r.sqlite;
    expect(answers).toEqual(sqlAnswers);
    expect(answers.day).toMatchObject({ sent: 4, accepted: 1, bounced: 1, deferred: 1, expired: 1, inbox: 1 });
    expect([answers.duplicate, answers.unknown]).toEqual([true, true]);
    expect(answers.engage).toEqual([{ id: 1, mailbox: 'r1@1.test', folder: 'INBOX', placement: 'inbox', message_id: `m1-1-${DAY}@x.test` }]);
    // 4 in flight; the bounce released; the expiry released; the placement released the accepted one: 1 left in flight.
    expect([heldAtStart, heldAfterOutcomes, heldAfterExpiry, heldAfterPlacement]).toEqual([4, 3, 2, 1]);
  });

  it('refuses an attempt or a placement for a released message, where SQL would take it (the daemon writes neither)', async () => {
    const s = memoryStore();
    try {
      await fourLanes(s);
      await openDay(s, 1);
      const [a] = await messages(s, 1, 1);
      await s.recordAttempt(attempt(a!.id, 1, { outcome: 'bounced', code: 550, enhanced: '5.1.1', reply: '550 no' }), { status: 'bounced', at: 20 });
      expect(s.heldMessages()).toBe(0);
      expect(await code(s.recordAttempt(attempt(a!.id, 1), { status: 'accepted', at: 30 }))).toBe('STORE_RELEASED');
      const placement = { messageId: a!.id, laneId: 1, day: DAY, mailbox: 'r1@1.test', folder: null, placement: 'missing' as const, arrivedAfterMs: null, checkedAt: 50, engageAt: null };
      expect(await code(s.recordPlacements(PLAN, [placement], () => 0.1))).toBe('STORE_RELEASED');
      expect(await code(s.recordPlacements(PLAN, [{ ...placement, messageId: 2 }], () => 0.1))).toBe('STORE_CONSTRAINT');
      expect(await s.getLaneDay(1, DAY)).toMatchObject({ accepted: 0, bounced: 1, missing: 0 });
    } finally {
      await s.close();
    }
  });

  it('with placement mailboxes given, releases accepted messages to other recipients at once and refuses to look for their placements', async () => {
    const s = memoryStore({ placementMailboxes: ['r1@1.test'] });
    try {
      await fourLanes(s);
      await openDay(s, 1);
      const [a, b] = await messages(s, 1, 2);
      await s.recordAttempts([
        { attempt: attempt(a!.id, 1), result: { status: 'accepted', at: 20 } },
        { attempt: attempt(b!.id, 1), result: { status: 'accepted', at: 21 } },
      ]);
      expect(s.heldMessages()).toBe(1);
      expect((await s.pendingPlacements(PLAN, ['r1@1.test'])).map((p) => p.id)).toEqual([a!.id]);
      expect(await code(s.pendingPlacements(PLAN, ['r1@1.test', 'r2@1.test']))).toBe('STORE_RELEASED');
      expect(await s.getLaneDay(1, DAY)).toMatchObject({ sent: 2, accepted: 2 });
    } finally {
      await s.close();
    }
  });

  it('holds a message again when the transaction that released it is undone', async () => {
    const s = memoryStore({ placementMailboxes: [] });
    try {
      await fourLanes(s);
      await openDay(s, 1);
      const [a] = await messages(s, 1, 1);
      await expect(s.transaction(async (tx) => {
        await tx.recordAttempt(attempt(a!.id, 1), { status: 'accepted', at: 20 });
        expect(s.heldMessages()).toBe(0);
        throw new Error('undo');
      })).rejects.toThrow('undo');
      expect(s.heldMessages()).toBe(1);
      expect(await s.queueCounts(PLAN)).toEqual(new Map([[1, { inFlight: 1, retries: 0 }]]));
      await s.recordAttempt(attempt(a!.id, 1), { status: 'accepted', at: 30 });
      expect(s.heldMessages()).toBe(0);
      expect(await s.getLaneDay(1, DAY)).toMatchObject({ accepted: 1 });
    } finally {
      await s.close();
    }
  });

  it('gives a routed delivery whose key is a released message\'s Message-ID a Message-ID of its own, as SQL does', async () => {
    const d: RoutedDelivery = {
      laneId: 1, day: DAY, queueId: 'Q1', recipient: 'u@g.test', at: 500, mxHost: 'mx.g.test', mxAddress: '127.0.0.9', outcome: 'accepted',
      code: 250, enhanced: '2.0.0', reply: '250 2.0.0 ok', stage: 'dot', status: 'sent', mailboxSignal: false,
    };
    const r = await onBoth(memoryStore(), async (s) => {
      await fourLanes(s);
      await openDay(s, 1);
      const [m] = await s.createMessages([{ laneId: 1, day: DAY, recipient: 'u@g.test', messageId: routedKey(d) }], 5);
      await s.recordAttempt(attempt(m!.id, 1, { outcome: 'bounced', code: 550, enhanced: '5.1.1', reply: '550 no' }), { status: 'bounced', at: 20 });
      const record = await s.recordRoutedDelivery(PLAN, 'h', d, { path: '/var/log/mail.log', inode: '1', offset: 10 });
      return { record, pending: await s.pendingPlacements(PLAN, ['u@g.test']), since: await s.routedSince(PLAN, 0) };
    });
    expect(r.memory).toEqual(r.sqlite);
    expect(r.memory.pending.map((p) => p.message_id)).toEqual([`${routedKey(d)}:500`]);
  });
});
