import { describe, expect, it } from 'vitest';
import { formatIssue, loadPlan } from '../../src/plan/load.js';
import { laneRamp, stageVolume } from '../../src/schedule/ramp.js';
import { fixtureDir, mutate } from './helpers.js';

const file = `${fixtureDir}plan.yaml`;
const load = (text: string) => loadPlan(text, { file, env: {} });
const issuesOf = (text: string) => {
  const r = load(text);
  return [...(r.ok ? [] : r.errors), ...r.warnings].map((e) => formatIssue(file, e));
};
// The fixture: 2026-12-01 -> 2026-12-08 without Sundays: 6 sending days, launch is stage 7.
const RAMPS = '  flat: { daily: [5, 10, 20] }\n';
const GMAIL_RAMP = '    ramp: flat\n';
const withVolume = (top: string, gmail = '') => mutate(GMAIL_RAMP, gmail).replace('providers:\n', `${top}providers:\n`);

describe('launch_volume and share derive the lane ramps', () => {
  it('gives each lane launch_volume x share on launch day, reached launch_slack sending days early', () => {
    const r = load(withVolume('launch_volume: 1000\nshare: { gmail: 0.6, yahoo: 0.4 }\n'));
    if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
    const [ip] = r.plan.ips;
    const gmail = laneRamp(ip!, r.plan.providers.find((p) => p.name === 'gmail')!);
    const yahoo = laneRamp(ip!, r.plan.providers.find((p) => p.name === 'yahoo')!);
    // ramps.default.start (10) is the first day; the curve reaches its part at stage 7 - 3 = 4.
    expect([1, 2, 3, 4, 7].map((s) => stageVolume(gmail, s))).toEqual([10, Math.round(10 * 60 ** (1 / 3)), Math.round(10 * 60 ** (2 / 3)), 600, 600]);
    expect(stageVolume(yahoo, 7)).toBe(400);
    expect(gmail).toMatchObject({ kind: 'curve', cap: 600, reach: { volume: 600, slack: 3 } });
  });

  it('an IP gives its own launch_volume; launch_slack: 0 lands on launch day', () => {
    const r = load(withVolume('launch_volume: 1000\nlaunch_slack: 0\nshare: { gmail: 0.5, yahoo: 0.5 }\n').replace('    ehlo: mta2.example.com\n', '    ehlo: mta2.example.com\n    launch_volume: 200\n'));
    if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
    const gmail = r.plan.providers.find((p) => p.name === 'gmail')!;
    expect(r.plan.ips.map((ip) => [ip.address, stageVolume(laneRamp(ip, gmail), 6), stageVolume(laneRamp(ip, gmail), 7)])).toEqual([
      ['127.0.0.2', expect.any(Number), 100], ['127.0.0.10', expect.any(Number), 500], ['127.0.0.11', expect.any(Number), 500], ['127.0.0.12', expect.any(Number), 500],
    ]);
    expect(stageVolume(laneRamp(r.plan.ips[0]!, gmail), 6)).toBeLessThan(100);
  });

  it.each([
    ['a share for an unknown provider', withVolume('launch_volume: 1000\nshare: { gmail: 0.5, hotmail: 0.5 }\n'), /share\.hotmail: no provider named "hotmail"/],
    ['shares above 1', withVolume('launch_volume: 1000\nshare: { gmail: 0.7, yahoo: 0.4 }\n'), /share: the shares add up to 1\.1: at most 1/],
    ['a share without launch_volume', withVolume('share: { gmail: 1 }\n'), /share: needs launch_volume/],
    ['launch_volume without share', withVolume('launch_volume: 1000\n'), /launch_volume: needs share/],
    ['a share and a ramp for one provider', withVolume('launch_volume: 1000\nshare: { gmail: 1 }\n', GMAIL_RAMP), /providers\.gmail\.ramp: give a share or a ramp, not both/],
    ['an IP with launch_volume and ramp', withVolume('share: { gmail: 1 }\n').replace('    ehlo: mta2.example.com\n', '    ehlo: mta2.example.com\n    launch_volume: 10\n    ramp: flat\n'), /ips\[0\]\.launch_volume: give launch_volume or ramp, not both/],
    ['shares under 1 (a warning)', withVolume('launch_volume: 1000\nshare: { gmail: 0.5, yahoo: 0.3 }\n'), /warning: share: the shares add up to 0\.8: 20% of the launch volume goes to no provider/],
  ] as const)('reports %s', (_what, text, message) => {
    expect(text).toContain(RAMPS);
    expect(issuesOf(text)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });
});
