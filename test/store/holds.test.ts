import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertType } from '../../src/alerts/alert.js';
import { openSqlite, type OpenedSqlite } from '../../src/store/open.js';
import * as q from '../../src/store/queries.js';

const PLAN = 'holds';
const T0 = Date.parse('2026-12-02T09:00:00Z');
const H = 3_600_000;

/** How a hold ends: it lapses by itself (it was given an end) or an operator resumes it by name. */
type End = 'lapse' | 'resume';
interface Step { readonly op: 'add' | 'end'; readonly who: 'A' | 'B' }

/** Every order of add A, add B, end A, end B in which each hold is added before it ends. */
function orders(): Step[][] {
  const all: Step[] = [{ op: 'add', who: 'A' }, { op: 'add', who: 'B' }, { op: 'end', who: 'A' }, { op: 'end', who: 'B' }];
  const out: Step[][] = [];
  const walk = (done: Step[], left: Step[]): void => {
    if (left.length === 0) { out.push(done); return; }
    for (const s of left) {
      if (s.op === 'end' && !done.some((d) => d.op === 'add' && d.who === s.who)) continue;
      walk([...done, s], left.filter((x) => x !== s));
    }
  };
  walk([], all);
  return out;
}

/** Policy and DNSBL holds have no end of their own; the others may be given one. */
const ENDS: Record<q.HoldKind, readonly End[]> = { operator: ['lapse', 'resume'], policy: ['resume'], dnsbl: ['resume'], rule: ['lapse', 'resume'], breaker: ['lapse', 'resume'] };
const ACTOR: Record<q.HoldKind, string> = { operator: 'operator', policy: 'policy', dnsbl: 'dnsbl', rule: 'rule:yahoo-tss04', breaker: 'policy:circuit-breaker' };

interface Case { kindA: q.HoldKind; kindB: q.HoldKind; endA: End; endB: End; order: Step[] }
const cases: Case[] = [];
for (const kindA of q.HOLD_KINDS) {
  for (const kindB of q.HOLD_KINDS) {
    if (kindA === kindB && kindA !== 'rule') continue; // one hold per (kind, actor); two rules are two actors
    for (const endA of ENDS[kindA]) for (const endB of ENDS[kindB]) for (const order of orders()) cases.push({ kindA, kindB, endA, endB, order });
  }
}

describe('holds: a lane sends only while no hold is on it', () => {
  let store: OpenedSqlite;
  beforeAll(async () => { store = await openSqlite(':memory:'); });
  afterAll(async () => { await store.close(); });

  it(`walks ${cases.length} cases: every pair of hold kinds in every order of add, lapse and resume`, async () => {
    expect(cases.length).toBeGreaterThan(300);
    let n = 0;
    for (const c of cases) {
      const ip = `127.0.${Math.floor(n / 250)}.${(n % 250) + 1}`;
      n++;
      const [lane] = await q.ensureLanes(store.db, PLAN, [{ ip, provider: 'gmail' }], T0).then((ls) => ls.filter((l) => l.ip === ip));
      const holds = {
        A: { kind: c.kindA, actor: ACTOR[c.kindA], end: c.endA },
        B: { kind: c.kindB, actor: c.kindA === c.kindB ? 'rule:yahoo-ts02' : ACTOR[c.kindB], end: c.endB },
      };
      const on = new Set<'A' | 'B'>();
      let now = T0;
      const label = `${c.kindA}(${c.endA}) + ${c.kindB}(${c.endB}): ${c.order.map((s) => `${s.op} ${s.who}`).join(', ')}`;
      for (const step of c.order) {
        now += H;
        const h = holds[step.who];
        const seen = await q.lastEventId(store.db);
        const before = on.size;
        if (step.op === 'add') {
          // A hold that will lapse ends half an hour before its lapse step (steps are an hour apart).
          const until = h.end === 'lapse' ? T0 + (c.order.findIndex((s) => s.op === 'end' && s.who === step.who) + 1) * H - H / 2 : null;
          const changes = await q.addHold(store.db, PLAN, { ip, provider: 'gmail' }, { kind: h.kind, actor: h.actor, reason: `${step.who} added`, until }, now);
          expect(changes.map((x) => x.change), label).toEqual(['added']);
          on.add(step.who);
        } else if (h.end === 'lapse') {
          const changes = await q.lapseHolds(store.db, PLAN, now);
          // A resume of the other kind may have taken this operator hold off already.
          expect(changes.map((x) => `${x.actor}:${x.change}`), label).toEqual(on.has(step.who) ? [`${h.actor}:lapsed`] : []);
          on.delete(step.who);
        } else {
          // warmup resume --holds KIND: the operator's holds go too.
          const kinds: q.HoldKind[] = [...new Set<q.HoldKind>(['operator', h.kind])];
          await q.removeHolds(store.db, PLAN, { ip, provider: 'gmail' }, { kinds, by: 'operator', reason: 'resumed', eventKind: 'operator_resume' }, now);
          for (const w of ['A', 'B'] as const) if (kinds.includes(holds[w].kind) && (w === step.who || holds[w].kind === 'operator' || holds[w].kind === h.kind)) on.delete(w);
        }
        const left = await q.listHolds(store.db, PLAN, [lane!.id]);
        expect(left.map((x) => x.actor).sort(), label).toEqual([...on].map((w) => holds[w].actor).sort());
        const row = (await q.loadLanes(store.db, PLAN)).find((l) => l.id === lane!.id)!;
        expect(row.state === 'active', label).toBe(on.size === 0);
        // Every hold added or removed is an event, and every such event is an alert.
        const events = await q.eventsAfter(store.db, PLAN, { id: seen }, 100);
        expect(events.length, label).toBe(Math.abs(on.size - before));
        for (const e of events) expect(alertType(e), `${label}: ${e.kind}`).toBe(step.op === 'add' ? 'hold_added' : 'hold_removed');
      }
      // A hold that ended never comes back by itself.
      now += 10 * H;
      await q.lapseHolds(store.db, PLAN, now);
      expect(await q.listHolds(store.db, PLAN, [lane!.id]), label).toEqual([]);
    }
  });

  it('a rule suspension on an operator-paused lane lapses without lifting the pause (the reported case)', async () => {
    const [lane] = (await q.ensureLanes(store.db, 'repro', [{ ip: '192.0.2.11', provider: 'gmail' }, { ip: '192.0.2.12', provider: 'gmail' }], T0)).filter((l) => l.ip === '192.0.2.11');
    await q.addHold(store.db, 'repro', { ip: '192.0.2.11', provider: 'gmail' }, { kind: 'operator', actor: 'operator', reason: 'checking rDNS', until: null, eventKind: 'operator_pause' }, T0);
    // pause_provider: every Gmail lane, the paused one included, for 6 h.
    const added = await q.addHold(store.db, 'repro', { provider: 'gmail' }, { kind: 'rule', actor: 'rule:gmail-domain-reputation', reason: '421 4.7.0 very low reputation', until: T0 + 6 * H, evidence: { replies: ['421 4.7.0 ...'] } }, T0 + 1);
    expect(added.map((c) => [c.ip, c.from, c.to])).toEqual([['192.0.2.11', 'paused', 'paused'], ['192.0.2.12', 'active', 'suspended']]);
    await q.lapseHolds(store.db, 'repro', T0 + 6 * H + 1);
    const lanes = await q.loadLanes(store.db, 'repro');
    expect(lanes.map((l) => [l.ip, l.state, l.state_reason])).toEqual([['192.0.2.11', 'paused', 'operator: checking rDNS'], ['192.0.2.12', 'active', null]]);
    expect((await q.listHolds(store.db, 'repro', [lane!.id])).map(q.holdView)).toEqual([expect.objectContaining({ kind: 'operator', actor: 'operator', until: null, evidence: null })]);
  });

  it('adding a hold again extends it when it lasts longer, and changes nothing otherwise', async () => {
    await q.ensureLanes(store.db, 'ext', [{ ip: '127.1.0.1', provider: 'yahoo' }], T0);
    const hold = { kind: 'rule' as const, actor: 'rule:yahoo-tss04', reason: '[TSS04]', evidence: { replies: ['421 4.7.0 [TSS04]'] } };
    expect((await q.addHold(store.db, 'ext', {}, { ...hold, until: T0 + 2 * H }, T0)).map((c) => c.change)).toEqual(['added']);
    expect(await q.addHold(store.db, 'ext', {}, { ...hold, until: T0 + H }, T0 + 1)).toEqual([]);
    expect((await q.addHold(store.db, 'ext', {}, { ...hold, until: T0 + 3 * H }, T0 + 2)).map((c) => c.change)).toEqual(['extended']);
    const [h] = await q.listHolds(store.db, 'ext');
    expect(h).toMatchObject({ until: T0 + 3 * H, created_at: T0 });
    expect(q.holdView(h!).evidence).toEqual({ replies: ['421 4.7.0 [TSS04]'] });
    const ev = await q.listEvents(store.db, 'ext');
    expect(ev.map((e) => [e.kind, alertType(e)])).toEqual([['hold_added', 'hold_added'], ['hold_extended', null]]);
  });
});
