import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { FIT_MARGIN, fitPlan, projectLane } from '../../src/policy/fit.js';
import { defaultModels } from '../../src/simulate/model-file.js';
import { PROFILES } from '../../src/simulate/profiles.js';

const seeds = (domain: string, n: number) => `[${Array.from({ length: n }, (_, i) => `s${i}@${domain}`).join(', ')}]`;

/** A two-IP plan over two weeks; `top` adds top-level keys, `gmail` and `yahoo` the providers' own keys. */
function plan(o: { start?: string; top?: string; gmail?: string; yahoo?: string; gmailSeeds?: number } = {}): Plan {
  const text = `name: fit
timezone: Europe/Paris
start: ${o.start ?? '2026-12-01'}
launch: 2026-12-15
sender:
  from: { address: hello@news.example.com }
  unsubscribe: { url: "https://news.example.com/u" }
ips:
  - { address: 127.0.0.2, ehlo: a.example.com }
  - { address: 127.0.0.3, ehlo: b.example.com }
${o.top ?? 'launch_volume: 3000\nshare: { gmail: 0.3, yahoo: 0.7 }\n'}providers:
  gmail: { seeds: ${seeds('gmail.com', o.gmailSeeds ?? 20)}${o.gmail ?? ''} }
  yahoo: { seeds: ${seeds('yahoo.com', 20)}${o.yahoo ?? ''} }
`;
  const r = loadPlan(text, { env: {} });
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  return r.plan;
}
const fit = (p: Plan) => fitPlan(p, defaultModels(p));

describe('warmup plan --fit', () => {
  it('calls a plan ready when every lane reaches its launch target under the modelled limits, with its slack', () => {
    const f = fit(plan({ top: 'launch_volume: 1500\nshare: { gmail: 0.3, yahoo: 0.7 }\n' }));
    expect(f.ready).toBe(true);
    // Derived ramps reach their part 3 sending days early; Yahoo's stray [TSS04] suspensions are expected to cost a day.
    expect(f.lanes.map((l) => [l.ip, l.provider, l.ready, l.launchTarget, l.reachable, l.setbacks, l.slackDays])).toEqual([
      ['127.0.0.2', 'gmail', true, 450, 450, 0, 3], ['127.0.0.2', 'yahoo', true, 1050, 1050, 1, 2],
      ['127.0.0.3', 'gmail', true, 450, 450, 0, 3], ['127.0.0.3', 'yahoo', true, 1050, 1050, 1, 2],
    ]);
    // Ready as written: the latest start that still works is on or after the plan's start.
    expect(f.earliestStart! >= '2026-12-01').toBe(true);
  });

  it('says what to change for a lane that cannot be ready, and each piece of advice makes it ready', () => {
    const f = fit(plan({ top: 'launch_volume: 4000\nshare: { gmail: 0.5, yahoo: 0.5 }\n' }));
    expect(f.ready).toBe(false);
    const gmail = f.lanes.find((l) => l.provider === 'gmail')!;
    expect(gmail).toMatchObject({ ready: false, launchTarget: 2000 });
    expect(gmail.reachable).toBeLessThan(2000);
    expect(gmail.advice[0]).toMatch(/^on 2026-12-\d\d it needs \d+\/h, more than 80% of the \d+\/h gmail is modelled to take from this IP then$/);
    expect(f.earliestStart! < '2026-12-01').toBe(true);
    expect(f.advice).toEqual(expect.arrayContaining([`start: ${f.earliestStart} (or earlier) instead of 2026-12-01`, expect.stringMatching(/^or keep the dates and the shares and set launch_volume to at most [\d,]+ per IP$/)]));
    // Following the advice: the earliest start, or the launch volume it can carry.
    expect(fit(plan({ start: f.earliestStart!, top: 'launch_volume: 4000\nshare: { gmail: 0.5, yahoo: 0.5 }\n' })).ready).toBe(true);
    const volume = Number(/at most ([\d,]+) per IP/.exec(f.advice.at(-1)!)![1]!.replaceAll(',', ''));
    expect(fit(plan({ top: `launch_volume: ${volume}\nshare: { gmail: 0.5, yahoo: 0.5 }\n` })).ready).toBe(true);
    expect(fit(plan({ top: `launch_volume: ${volume + 50}\nshare: { gmail: 0.5, yahoo: 0.5 }\n` })).ready).toBe(false);
  });

  it('flags a reach curve that lands on launch day: no room for a single hold', () => {
    const f = fit(plan({ top: 'ramps:\n  default: { start: 30, reach: 300 }\n' }));
    const gmail = f.lanes.filter((l) => l.provider === 'gmail');
    expect(gmail.map((l) => [l.ready, l.slackDays])).toEqual([[true, 0], [true, 0]]);
    expect(gmail[0]!.advice).toEqual([expect.stringMatching(/^no room for a single hold/)]);
    // Yahoo's lanes are expected to lose a day to a stray suspension: with no slack they miss launch.
    expect(f.lanes.filter((l) => l.provider === 'yahoo').map((l) => [l.ready, l.reachable < l.launchTarget])).toEqual([[false, true], [false, true]]);
  });

  it('counts the mailboxes a provider needs at its launch-day hourly volume', () => {
    const f = fit(plan({ gmailSeeds: 1, top: 'launch_volume: 1500\nshare: { gmail: 0.3, yahoo: 0.7 }\n' }));
    // 2 IPs x 450 over 12 hours = 75 an hour; Gmail's modelled 60 per mailbox per hour with the margin: 2 mailboxes.
    expect(f.mailboxes.gmail).toEqual({ have: 1, needed: Math.ceil(75 / (FIT_MARGIN * 60)), perHour: 75 });
    expect(f.ready).toBe(false);
    expect(f.lanes.find((l) => l.provider === 'gmail')!.advice).toEqual(['gmail needs at least 2 mailboxes (seeds + opt-in) for its launch-day volume; it has 1']);
    expect(f.advice).toEqual(expect.arrayContaining(['providers.gmail: at least 2 seeds + opt-in recipients (has 1)']));
  });

  it('finds the steepest growth a written curve may have when it grows faster than the provider allows', () => {
    const f = fit(plan({ top: 'ramps:\n  default: { start: 50, growth: 1.9, cap: 3000 }\n' }));
    const gmail = f.lanes.find((l) => l.provider === 'gmail')!;
    expect(gmail.ready).toBe(false);
    expect(gmail.advice.at(-1)).toMatch(/^or grow at most 1\.\d\dx a day: it then reaches [\d,]+ by launch$/);
  });

  it.each([
    // A first day over 12 hours against Gmail's modelled 10/h for a new IP, with the 0.8 margin: 8/h.
    [84, false], [96, false], [108, true], [120, true],
  ] as const)('a first day of %i messages is tight: %s', (volume, tight) => {
    const p = plan();
    const r = projectLane(p, '2026-12-14', { kind: 'daily', name: 'x', daily: [volume] }, PROFILES.gmail!, p.policy.thresholds, 100);
    expect(r.firstTight !== null).toBe(tight);
    if (tight) expect(r.firstTight).toEqual({ date: '2026-12-14', perHour: volume / 12, allowed: 10 });
  });
});
