import { describe, expect, it } from 'vitest';
import { classifyAttempt } from '../../src/send/classify.js';
import { PROFILES, profileFor, type ProviderModel } from '../../src/simulate/profiles.js';
import { ModelledReceivers, type AnswerKind } from '../../src/simulate/receivers.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);
const MIN = 60_000;

function model(base: ProviderModel, over: Partial<ProviderModel>): ProviderModel {
  return { ...base, randomDeferral: 0, ...over };
}

interface Step { at: number; ip?: string; rcpt?: string; kind: AnswerKind; code: number; enhanced?: string; outcome: string; mailbox?: boolean; contains?: string }
interface Case { name: string; provider: ProviderModel; steps: Step[] }

const quiet = (m: ProviderModel, over: Partial<ProviderModel> = {}) => model(m, { greylist: { share: 0, delayMs: 5 * MIN }, mailboxPerHour: 1000, ...over });

const cases: Case[] = [
  {
    name: 'Gmail accepts a new IP up to its starting hourly limit, then rate-limits it with 421 4.7.28',
    provider: quiet(PROFILES.gmail!, { hourlyLimit: { start: 2, max: 100 } }),
    steps: [
      { at: T0, rcpt: 'a@gmail.com', kind: 'accepted', code: 250, outcome: 'accepted' },
      { at: T0 + MIN, rcpt: 'b@gmail.com', kind: 'accepted', code: 250, outcome: 'accepted' },
      { at: T0 + 2 * MIN, rcpt: 'c@gmail.com', kind: 'rate', code: 421, enhanced: '4.7.28', outcome: 'deferred', mailbox: false, contains: 'temporarily rate limited' },
      // Coming back during the cooldown is ignoring the deferral.
      { at: T0 + 3 * MIN, rcpt: 'c@gmail.com', kind: 'throttled', code: 421, enhanced: '4.7.28', outcome: 'deferred' },
      // Next hour, cooldown over: accepted again.
      { at: T0 + 61 * MIN, rcpt: 'c@gmail.com', kind: 'accepted', code: 250, outcome: 'accepted' },
    ],
  },
  {
    name: 'Yahoo defers with [TSS04] and Microsoft with 451 4.7.650 (S775) once over the limit',
    provider: quiet(PROFILES.yahoo!, { hourlyLimit: { start: 1, max: 10 } }),
    steps: [
      { at: T0, kind: 'accepted', code: 250, outcome: 'accepted' },
      { at: T0 + MIN, kind: 'rate', code: 421, enhanced: '4.7.0', outcome: 'deferred', contains: '[TSS04]' },
    ],
  },
  {
    name: 'Microsoft rate limit text',
    provider: quiet(PROFILES.microsoft!, { hourlyLimit: { start: 1, max: 10 } }),
    steps: [
      { at: T0, kind: 'accepted', code: 250, outcome: 'accepted' },
      { at: T0 + MIN, kind: 'rate', code: 451, enhanced: '4.7.650', outcome: 'deferred', contains: '(S775)' },
    ],
  },
  {
    name: 'a new IP/recipient pair is greylisted, refused again before the delay, accepted after it',
    provider: quiet(PROFILES.default!, { greylist: { share: 1, delayMs: 5 * MIN } }),
    steps: [
      { at: T0, rcpt: 'x@example.org', kind: 'greylist', code: 450, enhanced: '4.2.0', outcome: 'deferred', mailbox: false, contains: 'Greylisted' },
      { at: T0 + 2 * MIN, rcpt: 'x@example.org', kind: 'greylist', code: 450, enhanced: '4.2.0', outcome: 'deferred' },
      { at: T0 + 6 * MIN, rcpt: 'x@example.org', kind: 'accepted', code: 250, outcome: 'accepted' },
      // Once passed, the pair stays whitelisted; another IP is a new pair.
      { at: T0 + 7 * MIN, rcpt: 'x@example.org', kind: 'accepted', code: 250, outcome: 'accepted' },
      { at: T0 + 7 * MIN, ip: '127.0.0.122', rcpt: 'x@example.org', kind: 'greylist', code: 450, enhanced: '4.2.0', outcome: 'deferred' },
    ],
  },
  {
    name: 'one mailbox over its hourly limit gets Gmail 450 4.2.1, a mailbox signal',
    provider: quiet(PROFILES.gmail!, { mailboxPerHour: 2 }),
    steps: [
      { at: T0, rcpt: 'seed@gmail.com', kind: 'accepted', code: 250, outcome: 'accepted' },
      { at: T0 + MIN, rcpt: 'seed@gmail.com', kind: 'accepted', code: 250, outcome: 'accepted' },
      { at: T0 + 2 * MIN, rcpt: 'seed@gmail.com', kind: 'mailbox', code: 450, enhanced: '4.2.1', outcome: 'deferred', mailbox: true, contains: 'receiving mail at a rate' },
      { at: T0 + 2 * MIN, rcpt: 'other@gmail.com', kind: 'accepted', code: 250, outcome: 'accepted' },
    ],
  },
  {
    name: 'an IP that ignores deferrals until its reputation is below block_below is blocked with a 5xx',
    provider: quiet(PROFILES.microsoft!, { hourlyLimit: { start: 1, max: 1 }, blockBelow: 0.5, reputation: { start: 0.6, volume: 100, ignoredPenalty: 0.9 } }),
    steps: [
      { at: T0, kind: 'accepted', code: 250, outcome: 'accepted' },
      { at: T0 + MIN, kind: 'rate', code: 451, outcome: 'deferred' },
      { at: T0 + 2 * MIN, kind: 'throttled', code: 451, outcome: 'deferred' },
      { at: T0 + 3 * MIN, kind: 'block', code: 550, enhanced: '5.7.1', outcome: 'bounced', contains: '(S3150)' },
    ],
  },
];

describe('modelled receivers', () => {
  for (const c of cases) {
    it(c.name, () => {
      const rx = new ModelledReceivers(new Map([['p', c.provider]]), 42);
      for (const [i, s] of c.steps.entries()) {
        const a = rx.answer({ provider: 'p', ip: s.ip ?? '127.0.0.121', recipient: s.rcpt ?? `r${i}@example.org`, now: s.at });
        const cl = classifyAttempt({ reply: a.reply, stage: a.stage });
        expect({ step: i, kind: a.kind, code: cl.code, outcome: cl.outcome }).toEqual({ step: i, kind: s.kind, code: s.code, outcome: s.outcome });
        if (s.enhanced) expect(cl.enhanced).toBe(s.enhanced);
        if (s.mailbox !== undefined) expect(cl.mailboxSignal).toBe(s.mailbox);
        if (s.contains) expect(cl.text).toContain(s.contains);
      }
    });
  }

  it('reputation grows with accepted mail and falls when deferrals are ignored', () => {
    const p = quiet(PROFILES.gmail!, { hourlyLimit: { start: 5, max: 500 }, reputation: { start: 0, volume: 50, ignoredPenalty: 0.5 } });
    const rx = new ModelledReceivers(new Map([['gmail', p]]), 1);
    for (let i = 0; i < 5; i++) rx.answer({ provider: 'gmail', ip: '127.0.0.121', recipient: `r${i}@gmail.com`, now: T0 + i * 1000 });
    const grown = rx.standings()[0]!;
    expect(grown.reputation).toBeGreaterThan(0);
    expect(grown.hourlyLimit).toBeGreaterThan(5);
    // Over the limit at T0+3h: rate-limited, then two attempts during the cooldown.
    // A later hour: filled up to its limit until the first rate deferral.
    const hour = T0 + 3 * 3_600_000;
    let kind = 'accepted';
    for (let i = 0; i < 1000 && kind === 'accepted'; i++) kind = rx.answer({ provider: 'gmail', ip: '127.0.0.121', recipient: `s${i}@gmail.com`, now: hour + i }).kind;
    expect(kind).toBe('rate');
    const before = rx.standings()[0]!.reputation;
    expect(rx.answer({ provider: 'gmail', ip: '127.0.0.121', recipient: 'x@gmail.com', now: hour + 2000 }).kind).toBe('throttled');
    const after = rx.standings()[0]!;
    expect(after.ignored).toBe(1);
    expect(after.accepted).toBeGreaterThan(grown.accepted);
    expect(after.reputation).toBeLessThan(before);
  });

  it('gives the same answers for the same seed and different ones for another', () => {
    const p = model(PROFILES.default!, { randomDeferral: 0.3, greylist: { share: 0.3, delayMs: 0 } });
    const run = (seed: number) => {
      const rx = new ModelledReceivers(new Map([['p', p]]), seed);
      return Array.from({ length: 200 }, (_, i) => {
        const a = rx.answer({ provider: 'p', ip: '127.0.0.121', recipient: `r${i % 17}@example.org`, now: T0 + i * 1000 });
        return `${a.kind}:${a.latencyMs}`;
      }).join(',');
    };
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
  });

  it.each([
    ['gmail', ['gmail.com'], 'gmail'],
    ['outlook', ['outlook.com'], 'microsoft'],
    ['hotmail', [], 'microsoft'],
    ['icloud', ['icloud.com'], 'apple'],
    ['consumer', ['googlemail.com'], 'gmail'],
    ['aol', ['aol.com'], 'yahoo'],
    ['docomo', ['docomo.ne.jp'], 'docomo'],
    ['carrier', ['ezweb.ne.jp'], 'au'],
    ['jp', ['yahoo.co.jp'], 'yahoo-japan'],
    ['mine', ['example.com'], 'default'],
  ] as const)('plan provider %s with domains %j uses the %s profile', (name, domains, profile) => {
    expect(profileFor(name, domains)).toBe(profile);
  });
});
