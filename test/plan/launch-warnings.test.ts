import { describe, expect, it } from 'vitest';
import { formatIssue, loadPlan } from '../../src/plan/load.js';

const seeds = (domain: string) => `[${Array.from({ length: 40 }, (_, i) => `s${i}@${domain}`).join(', ')}]`;
function text(o: { launch?: string; top?: string; gmailSeeds?: string; window?: string } = {}): string {
  return `name: w
timezone: Europe/Paris
start: 2026-12-01
launch: ${o.launch ?? '2026-12-15'}
window: ${o.window ?? '{ start: "08:00", end: "20:00" }'}
sender:
  from: { address: hello@news.example.com }
  unsubscribe: { url: "https://news.example.com/u" }
ips:
  - { address: 127.0.0.2, ehlo: a.example.com }
${o.top ?? 'launch_volume: 1000\nshare: { gmail: 0.5, yahoo: 0.5 }\n'}providers:
  gmail: { seeds: ${o.gmailSeeds ?? seeds('gmail.com')} }
  yahoo: { seeds: ${seeds('yahoo.com')} }
`;
}
const warnings = (t: string) => {
  const r = loadPlan(t, { env: {}, file: '/p/w.yaml' });
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.warnings.map((w) => formatIssue('w.yaml', w));
};

describe('validate warns about launch day', () => {
  it('says nothing about a plain two-week plan', () => {
    expect(warnings(text())).toEqual([]);
  });

  it.each([
    ['a plan longer than 90 days', text({ launch: '2027-03-15' }), /launch: the plan runs 104 days from start to launch \(more than 90\)/],
    ['a reach curve growing faster than 2x a day', text({ top: 'ramps:\n  default: { start: 10, reach: 1000000 }\n' }), /ramps\.default\.reach: needs growth 2\.\d\dx a day to reach 1000000 from 10 in 14 sending days: faster than 2x a day/],
    ['derived ramps growing faster than 2x a day', text({ top: 'launch_volume: 400000\nshare: { gmail: 0.5, yahoo: 0.5 }\n' }), /share\.gmail: the ramps derived for gmail grow faster than 2x a day/],
    ['a ramp that is zero on launch day', text({ top: 'launch_volume: 1000\nshare: { gmail: 0, yahoo: 1 }\n' }), /providers\.gmail: its ramp is zero on launch day for every IP/],
    ['a launch-day volume no provider takes from one IP', text({ top: 'launch_volume: 20000\nshare: { gmail: 0.5, yahoo: 0.5 }\n' }), /providers\.gmail: 10,000 messages from one IP \(127\.0\.0\.2\) on launch day is more than gmail takes from one IP even at full reputation: about 6,000 in the 12-hour window \(500\/h, an estimate\)/],
    ['a seed on another provider\'s domain', text({ gmailSeeds: '[a@gmail.com, b@yahoo.com, c@hotmail.com, d@example.org]' }), /providers\.gmail: seeds on another provider's domain warm that provider, not this one: b@yahoo\.com \(yahoo\.com is yahoo's\), c@hotmail\.com \(hotmail\.com is outlook's\)$/],
  ] as const)('warns about %s', (_what, t, message) => {
    expect(warnings(t)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });
});
