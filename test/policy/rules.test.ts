import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { BUILTIN_RULE_SPECS } from '../../src/policy/builtin-rules.js';
import { effectiveRules, RuleEngine, type Observation } from '../../src/policy/rules.js';
import { classifyAttempt } from '../../src/send/classify.js';
import { fixtureDir, validText } from '../plan/helpers.js';

const T0 = Date.parse('2026-12-02T10:00:00Z');
const H = 3_600_000;

function plan(extra = ''): Plan {
  const text = validText
    .replace('    domains: [gmail.com]', '    domains: [gmail.com, googlemail.com]\n    mx_suffixes: [.google.com]')
    .replace('    domains: [yahoo.com]', '    domains: [yahoo.com]\n    mx_suffixes: [.yahoodns.net]') + extra;
  const r = loadPlan(text, { file: `${fixtureDir}plan.yaml` });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.plan;
}

/** The one-line text the classifier makes of a raw reply, as rules see it. */
function lineOf(sample: string): { text: string; outcome: string; mailboxSignal: boolean } {
  const c = sample.startsWith('ECONNRESET')
    ? classifyAttempt({ error: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), stage: 'greeting' })
    : classifyAttempt({ reply: sample, stage: 'rcpt' });
  return { text: c.text, outcome: c.outcome, mailboxSignal: c.mailboxSignal ?? false };
}

describe('the built-in rule pack', () => {
  it.each(BUILTIN_RULE_SPECS.map((s) => [s.name, s] as const))('%s matches its sample reply', (_name, spec) => {
    expect(new RegExp(spec.match, 'i').test(lineOf(spec.sample).text)).toBe(true);
  });

  it('no rule matches a plain acceptance or a greylisting answer', () => {
    for (const reply of ['250 2.0.0 Ok: queued as 4F1B2', '450 4.2.0 <a@b.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/b.test.html']) {
      expect(BUILTIN_RULE_SPECS.filter((s) => new RegExp(s.match, 'i').test(lineOf(reply).text)).map((s) => s.name)).toEqual([]);
    }
  });

  it('binds family rules to the plan providers of that family', () => {
    const rules = effectiveRules(plan());
    expect(rules.filter((r) => r.name === 'gmail-rate-limited').map((r) => r.provider)).toEqual(['gmail']);
    expect(rules.filter((r) => r.name === 'yahoo-tss04').map((r) => r.provider)).toEqual(['yahoo']);
    // No Microsoft provider in this plan: the rule watches every provider.
    expect(rules.filter((r) => r.name === 'microsoft-blocklisted').map((r) => r.provider)).toEqual([null]);
  });

  it('lets a plan switch a rule off, replace it by name, and add its own', () => {
    const rules = effectiveRules(plan(`policy:
  disable_rules: [yahoo-tss04]
  rules:
    - { name: gmail-rate-limited, match: "4\\\\.7\\\\.28", action: suspend, duration: 30m }
    - { name: my-rule, provider: yahoo, match: "TS99", trigger: 2/1h, action: pause_ip }
`));
    expect(rules.some((r) => r.name === 'yahoo-tss04')).toBe(false);
    expect(rules.filter((r) => r.name === 'gmail-rate-limited')).toEqual([expect.objectContaining({ action: 'suspend', durationMs: 30 * 60_000, provider: null })]);
    expect(rules.find((r) => r.name === 'my-rule')).toMatchObject({ provider: 'yahoo', trigger: { count: 2, windowMs: H } });
  });
});

describe('RuleEngine', () => {
  const p = plan(`policy:
  rules:
    - { name: two-strikes, provider: yahoo, match: "TS99", trigger: 2/1h, action: pause_ip }
`);
  const obs = (provider: string, reply: string, ip = '127.0.0.2', recipient = 'a@x.test'): Observation => ({ ip, provider, recipient, ...lineOf(reply) });
  const sample = (name: string) => BUILTIN_RULE_SPECS.find((s) => s.name === name)!.sample;

  it.each([
    ['gmail', 'gmail-rate-limited', { action: 'cut_rate', scope: { ip: '127.0.0.2', provider: 'gmail' }, factor: 0.5, until: T0 + 2 * H }],
    ['gmail', 'gmail-domain-reputation', { action: 'pause_provider', scope: { provider: 'gmail' }, until: T0 + 6 * H }],
    ['gmail', 'gmail-mailbox-rate', { action: 'slow_mailbox', mailbox: 'a@x.test', until: T0 + H }],
    ['gmail', 'gmail-blocked', { action: 'pause', scope: { ip: '127.0.0.2', provider: 'gmail' }, until: null }],
    ['gmail', 'gmail-unauthenticated', { action: 'stop_all', scope: {}, until: null }],
    ['yahoo', 'yahoo-tss04', { action: 'suspend', until: T0 + 2 * H }],
    ['yahoo', 'yahoo-blocklisted', { action: 'pause_ip', scope: { ip: '127.0.0.2' } }],
  ])('%s answering like %s fires %o', (provider, name, expected) => {
    const engine = new RuleEngine(effectiveRules(p), p.policy.breaker);
    const actions = engine.observe(obs(provider, sample(name)), T0);
    expect(actions).toEqual([expect.objectContaining({ rule: name, ...expected })]);
  });

  it('a rule bound to one provider ignores the same text from another', () => {
    const engine = new RuleEngine(effectiveRules(p), p.policy.breaker);
    expect(engine.observe(obs('yahoo', sample('gmail-rate-limited')), T0)).toEqual([]);
  });

  it('a threshold trigger fires on the Nth match within its window only', () => {
    const engine = new RuleEngine(effectiveRules(p), p.policy.breaker);
    const reply = '421 4.7.0 [TS99] try later';
    expect(engine.observe(obs('yahoo', reply), T0)).toEqual([]);
    expect(engine.observe(obs('yahoo', reply), T0 + 2 * H)).toEqual([]); // the first one has left the window
    expect(engine.observe(obs('yahoo', reply), T0 + 2.5 * H)).toEqual([expect.objectContaining({ rule: 'two-strikes', action: 'pause_ip' })]);
  });

  it('does not fire again while the effect lasts, and does after it lapses', () => {
    const engine = new RuleEngine(effectiveRules(p), p.policy.breaker);
    const reply = sample('yahoo-tss04');
    expect(engine.observe(obs('yahoo', reply), T0)).toHaveLength(1);
    expect(engine.observe(obs('yahoo', reply), T0 + H)).toEqual([]);
    expect(engine.observe(obs('yahoo', reply), T0 + 2 * H + 1)).toHaveLength(1);
  });

  it('forgets a resumed lane: a rule muted by its earlier firing fires again, other lanes stay muted', () => {
    const engine = new RuleEngine(effectiveRules(p), p.policy.breaker);
    const reply = sample('yahoo-tss04');
    expect(engine.observe(obs('yahoo', reply), T0)).toHaveLength(1);
    expect(engine.observe(obs('yahoo', reply, '127.0.0.3'), T0)).toHaveLength(1);
    expect(engine.observe(obs('yahoo', reply), T0 + H)).toEqual([]);
    engine.forget({ ip: '127.0.0.2', provider: 'yahoo' });
    expect(engine.observe(obs('yahoo', reply), T0 + H)).toHaveLength(1);
    expect(engine.observe(obs('yahoo', reply, '127.0.0.3'), T0 + H)).toEqual([]);
    // A provider-wide action covers the lane too.
    const gmail = sample('gmail-domain-reputation');
    expect(engine.observe(obs('gmail', gmail, '127.0.0.4'), T0)).toHaveLength(1);
    expect(engine.observe(obs('gmail', gmail), T0 + H)).toEqual([]);
    engine.forget({ ip: '127.0.0.2', provider: 'gmail' });
    expect(engine.observe(obs('gmail', gmail), T0 + H)).toEqual([expect.objectContaining({ action: 'pause_provider', scope: { provider: 'gmail' } })]);
  });

  it('the circuit breaker suspends a lane whose deferral rate is too high where no rule matches', () => {
    const engine = new RuleEngine(effectiveRules(p), p.policy.breaker);
    const fired = [];
    for (let i = 0; i < 20; i++) fired.push(...engine.observe(obs('yahoo', i % 4 === 0 ? '250 2.0.0 Ok' : '451 4.3.0 Temporary local problem', '127.0.0.3'), T0 + i * 60_000));
    expect(fired).toEqual([expect.objectContaining({ rule: 'circuit-breaker', action: 'suspend', scope: { ip: '127.0.0.3', provider: 'yahoo' }, until: T0 + 19 * 60_000 + H })]);
    expect(fired[0]!.reply).toMatch(/^deferral rate 75%/);
  });

  it('per-mailbox answers slow the mailbox and never trip the breaker', () => {
    const engine = new RuleEngine(effectiveRules(p), p.policy.breaker);
    const fired = [];
    for (let i = 0; i < 30; i++) fired.push(...engine.observe(obs('gmail', sample('gmail-mailbox-rate'), '127.0.0.4', `s${i % 3}@gmail.com`), T0 + i * 1000));
    expect(fired.map((a) => a.action)).toEqual(['slow_mailbox', 'slow_mailbox', 'slow_mailbox']);
    expect(fired.map((a) => a.mailbox)).toEqual(['s0@gmail.com', 's1@gmail.com', 's2@gmail.com']);
  });
});
