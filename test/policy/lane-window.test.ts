import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.js';
import { answerKind, LaneWindow, rejectionTrip, type Answer, type AnswerKind } from '../../src/policy/lane-window.js';
import { effectiveRules, RuleEngine } from '../../src/policy/rules.js';
import { classifyAttempt } from '../../src/send/classify.js';
import { fixtureDir, validText } from '../plan/helpers.js';

const T0 = Date.parse('2026-12-02T10:00:00Z');
const MIN = 60_000;
const H = 60 * MIN;
const REJECT = '554 5.7.1 <unknown[127.0.0.11]>: Client host rejected: Access denied';
const breaker = { windowMs: H, sample: 20, minAttempts: 5, maxRejectionRate: 0.5, holdMs: null };

function observe(reply: string) {
  const c = classifyAttempt({ reply, stage: 'rcpt' });
  return { outcome: c.outcome, text: c.text, code: c.code, enhanced: c.enhanced, mailboxSignal: c.mailboxSignal ?? false, greylisting: c.greylisting ?? null, rejection: c.rejection ?? null };
}

function windowOf(replies: Array<[number, string]>): LaneWindow {
  const w = new LaneWindow(2 * H);
  for (const [at, reply] of replies) {
    const o = observe(reply);
    w.add({ at, kind: answerKind(o), text: o.text, code: o.code, enhanced: o.enhanced });
  }
  return w;
}

describe('answerKind', () => {
  it.each<[string, AnswerKind]>([
    ['250 2.0.0 Ok: queued as 4F1B2', 'accepted'],
    [REJECT, 'policy'],
    ['550 5.1.1 <gone@example.test>: Recipient address rejected: User unknown', 'hygiene'],
    ['550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', 'hygiene'],
    ['450 4.2.0 <a@grey.test>: Recipient address rejected: Greylisted', 'greylist'],
    ['451 4.7.1 Try again later', 'greylist'],
    ['450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.', 'mailbox'],
    ['450 4.7.1 Error: too much mail from 127.0.0.2', 'deferred'],
  ])('%s is %s', (reply, kind) => {
    expect(answerKind(observe(reply))).toBe(kind);
  });

  it('a connection failure is a deferral', () => {
    expect(answerKind({ outcome: 'network', mailboxSignal: false })).toBe('deferred');
  });
});

describe('rejectionTrip', () => {
  it('trips on the 5th answer when every one was a policy rejection, naming the reply', () => {
    const four = windowOf([0, 1, 2, 3].map((i) => [T0 + i * MIN, REJECT]));
    expect(rejectionTrip(four, breaker, T0 + 3 * MIN)).toBeNull();
    const five = windowOf([0, 1, 2, 3, 4].map((i) => [T0 + i * MIN, REJECT]));
    expect(rejectionTrip(five, breaker, T0 + 4 * MIN)).toEqual({
      until: null, rejected: 5, answered: 5,
      reason: `5x ${REJECT} (rejection rate 100%: 5 of the last 5 answers)`,
      evidence: [{ reply: REJECT, code: 554, enhanced: '5.7.1', count: 5 }],
    });
  });

  it('holds for the configured time when a hold duration is set', () => {
    const w = windowOf([0, 1, 2, 3, 4].map((i) => [T0 + i * MIN, REJECT]));
    expect(rejectionTrip(w, { ...breaker, holdMs: 6 * H }, T0 + 4 * MIN)?.until).toBe(T0 + 4 * MIN + 6 * H);
  });

  it('needs more than the threshold share of policy rejections', () => {
    const half = windowOf([[T0, REJECT], [T0 + 1, '250 2.0.0 Ok'], [T0 + 2, REJECT], [T0 + 3, '250 2.0.0 Ok'], [T0 + 4, REJECT], [T0 + 5, '250 2.0.0 Ok']]);
    expect(rejectionTrip(half, breaker, T0 + 5)).toBeNull();
    const more = windowOf([[T0, REJECT], [T0 + 1, '250 2.0.0 Ok'], [T0 + 2, REJECT], [T0 + 3, REJECT], [T0 + 4, '250 2.0.0 Ok']]);
    expect(rejectionTrip(more, breaker, T0 + 4)).toMatchObject({ rejected: 3, answered: 5 });
  });

  it('counts unknown users, greylisting and per-mailbox answers on neither side', () => {
    const w = windowOf([
      [T0, REJECT], [T0 + 1, REJECT],
      ...[2, 3, 4, 5, 6, 7].map((i): [number, string] => [T0 + i, `550 5.1.1 <gone${i}@example.test>: Recipient address rejected: User unknown`]),
      [T0 + 8, '450 4.2.0 <a@grey.test>: Recipient address rejected: Greylisted'],
    ]);
    expect(rejectionTrip(w, breaker, T0 + 8)).toBeNull();
  });

  it('counts the latest answers only: a lane blocked after a good morning trips within a few messages', () => {
    const good: Array<[number, string]> = [...Array(300).keys()].map((i) => [T0 + i * 1000, '250 2.0.0 Ok']);
    const blocked = (n: number): Array<[number, string]> => [...Array(n).keys()].map((i) => [T0 + 300_000 + i * 1000, REJECT]);
    expect(rejectionTrip(windowOf([...good, ...blocked(10)]), breaker, T0 + 310_000)).toBeNull();
    expect(rejectionTrip(windowOf([...good, ...blocked(11)]), breaker, T0 + 311_000)).toMatchObject({ rejected: 11, answered: 20 });
  });

  it('forgets what left the window', () => {
    const w = windowOf([[T0, REJECT], [T0 + 1, REJECT], [T0 + 2, REJECT], [T0 + 61 * MIN, REJECT], [T0 + 62 * MIN, REJECT]]);
    expect(rejectionTrip(w, breaker, T0 + 62 * MIN)).toBeNull();
  });

  it('is off at max_rejection_rate 1', () => {
    const w = windowOf([0, 1, 2, 3, 4, 5].map((i) => [T0 + i, REJECT]));
    expect(rejectionTrip(w, { ...breaker, maxRejectionRate: 1 }, T0 + 5)).toBeNull();
  });
});

describe('the rejection breaker in the rule engine', () => {
  const plan = (() => {
    const r = loadPlan(`${validText}
policy:
  rejection_breaker: { window: 30m, min_attempts: 4 }
`.replace('    domains: [yahoo.com]', '    domains: [yahoo.com]\n    policy: { rejection_breaker: { min_attempts: 10, hold: 2h } }'), { file: `${fixtureDir}plan.yaml` });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.plan;
  })();
  const engine = () => new RuleEngine(effectiveRules(plan), plan.policy.breaker, (p) => plan.providers.find((x) => x.name === p)!.thresholds.rejectionBreaker);
  const obs = (provider: string, ip: string) => ({ ip, provider, recipient: 'r@x.test', ...observe(REJECT) });

  it('reads the plan\'s breaker and a provider\'s override key by key', () => {
    expect(plan.providers.find((p) => p.name === 'gmail')!.thresholds.rejectionBreaker).toEqual({ windowMs: 30 * MIN, sample: 20, minAttempts: 4, maxRejectionRate: 0.5, holdMs: null });
    expect(plan.providers.find((p) => p.name === 'yahoo')!.thresholds.rejectionBreaker).toEqual({ windowMs: 30 * MIN, sample: 20, minAttempts: 10, maxRejectionRate: 0.5, holdMs: 2 * H });
  });

  it('holds the lane once, at the provider\'s minimum sample, and not again for what was in flight', () => {
    const e = engine();
    const gmail = [0, 1, 2, 3, 4, 5, 6].map((i) => e.observe(obs('gmail', '127.0.0.11'), T0 + i * 1000));
    expect(gmail.map((a) => a.length)).toEqual([0, 0, 0, 1, 0, 0, 0]);
    expect(gmail[3]![0]).toMatchObject({
      rule: 'rejection-breaker', action: 'pause', scope: { ip: '127.0.0.11', provider: 'gmail' }, until: null,
      evidence: [{ reply: REJECT, code: 554, enhanced: '5.7.1', count: 4 }],
    });
    expect(gmail[3]![0]!.reply).toBe(`4x ${REJECT} (rejection rate 100%: 4 of the last 4 answers)`);
    const yahoo = [...Array(10).keys()].flatMap((i) => e.observe(obs('yahoo', '127.0.0.11'), T0 + i * 1000));
    expect(yahoo).toEqual([expect.objectContaining({ rule: 'rejection-breaker', until: T0 + 9000 + 2 * H })]);
  });

  it('trips again for a lane that sends into the same rejections after the window', () => {
    const e = engine();
    const first = [0, 1, 2, 3].flatMap((i) => e.observe(obs('gmail', '127.0.0.12'), T0 + i * MIN));
    // 15 minutes on (a resumed lane), not a whole window.
    const later = [0, 1, 2, 3].flatMap((i) => e.observe(obs('gmail', '127.0.0.12'), T0 + 20 * MIN + i * MIN));
    expect([...first, ...later].map((a) => a.rule)).toEqual(['rejection-breaker', 'rejection-breaker']);
  });
});

describe('LaneWindow readers', () => {
  it('read only what they need yet answer as filtering every answer kept, whether answers came in time order or not', () => {
    const kinds: AnswerKind[] = ['accepted', 'deferred', 'policy', 'hygiene', 'greylist', 'mailbox'];
    const kindSets: AnswerKind[][] = [['accepted', 'deferred', 'policy', 'hygiene'], ['deferred'], kinds, ['policy', 'accepted']];
    let seed = 7;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    for (const backwards of [false, true]) {
      const w = new LaneWindow(6 * 3_600_000);
      let t = 0;
      for (let i = 0; i < 6000; i++) {
        t += rand(40_000);
        const at = backwards && i % 97 === 0 ? t - 600_000 : t;
        w.add({ at, kind: kinds[rand(kinds.length)]!, text: `r${rand(5)}`, code: rand(3) === 0 ? null : 421, enhanced: null });
        if (i % 50 !== 0) continue;
        const keep = (a: Answer) => a.kind !== 'mailbox' && a.at > t - 1_800_000;
        for (const windowMs of [60_000, 3_600_000, 6 * 3_600_000]) {
          const all = w.within(t, windowMs).filter(keep);
          expect(w.recent(t, windowMs, keep, 20)).toEqual(all.slice(-20));
          expect(w.recent(t, windowMs, keep)).toEqual(all);
          const kinds = kindSets[rand(kindSets.length)]!;
          const after = Math.max(t - windowMs, t - rand(2 * windowMs));
          const counted = w.within(t, windowMs + t).filter((a) => a.at > after && kinds.includes(a.kind));
          expect(w.countKinds(after, kinds, 'deferred')).toEqual({ kept: counted.length, hits: counted.filter((a) => a.kind === 'deferred').length });
        }
        // Forgetting a kind (a tripped breaker) leaves the counts of the others right.
        if (i % 500 === 0) w.forget(['policy']);
      }
    }
  });
});
