/**
 * Lane ramps derived from a launch-day volume per IP and a share per
 * provider: `launch_volume: 50000`, `share: { gmail: 0.45, yahoo: 0.3, ... }`
 * gives each (IP, provider) lane a curve from the provider's suggested first
 * day (catalogue) to `launch_volume x share`, reached `launch_slack` sending
 * days before launch so that the lane can hold that many days and still be
 * ready. Pure.
 */
import { catalogueEntry } from '../catalogue/providers.js';
import { countSendingDays } from '../schedule/ramp.js';
import { DEFAULT_RAMP, DEFAULTS } from './defaults.js';
import type { WrittenPlan } from './schema.js';
import type { PlanIp, Provider, Ramp, Weekday } from './types.js';
import type { KeyPath } from './yaml-locate.js';

type Report = (path: KeyPath, message: string) => void;

/**
 * The growth that takes `start` to `volume` at ramp stage `sendingDays + 1 - slack`
 * (launch day is stage `sendingDays + 1`).
 */
export function reachGrowth(start: number, volume: number, sendingDays: number, slack: number): number {
  return (volume / start) ** (1 / Math.max(1, sendingDays - slack));
}

/**
 * The ramp of a lane with `sendingDays` before launch towards `volume`.
 *
 * @example
 * derivedRamp('gmail@203.0.113.10', 50, 22500, 13, 2) // a curve 50 -> 22,500 reached at stage 12, cap 22,500
 */
export function derivedRamp(name: string, start: number, volume: number, sendingDays: number, slack: number): Ramp {
  const first = Math.min(start, volume);
  return Object.freeze({
    kind: 'curve', name, start: first, cap: volume,
    growth: first >= volume ? 1 : reachGrowth(first, volume, sendingDays, slack),
    reach: Object.freeze({ volume, slack }),
  });
}

/** Checks `share` and returns each IP with its derived lane ramps. */
export function deriveLaneRamps(w: WrittenPlan, ips: readonly PlanIp[], providers: readonly Provider[], skipDays: readonly Weekday[], err: Report, warn: Report): PlanIp[] {
  const share = w.share ?? {};
  const names = new Set(providers.map((p) => p.name));
  let sum = 0;
  for (const [name, s] of Object.entries(share)) {
    if (!Object.hasOwn(w.providers, name)) err(['share', name], `no provider named "${name}" (providers: ${Object.keys(w.providers).join(', ')})`);
    else if (w.providers[name]!.ramp !== undefined) err(['providers', name, 'ramp'], `give a share or a ramp, not both: share.${name} derives this provider's ramp from launch_volume`);
    sum += s;
  }
  const anyVolume = w.launch_volume !== undefined || w.ips.some((i) => i.launch_volume !== undefined);
  if (Object.keys(share).length > 0 && !anyVolume) err(['share'], 'needs launch_volume (messages per IP on launch day) to derive the ramps from');
  if (anyVolume && Object.keys(share).length === 0) err(['launch_volume'], 'needs share: the part of it each provider gets, e.g. share: { gmail: 0.5, yahoo: 0.5 }');
  if (sum > 1 + 1e-9) err(['share'], `the shares add up to ${round(sum)}: at most 1`);
  else if (anyVolume && sum > 0 && sum < 1 - 1e-9) warn(['share'], `the shares add up to ${round(sum)}: ${round((1 - sum) * 100)}% of the launch volume goes to no provider of the plan`);
  const slack = w.launch_slack ?? DEFAULTS.launchSlack;
  const steep = new Set<string>();
  const out = ips.map((ip) => {
    if (ip.launchVolume === null || ip.ramp !== null) return ip;
    const sendingDays = countSendingDays(ip.start, w.launch, skipDays);
    const laneRamps: Record<string, Ramp> = {};
    for (const p of providers) {
      const s = share[p.name];
      if (s === undefined || !names.has(p.name)) continue;
      const volume = Math.round(ip.launchVolume * s);
      const name = `${p.name}@${ip.address}`;
      // A share of 0 means nothing for this provider from this IP (the launch warnings name it).
      if (volume <= 0) { laneRamps[p.name] = Object.freeze({ kind: 'daily', name, daily: Object.freeze([0]) }); continue; }
      const start = w.ramps?.default?.start ?? (p.catalogue ? catalogueEntry(p.catalogue)?.rampStart : undefined) ?? DEFAULT_RAMP.start;
      const ramp = derivedRamp(name, start, volume, sendingDays, slack);
      if (ramp.kind === 'curve' && ramp.growth > 2) steep.add(p.name);
      laneRamps[p.name] = ramp;
    }
    return Object.freeze({ ...ip, laneRamps: Object.freeze(laneRamps) });
  });
  for (const name of steep) {
    warn(['share', name], `the ramps derived for ${name} grow faster than 2x a day to reach their part of launch_volume ${slack} sending days before launch: providers read fast jumps as a spam run; start earlier or lower launch_volume`);
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
