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
function lineOf(sample: string): Omit<Observation, 'ip' | 'provider' | 'recipient'> {
  const c = sample.startsWith('ECONNRESET')
    ? classifyAttempt({ error: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), stage: 'greeting' })
    : classifyAttempt({ reply: sample, stage: 'rcpt' });
  return { text: c.text, outcome: c.outcome, mailboxSignal: c.mailboxSignal ?? false, code: c.code, enhanced: c.enhanced, greylisting: c.greylisting ?? null, rejection: c.rejection ?? null };
}

/** The built-in rules whose pattern matches a raw reply. */
function matching(reply: string): string[] {
  return BUILTIN_RULE_SPECS.filter((s) => new RegExp(s.match, 'i').test(lineOf(reply).text)).map((s) => s.name);
}

describe('the built-in rule pack', () => {
  it.each(BUILTIN_RULE_SPECS.map((s) => [s.name, s] as const))('%s matches its sample reply', (_name, spec) => {
    expect(new RegExp(spec.match, 'i').test(lineOf(spec.sample).text)).toBe(true);
  });

  it('no rule matches a plain acceptance or a greylisting answer', () => {
    for (const reply of ['250 2.0.0 Ok: queued as 4F1B2', '450 4.2.0 <a@b.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/b.test.html']) {
      expect(matching(reply)).toEqual([]);
    }
  });

  // The common 5xx reputation replies (shared/reference/deliverability.md), as receivers send them.
  it.each([
    ['Microsoft S3150', "550 5.7.1 Unfortunately, messages from [203.0.113.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [AM4PEPF00027A60.eurprd04.prod.outlook.com 2025-03-04T10:11:12.345Z 08DD5A1B2C3D4E60]", ['microsoft-blocklisted']],
    ['Microsoft S3140', "550 5.7.1 Unfortunately, messages from [203.0.113.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.", ['microsoft-range-blocklisted']],
    ['Gmail 550 5.7.1 block (multi-line)', '550-5.7.1 [203.0.113.10      12] Our system has detected an unusual rate of\r\n550-5.7.1 unsolicited mail originating from your IP address. To protect our\r\n550-5.7.1 users from spam, mail sent from your IP address has been blocked.\r\n550 5.7.1 Please visit https://support.google.com/mail/?p=UnsolicitedIPError a640c23a62f3a-ad8a1b2c3d4si12345666b.210 - gsmtp', ['gmail-blocked', 'generic-blocked']],
    ['Gmail 550 5.7.26 unauthenticated', '550-5.7.26 This mail has been blocked because the sender is unauthenticated.\r\n550-5.7.26 This message does not have authentication information or fails to\r\n550 5.7.26 pass authentication checks. 6a1803df08f44-6fb0a1b2c3dsi1234567d6.123 - gsmtp', ['gmail-unauthenticated', 'generic-blocked']],
    ['Yahoo 554 5.7.9 policy', '554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes', ['yahoo-policy-rejected']],
    ['Postfix access map: poor IP reputation', '554 5.7.1 <unknown[127.0.0.11]>: Client host rejected: Rejected: poor IP reputation', ['generic-poor-reputation']],
    ['Proofpoint bad reputation', '554 5.7.1 Service unavailable; client [203.0.113.10] blocked using Proofpoint bad reputation list', ['generic-poor-reputation', 'generic-blocked']],
    ['Postfix reject_rbl_client', '554 5.7.1 Service unavailable; Client host [203.0.113.10] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.10', ['generic-blocked']],
    ['Exim DNSBL listed', '550 Rejected because 203.0.113.10 is listed at bl.spamcop.net', ['generic-listed']],
    ['Cloudmark listed', '550 5.7.1 Your IP address 203.0.113.10 has been listed by Cloudmark (CSI)', ['generic-listed']],
    ['GMX block listed', '554-gmx.net (mxgmx017) Nemesis ESMTP Service not available\r\n554-No SMTP service\r\n554-IP address is block listed.\r\n554 For explanation visit https://postmaster.gmx.net/en/case?c=r0601', ['gmx-policy', 'generic-blocked']],
  ])('%s is matched by %o', (_name, reply, rules) => {
    expect(matching(reply)).toEqual(rules);
  });

  it.each([
    ['a 4xx deferral that mentions a block', '421 4.7.0 [TSS04] Messages from 203.0.113.10 temporarily deferred due to unexpected volume or user complaints'],
    ['an unknown user (list hygiene)', '550 5.1.1 <gone@example.test>: Recipient address rejected: User unknown; mailbox blocked'],
    ['a mailbox full', '552 5.2.2 <full@example.test>: Mailbox full'],
    ['a content rejection', '550 5.7.1 Message rejected as spam by Content Filtering.'],
    ["Postfix's per-client rate limit", '450 4.7.1 Error: too much mail from 127.0.0.2'],
  ])('no generic rule matches %s', (_name, reply) => {
    expect(matching(reply).filter((n) => n.startsWith('generic-'))).toEqual([]);
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
    expect(fired[0]!.reply).toMatch(/^deferral rate 75% over the last window; 15x 451 4\.3\.0 Temporary local problem$/);
    expect(fired[0]!.evidence).toEqual([{ reply: '451 4.3.0 Temporary local problem', code: 451, enhanced: '4.3.0', count: 15 }]);
  });

  it('greylisting never trips the deferral breaker', () => {
    const engine = new RuleEngine(effectiveRules(p), p.policy.breaker);
    const grey = '450 4.2.0 <a@x.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/x.test.html';
    const fired = [];
    for (let i = 0; i < 40; i++) fired.push(...engine.observe(obs('yahoo', i % 4 === 0 ? '250 2.0.0 Ok' : grey, '127.0.0.3'), T0 + i * 60_000));
    expect(fired).toEqual([]);
  });

  it('a rule action names the lane\'s replies behind it', () => {
    const engine = new RuleEngine(effectiveRules(p), p.policy.breaker);
    engine.observe(obs('yahoo', '421 4.7.0 [TS99] try later', '127.0.0.5'), T0);
    engine.observe(obs('yahoo', '250 2.0.0 Ok', '127.0.0.5'), T0 + 1000);
    const [a] = engine.observe(obs('yahoo', '421 4.7.0 [TS99] try later', '127.0.0.5'), T0 + 2000);
    expect(a).toMatchObject({ rule: 'two-strikes', evidence: [{ reply: '421 4.7.0 [TS99] try later', code: 421, enhanced: '4.7.0', count: 2 }] });
  });

  it('a reply two rules hold the lane for holds it once', () => {
    const engine = new RuleEngine(effectiveRules(p), p.policy.breaker);
    const reply = '554 5.7.1 Service unavailable; client [127.0.0.6] blocked using Proofpoint bad reputation list';
    const fired = [0, 1, 2].flatMap((i) => engine.observe(obs('yahoo', reply, '127.0.0.6'), T0 + i * 1000));
    expect(fired.map((a) => a.rule)).toEqual(['generic-poor-reputation']);
  });

  it('per-mailbox answers slow the mailbox and never trip the breaker', () => {
    const engine = new RuleEngine(effectiveRules(p), p.policy.breaker);
    const fired = [];
    for (let i = 0; i < 30; i++) fired.push(...engine.observe(obs('gmail', sample('gmail-mailbox-rate'), '127.0.0.4', `s${i % 3}@gmail.com`), T0 + i * 1000));
    expect(fired.map((a) => a.action)).toEqual(['slow_mailbox', 'slow_mailbox', 'slow_mailbox']);
    expect(fired.map((a) => a.mailbox)).toEqual(['s0@gmail.com', 's1@gmail.com', 's2@gmail.com']);
  });
});
