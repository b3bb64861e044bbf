import { describe, expect, it } from 'vitest';
import { attempt, DAY, fourLanes, openDay, PLAN, withStore } from './fixture.js';
import { STORES } from './stores.js';

describe.each(STORES)('$name store: placements, engagement and DNSBL answers', ({ open }) => {
  it('finds accepted seed messages without a placement, records placements once, and raises a spam crossing once', () => withStore(open, async (s) => {
    await fourLanes(s);
    await openDay(s, 1);
    await openDay(s, 2);
    const mk = (laneId: number, i: number, to: string) => ({ laneId, day: DAY, recipient: to, messageId: `p${laneId}-${i}@x.test` });
    const rows = await s.createMessages([mk(1, 1, 'seed1@g.test'), mk(1, 2, 'seed2@g.test'), mk(1, 3, 'other@g.test'), mk(2, 1, 'seed1@g.test'), mk(1, 4, 'seed1@g.test')], 5);
    for (const r of rows.slice(0, 4)) await s.recordAttempt(attempt(r.id, r.id === 4 ? 2 : 1), { status: 'accepted', at: 20 + r.id });
    expect(await s.pendingPlacements(PLAN, [])).toEqual([]);
    const pending = await s.pendingPlacements(PLAN, ['seed1@g.test', 'seed2@g.test']);
    expect(pending).toEqual([
      { id: 1, lane_id: 1, day: DAY, recipient: 'seed1@g.test', message_id: 'p1-1@x.test', created_at: 5, finished_at: 21 },
      { id: 2, lane_id: 1, day: DAY, recipient: 'seed2@g.test', message_id: 'p1-2@x.test', created_at: 5, finished_at: 22 },
      { id: 4, lane_id: 2, day: DAY, recipient: 'seed1@g.test', message_id: 'p2-1@x.test', created_at: 5, finished_at: 24 },
    ]);
    expect(await s.pendingPlacements('other', ['seed1@g.test'])).toEqual([]);
    const rec = (messageId: number, laneId: number, placement: 'inbox' | 'spam' | 'other' | 'missing', engageAt: number | null = null) => ({
      messageId, laneId, day: DAY, mailbox: messageId === 2 ? 'seed2@g.test' : 'seed1@g.test', folder: placement === 'missing' ? null : placement === 'spam' ? '[Gmail]/Spam' : 'INBOX',
      placement, arrivedAfterMs: placement === 'missing' ? null : 900, checkedAt: 5000, engageAt,
    });
    expect(await s.recordPlacements(PLAN, [], () => 0.1)).toEqual({ written: 0, crossings: [] });
    const first = await s.recordPlacements(PLAN, [rec(1, 1, 'inbox', 6000), rec(4, 2, 'other', 5500)], () => 0.1);
    expect(first).toEqual({ written: 2, crossings: [] });
    const second = await s.recordPlacements(PLAN, [rec(1, 1, 'spam'), rec(2, 1, 'spam', 5800)], (p) => (p === 'gmail' ? 0.4 : 0.1));
    expect(second).toEqual({ written: 1, crossings: [{ laneId: 1, ip: '127.0.0.2', provider: 'gmail', day: DAY, inbox: 1, spam: 1, rate: 0.5, threshold: 0.4 }] });
    expect(await s.getLaneDay(1, DAY)).toMatchObject({ inbox: 1, spam: 1, missing: 0 });
    expect(await s.getLaneDay(2, DAY)).toMatchObject({ inbox: 0, spam: 0, missing: 0 });
    const [event] = await s.listEvents(PLAN, { kinds: ['placement_spam'] });
    expect(event).toMatchObject({ at: 5000, lane_id: 1, ip: '127.0.0.2', provider: 'gmail', actor: 'placement', from_state: null, to_state: null });
    expect(JSON.parse(event!.cause)).toEqual({ day: DAY, inbox: 1, spam: 1, spamRate: 0.5, maxSpamRate: 0.4 });
    // Above the threshold already: no second crossing.
    await s.recordAttempt(attempt(5, 1), { status: 'accepted', at: 30 });
    expect((await s.recordPlacements(PLAN, [rec(5, 1, 'spam')], () => 0.4)).crossings).toEqual([]);
    expect(await s.pendingPlacements(PLAN, ['seed1@g.test', 'seed2@g.test'])).toEqual([]);
    await expect(s.recordPlacements(PLAN, [rec(99, 1, 'inbox')], () => 0.4)).rejects.toThrow();
    // A batch that fails is undone whole: its good message is still pending, and then placed once.
    const [late] = await s.createMessages([mk(1, 6, 'seed2@g.test')], 40);
    await s.recordAttempt(attempt(late!.id, 1), { status: 'accepted', at: 41 });
    await expect(s.recordPlacements(PLAN, [rec(late!.id, 1, 'missing'), rec(99, 1, 'inbox')], () => 0.4)).rejects.toThrow();
    expect((await s.pendingPlacements(PLAN, ['seed1@g.test', 'seed2@g.test'])).map((p) => p.id)).toEqual([late!.id]);
    expect(await s.getLaneDay(1, DAY)).toMatchObject({ missing: 0 });
    expect((await s.recordPlacements(PLAN, [rec(late!.id, 1, 'missing')], () => 0.4)).written).toBe(1);
    expect(await s.pendingPlacements(PLAN, ['seed1@g.test', 'seed2@g.test'])).toEqual([]);

    // Engagement: due, not done, with a folder, oldest first, at most `limit`; a missing one is never due.
    expect(await s.dueEngagements([], 10_000, 10)).toEqual([]);
    expect(await s.dueEngagements(['seed1@g.test', 'seed2@g.test'], 5700, 10)).toEqual([
      { id: 2, mailbox: 'seed1@g.test', folder: 'INBOX', placement: 'other', message_id: 'p2-1@x.test' },
    ]);
    const due = await s.dueEngagements(['seed1@g.test', 'seed2@g.test'], 10_000, 2);
    expect(due.map((d) => [d.id, d.message_id])).toEqual([[2, 'p2-1@x.test'], [4, 'p1-2@x.test']]);
    await s.markEngaged(2, 'read,flag', 7000);
    expect((await s.dueEngagements(['seed1@g.test', 'seed2@g.test'], 10_000, 10)).map((d) => d.id)).toEqual([4, 1]);
  }));

  it('records DNSBL answers and reads the last verdict, the latest answer and the history per IP and zone', () => withStore(open, async (s) => {
    const row = (ip: string, zone: string, status: 'listed' | 'clear' | 'error' | 'unknown') => ({ ip, zone, status, answer: status === 'listed' ? '127.0.0.2' : null, meaning: null, txt: null });
    await s.recordDnsblResults([], 1);
    await s.recordDnsblResults([row('127.0.0.3', 'z1', 'listed'), row('127.0.0.2', 'z2', 'clear'), row('127.0.0.2', 'z1', 'clear')], 100);
    await s.recordDnsblResults([row('127.0.0.3', 'z1', 'error'), row('127.0.0.2', 'z1', 'listed'), row('127.0.0.9', 'z1', 'listed')], 200);
    expect(await s.lastDnsblVerdicts([])).toEqual([]);
    expect(await s.lastDnsblVerdicts(['127.0.0.2', '127.0.0.3'])).toEqual([
      { id: 5, at: 200, ip: '127.0.0.2', zone: 'z1', status: 'listed', answer: '127.0.0.2', meaning: null, txt: null },
      { id: 2, at: 100, ip: '127.0.0.2', zone: 'z2', status: 'clear', answer: null, meaning: null, txt: null },
      { id: 1, at: 100, ip: '127.0.0.3', zone: 'z1', status: 'listed', answer: '127.0.0.2', meaning: null, txt: null },
    ]);
    expect((await s.latestDnsblResults(['127.0.0.3'])).map((r) => [r.id, r.status])).toEqual([[4, 'error']]);
    expect(await s.latestDnsblResults([])).toEqual([]);
    expect(await s.dnsblHistory([])).toEqual([]);
    expect(await s.dnsblHistory(['127.0.0.2'])).toEqual([
      { at: 100, ip: '127.0.0.2', zone: 'z2', status: 'clear' }, { at: 100, ip: '127.0.0.2', zone: 'z1', status: 'clear' }, { at: 200, ip: '127.0.0.2', zone: 'z1', status: 'listed' },
    ]);
  }));
});
