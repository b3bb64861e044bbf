/**
 * Plan keys for placement: providers.X.engagement (off by default) next to the
 * seeds' IMAP access.
 */
import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.js';

const planWith = (provider: string) => `name: pl-plan
timezone: UTC
start: 2026-12-01
launch: 2026-12-20
sender:
  from: { address: hello@news.warmup.test }
  unsubscribe: { url: "https://news.warmup.test/u" }
ips:
  - { address: 192.0.2.10, ehlo: mta10.warmup.test }
providers:
  pt:
    domains: [postfix.test]
${provider}
warnings: { ip_peak_per_day: 1 }
`;
const withImap = (extra: string) => planWith(`    seeds: [seed1@postfix.test]
    imap: { host: imap.postfix.test, password_env: SEED_PW }
${extra}`);

describe('providers.X.engagement', () => {
  it.each([
    ['absent', withImap('')],
    ['no action switched on', withImap('    engagement: { share: 1 }')],
  ])('is off when %s', (_name, text) => {
    const r = loadPlan(text);
    expect(r.ok && r.plan.providers[0]!.engagement).toBeNull();
  });

  it('fills defaults for what is not written', () => {
    const r = loadPlan(withImap('    engagement: { move_to_inbox: true }'));
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.plan.providers[0]!.engagement).toEqual({
      markRead: false, moveToInbox: true, flag: false, share: 0.5, delayMs: { min: 600_000, max: 7_200_000 }, maxPerPoll: 10, paceMs: 20_000,
    });
  });

  it.each([
    ['a delay whose min is above its max', withImap('    engagement: { flag: true, delay: { min: 2h, max: 1h } }'), 'providers.pt.engagement.delay', 'min must not be above max'],
    ['seeds without IMAP access', planWith('    seeds: [seed1@postfix.test]\n    engagement: { mark_read: true }'), 'providers.pt.engagement', 'needs IMAP access'],
    ['a share above 1', withImap('    engagement: { flag: true, share: 1.5 }'), 'providers.pt.engagement.share', ''],
    ['an unknown key (no delete action exists)', withImap('    engagement: { delete: true }'), 'providers.pt.engagement.delete', 'unknown key'],
  ])('rejects %s', (_name, text, path, message) => {
    const r = loadPlan(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path, message: expect.stringContaining(message) })]));
  });
});
