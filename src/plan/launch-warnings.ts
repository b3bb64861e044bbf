/**
 * Warnings about launch day: ramps that are zero on it, lanes asking more of a
 * provider than it takes from one IP, seeds that belong to another provider,
 * and plans too long to be one warm-up. Pure.
 */
import { catalogueForDomain } from '../catalogue/providers.js';
import { laneRamp, launchStage, stageVolume } from '../schedule/ramp.js';
import { defaultModels } from '../simulate/model-file.js';
import type { Plan } from './types.js';
import type { KeyPath } from './yaml-locate.js';

/** Longer than this, a plan is not one warm-up (an IP idle for ~30 days must be warmed again). */
export const MAX_PLAN_DAYS = 90;

export function launchWarnings(plan: Plan, warn: (path: KeyPath, message: string) => void): void {
  const days = Math.round((Date.parse(plan.launch) - Date.parse(plan.start)) / 86_400_000);
  if (days > MAX_PLAN_DAYS) {
    warn(['launch'], `the plan runs ${days} days from start to launch (more than ${MAX_PLAN_DAYS}): warm-ups take 2-6 weeks, and an IP that sends little for weeks cools down; start closer to launch`);
  }
  const hours = (plan.window.end - plan.window.start) / 60;
  const models = defaultModels(plan);
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  for (const provider of plan.providers) {
    const model = models.get(provider.name)!;
    const perIpMax = model.hourlyLimit.max * hours;
    let zero: string[] = [];
    let over: { ip: string; volume: number } | null = null;
    for (const ip of plan.ips) {
      const volume = stageVolume(laneRamp(ip, provider), launchStage(plan, ip.start));
      if (volume === 0) zero = [...zero, ip.address];
      if (volume > perIpMax && (!over || volume > over.volume)) over = { ip: ip.address, volume };
    }
    if (zero.length) warn(['providers', provider.name], `its ramp is zero on launch day for ${zero.length === plan.ips.length ? 'every IP' : zero.join(', ')}: those lanes are not ready for anything`);
    if (over) {
      warn(['providers', provider.name], `${n(over.volume)} messages from one IP (${over.ip}) on launch day is more than ${provider.name} takes from one IP even at full reputation: about ${n(perIpMax)} in the ${n(hours)}-hour window (${n(model.hourlyLimit.max)}/h, an estimate); add IPs, widen the window or lower its share`);
    }
    // A seed on another provider's domain warms the wrong lane.
    const others = new Map(plan.providers.filter((p) => p !== provider).flatMap((p) => p.domains.map((d) => [d, p.name] as const)));
    const strays = new Map<string, string>();
    for (const seed of [...provider.seeds.map((s) => s.address), ...provider.recipients]) {
      const domain = seed.slice(seed.lastIndexOf('@') + 1);
      if (provider.domains.includes(domain) || strays.has(domain)) continue;
      const owner = others.get(domain) ?? catalogueForDomain(domain)?.id;
      if (owner !== undefined && owner !== provider.catalogue && owner !== provider.name) strays.set(domain, `${seed} (${domain} is ${owner}'s)`);
    }
    if (strays.size) warn(['providers', provider.name], `seeds on another provider's domain warm that provider, not this one: ${[...strays.values()].join(', ')}`);
  }
}
