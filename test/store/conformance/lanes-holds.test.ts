import { describe, expect, it } from 'vitest';
import { attempt, DAY, deferral, fourLanes, messages, openDay, PLAN, withStore } from './fixture.js';
import { STORES } from './stores.js';

describe.each(STORES)('$name store: lanes and holds', ({ open }) => {
  it('creates lanes once, ids from 1, with their defaults, and loads a plan\'s lanes in id order', () => withStore(open, async (s) => {
    const lanes = await fourLanes(s, 7);
    expect(lanes.map((l) => [l.id, l.ip, l.provider])).toEqual([[1, '127.0.0.2', 'gmail'], [2, '127.0.0.2', 'yahoo'], [3, '127.0.0.3', 'gmail'], [4, '127.0.0.3', 'yahoo']]);
    expect(lanes[0]).toEqual({
      id: 1, plan: PLAN, ip: '127.0.0.2', provider: 'gmail', stage: 0, state: 'active', state_until: null, state_reason: null,
      rate_factor: 1, rate_until: null, max_connections: null, holds_in_row: 0, decided_day: null, updated_at: 7,
    });
    const again = await s.ensureLanes(PLAN, [{ ip: '127.0.0.3', provider: 'gmail' }, { ip: '127.0.0.4', provider: 'gmail' }], 9);
    // A row skipped on conflict takes its id all the same (SQLite's AUTOINCREMENT, PostgreSQL's sequences).
    expect(again.map((l) => [l.id, l.updated_at])).toEqual([[1, 7], [2, 7], [3, 7], [4, 7], [6, 9]]);
    await s.ensureLanes(PLAN, [{ ip: '127.0.0.2', provider: 'gmail' }], 9);
    await s.ensureLanes('other', [{ ip: '127.0.0.2', provider: 'gmail' }], 9);
    expect((await s.loadLanes(PLAN)).length).toBe(5);
    expect((await s.loadLanes('other')).map((l) => l.id)).toEqual([8]);
    expect(await s.ensureLanes('none', [], 1)).toEqual([]);
    // What a caller gets is its own copy.
    lanes[0]!.stage = 99;
    expect((await s.loadLanes(PLAN))[0]!.stage).toBe(0);
  }));

  it('sets and lifts a lane\'s shaping; a cap left out stays', () => withStore(open, async (s) => {
    await fourLanes(s);
    await s.setLaneShaping(2, { rate_factor: 0.5, max_connections: 1, rate_until: 500 }, 20);
    await s.setLaneShaping(3, { rate_factor: 0.25, rate_until: 600 }, 21);
    const lanes = await s.loadLanes(PLAN);
    expect(lanes[1]).toMatchObject({ rate_factor: 0.5, max_connections: 1, rate_until: 500, updated_at: 20 });
    expect(lanes[2]).toMatchObject({ rate_factor: 0.25, max_connections: null, rate_until: 600, updated_at: 21 });
    await s.setLaneShaping(2, { max_connections: null, rate_until: null }, 30);
    expect((await s.loadLanes(PLAN))[1]).toMatchObject({ rate_factor: 0.5, max_connections: null, rate_until: null, updated_at: 30 });
    await s.setLaneShaping(99, { rate_factor: 1, rate_until: null }, 30); // no such lane: nothing
  }));

  it('adds a hold on every lane of a target, summarises the state, writes one event per lane changed', () => withStore(open, async (s) => {
    await fourLanes(s);
    const added = await s.addHold(PLAN, { ip: '127.0.0.2' }, { kind: 'operator', actor: 'operator', reason: 'rDNS fix', until: null, eventKind: 'operator_pause', cause: { by: 'me' } }, 100);
    expect(added).toEqual([
      { laneId: 1, ip: '127.0.0.2', provider: 'gmail', kind: 'operator', actor: 'operator', change: 'added', until: null, from: 'active', to: 'paused' },
      { laneId: 2, ip: '127.0.0.2', provider: 'yahoo', kind: 'operator', actor: 'operator', change: 'added', until: null, from: 'active', to: 'paused' },
    ]);
    const lanes = await s.loadLanes(PLAN);
    expect(lanes.map((l) => [l.state, l.state_until, l.state_reason, l.updated_at])).toEqual([
      ['paused', null, 'operator: rDNS fix', 100], ['paused', null, 'operator: rDNS fix', 100], ['active', null, null, 1], ['active', null, null, 1],
    ]);
    const events = await s.listEvents(PLAN);
    expect(events.map((e) => [e.id, e.lane_id, e.kind, e.from_state, e.to_state, e.actor])).toEqual([[1, 1, 'operator_pause', 'active', 'paused', 'operator'], [2, 2, 'operator_pause', 'active', 'paused', 'operator']]);
    expect(JSON.parse(events[0]!.cause)).toEqual({ reason: 'rDNS fix', until: null, by: 'me', hold: { kind: 'operator', actor: 'operator', until: null, change: 'added' } });
    // The same hold again: covered (open-ended), nothing changes.
    expect(await s.addHold(PLAN, { ip: '127.0.0.2' }, { kind: 'operator', actor: 'operator', reason: 'again', until: 500 }, 101)).toEqual([]);
    const holds = await s.listHolds(PLAN);
    expect(holds).toEqual([
      { id: 1, plan: PLAN, lane_id: 1, kind: 'operator', actor: 'operator', reason: 'rDNS fix', until: null, evidence: null, created_at: 100, updated_at: 100 },
      { id: 2, plan: PLAN, lane_id: 2, kind: 'operator', actor: 'operator', reason: 'rDNS fix', until: null, evidence: null, created_at: 100, updated_at: 100 },
    ]);
  }));

  it('extends a timed hold only when the new one lasts longer; rules and breakers suspend', () => withStore(open, async (s) => {
    await fourLanes(s);
    const rule = { kind: 'rule' as const, actor: 'rule:slow', reason: 'too many 421', evidence: { replies: ['421'] } };
    expect((await s.addHold(PLAN, { ip: '127.0.0.3', provider: 'gmail' }, { ...rule, until: 500 }, 100)).map((c) => [c.laneId, c.change, c.to])).toEqual([[3, 'added', 'suspended']]);
    expect(await s.addHold(PLAN, { ip: '127.0.0.3', provider: 'gmail' }, { ...rule, until: 400 }, 110)).toEqual([]);
    const ext = await s.addHold(PLAN, { ip: '127.0.0.3', provider: 'gmail' }, { kind: 'rule', actor: 'rule:slow', reason: 'still 421', until: 900 }, 120);
    expect(ext).toEqual([{ laneId: 3, ip: '127.0.0.3', provider: 'gmail', kind: 'rule', actor: 'rule:slow', change: 'extended', until: 900, from: 'suspended', to: 'suspended' }]);
    const [h] = await s.listHolds(PLAN);
    // The evidence of the first stays when the extension brings none.
    expect(h).toMatchObject({ until: 900, reason: 'still 421', evidence: JSON.stringify({ replies: ['421'] }), created_at: 100, updated_at: 120 });
    // Two timed holds: the summary lapses with the last, its reason the one lapsing last.
    await s.addHold(PLAN, { ip: '127.0.0.3', provider: 'gmail' }, { kind: 'breaker', actor: 'policy:circuit-breaker', reason: 'rejections', until: 950 }, 130);
    const lane = (await s.loadLanes(PLAN))[2]!;
    expect([lane.state, lane.state_until, lane.state_reason]).toEqual(['suspended', 950, 'breaker: rejections']);
    expect((await s.listEvents(PLAN)).map((e) => e.kind)).toEqual(['hold_added', 'hold_extended', 'hold_added']);
  }));

  it('summarises equal lapses by kind then actor, as the lane\'s holds are read', () => withStore(open, async (s) => {
    await fourLanes(s);
    await s.addHold(PLAN, { ip: '127.0.0.2', provider: 'gmail' }, { kind: 'rule', actor: 'rule:b', reason: 'b', until: 500 }, 100);
    await s.addHold(PLAN, { ip: '127.0.0.2', provider: 'gmail' }, { kind: 'rule', actor: 'rule:a', reason: 'a', until: 500 }, 100);
    await s.addHold(PLAN, { ip: '127.0.0.2', provider: 'gmail' }, { kind: 'breaker', actor: 'policy:circuit-breaker', reason: 'c', until: 500 }, 100);
    expect((await s.loadLanes(PLAN))[0]!.state_reason).toBe('breaker: c');
    await s.addHold(PLAN, { ip: '127.0.0.2', provider: 'gmail' }, { kind: 'rule', actor: 'rule:c', reason: 'open', until: null }, 100);
    expect((await s.loadLanes(PLAN))[0]).toMatchObject({ state: 'paused', state_until: null, state_reason: 'rule: open' });
  }));

  it('removes only the named kinds, actor and age of hold, one event per hold', () => withStore(open, async (s) => {
    await fourLanes(s);
    await s.addHold(PLAN, {}, { kind: 'dnsbl', actor: 'dnsbl', reason: 'listed', until: null }, 100);
    await s.addHold(PLAN, { provider: 'gmail' }, { kind: 'rule', actor: 'rule:x', reason: 'x', until: 800 }, 200);
    await s.addHold(PLAN, { provider: 'gmail' }, { kind: 'rule', actor: 'rule:y', reason: 'y', until: 800 }, 300);
    expect(await s.removeHolds(PLAN, {}, { kinds: [], by: 'operator', reason: 'none' }, 400)).toEqual([]);
    const gone = await s.removeHolds(PLAN, { ip: '127.0.0.2' }, { kinds: ['rule'], actor: 'rule:y', by: 'daemon', reason: 'fine', eventKind: 'rule_lifted' }, 400);
    expect(gone).toEqual([{ laneId: 1, ip: '127.0.0.2', provider: 'gmail', kind: 'rule', actor: 'rule:y', change: 'removed', until: 800, from: 'paused', to: 'paused' }]);
    const cleared = await s.removeHolds(PLAN, {}, { kinds: ['dnsbl', 'rule'], createdUpTo: 200, by: 'dnsbl', reason: 'clear' }, 500);
    expect(cleared.map((c) => [c.laneId, c.kind, c.actor, c.from, c.to])).toEqual([
      [1, 'dnsbl', 'dnsbl', 'paused', 'suspended'], [1, 'rule', 'rule:x', 'suspended', 'active'],
      [2, 'dnsbl', 'dnsbl', 'paused', 'active'],
      [3, 'dnsbl', 'dnsbl', 'paused', 'suspended'], [3, 'rule', 'rule:x', 'suspended', 'suspended'],
      [4, 'dnsbl', 'dnsbl', 'paused', 'active'],
    ]);
    expect((await s.listHolds(PLAN)).map((h) => [h.lane_id, h.actor])).toEqual([[3, 'rule:y']]);
    const last = (await s.listEvents(PLAN)).at(-1)!;
    expect([last.kind, last.actor, last.from_state, last.to_state]).toEqual(['hold_removed', 'dnsbl', 'paused', 'active']);
    expect(JSON.parse(last.cause)).toEqual({ reason: 'clear', hold: { kind: 'dnsbl', actor: 'dnsbl', until: null, change: 'removed', reason: 'listed', since: 100 } });
  }));

  it('lapses holds whose end has come, lanes in the order their holds lapse', () => withStore(open, async (s) => {
    await fourLanes(s);
    await s.addHold(PLAN, { ip: '127.0.0.3', provider: 'yahoo' }, { kind: 'rule', actor: 'rule:a', reason: 'a', until: 300 }, 100);
    await s.addHold(PLAN, { ip: '127.0.0.2', provider: 'gmail' }, { kind: 'rule', actor: 'rule:b', reason: 'b', until: 400 }, 100);
    await s.addHold(PLAN, { ip: '127.0.0.2', provider: 'gmail' }, { kind: 'breaker', actor: 'policy:circuit-breaker', reason: 'c', until: 350 }, 100);
    await s.addHold(PLAN, { ip: '127.0.0.3', provider: 'gmail' }, { kind: 'operator', actor: 'operator', reason: 'd', until: 900 }, 100);
    expect(await s.lapseHolds(PLAN, 299)).toEqual([]);
    const lapsed = await s.lapseHolds(PLAN, 400);
    expect(lapsed.map((c) => [c.laneId, c.kind, c.change, c.from, c.to])).toEqual([
      [4, 'rule', 'lapsed', 'suspended', 'active'], [1, 'rule', 'lapsed', 'suspended', 'suspended'], [1, 'breaker', 'lapsed', 'suspended', 'active'],
    ]);
    const e = (await s.listEvents(PLAN)).at(-1)!;
    expect([e.kind, e.actor]).toEqual(['hold_lapsed', 'daemon']);
    expect(JSON.parse(e.cause).reason).toBe('breaker hold lapsed: c');
    expect((await s.listHolds(PLAN)).map((h) => h.lane_id)).toEqual([3]);
    expect(await s.lapseHolds('other', 10_000)).toEqual([]);
  }));

  it('lists holds by lane then id, optionally of some lanes', () => withStore(open, async (s) => {
    await fourLanes(s);
    await s.addHold(PLAN, { ip: '127.0.0.3' }, { kind: 'dnsbl', actor: 'dnsbl', reason: 'l', until: null }, 100);
    await s.addHold(PLAN, { ip: '127.0.0.2', provider: 'yahoo' }, { kind: 'policy', actor: 'policy', reason: 'p', until: null }, 100);
    await s.addHold(PLAN, { ip: '127.0.0.3', provider: 'gmail' }, { kind: 'operator', actor: 'operator', reason: 'o', until: null }, 100);
    expect((await s.listHolds(PLAN)).map((h) => [h.lane_id, h.id])).toEqual([[2, 3], [3, 1], [3, 4], [4, 2]]);
    expect((await s.listHolds(PLAN, [4, 2])).map((h) => h.id)).toEqual([3, 2]);
    expect(await s.listHolds(PLAN, [])).toEqual([]);
    expect(await s.listHolds('other')).toEqual([]);
  }));

  it('gives each lane of a plan, by id, with its stage, state, rate factor and one day\'s counters (the metrics\' read)', () => withStore(open, async (s) => {
    await fourLanes(s);
    await s.ensureLanes('other', [{ ip: '127.0.0.9', provider: 'gmail' }], 1);
    await openDay(s, 2, DAY, { stage: 3, target: 40 });
    await openDay(s, 3, DAY, { target: 12 });
    await openDay(s, 1, '2026-12-02', { stage: 4 });
    await openDay(s, 5, DAY);
    const m = await messages(s, 2, 3);
    await s.recordAttempt(attempt(m[0]!.id, 2), { status: 'accepted', at: 11 });
    await s.recordAttempt(deferral(m[1]!.id, 2), { status: 'deferred', nextAttemptAt: 300 });
    await s.recordAttempt(attempt(m[2]!.id, 2, { outcome: 'bounced', code: 550, enhanced: '5.1.1', reply: '550 5.1.1 unknown user' }), { status: 'bounced', at: 11 });
    await s.setLaneShaping(4, { rate_factor: 0.5, rate_until: null }, 20);
    await s.addHold(PLAN, { ip: '127.0.0.3', provider: 'gmail' }, { kind: 'operator', actor: 'operator', reason: 'o', until: null }, 30);
    const state = (await s.loadLanes(PLAN))[2]!.state;
    expect(state).not.toBe('active');
    //               target sent acc def bou fail exp inbox spam miss routed r_acc r_def r_bou r_fail
    const lane2 = [40, 3, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    expect(await s.laneGauges(PLAN, DAY)).toEqual([
      { id: 1, ip: '127.0.0.2', provider: 'gmail', stage: 4, state: 'active', rate_factor: 1, day: null },
      { id: 2, ip: '127.0.0.2', provider: 'yahoo', stage: 3, state: 'active', rate_factor: 1, day: lane2 },
      { id: 3, ip: '127.0.0.3', provider: 'gmail', stage: 1, state, rate_factor: 1, day: [12, ...Array(14).fill(0)] },
      { id: 4, ip: '127.0.0.3', provider: 'yahoo', stage: 0, state: 'active', rate_factor: 0.5, day: null },
    ]);
    expect((await s.laneGauges(PLAN, '2026-12-02')).map((g) => g.day?.[0] ?? null)).toEqual([10, null, null, null]);
    expect(await s.laneGauges('none', DAY)).toEqual([]);
  }));
});
