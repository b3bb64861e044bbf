/**
 * Warnings that need the expanded schedule: per-mailbox load and
 * snowshoeing. Pure.
 */
import { previewPlan } from '../schedule/ramp.js';
import { launchWarnings } from './launch-warnings.js';
import type { Plan } from './types.js';
import type { KeyPath } from './yaml-locate.js';

export function scheduleWarnings(plan: Plan, warn: (path: KeyPath, message: string) => void): void {
  launchWarnings(plan, warn);
  const days = previewPlan(plan).filter((d) => !d.launch);
  const peak = days.reduce((best, d) => (d.total > best.total ? d : best), days[0]!);
  for (const provider of plan.providers) {
    const mailboxes = provider.seeds.length + provider.recipients.length;
    const peakVolume = Math.max(...days.map((d) => d.perProvider[provider.name] ?? 0));
    if (mailboxes > 0 && peakVolume / mailboxes > plan.warnings.mailboxPerDay) {
      const perBox = Math.round(peakVolume / mailboxes);
      const needed = Math.ceil(peakVolume / plan.warnings.mailboxPerDay);
      warn(['providers', provider.name], `each of its ${mailboxes} mailboxes would receive about ${perBox} messages on the peak day (more than ${plan.warnings.mailboxPerDay}): providers defer per-mailbox floods (Gmail 450 4.2.1); use at least ${needed} mailboxes`);
    }
  }
  if (plan.ips.length > 1 && peak) {
    const perIp = peak.total / plan.ips.length;
    if (perIp < plan.warnings.ipPeakPerDay) {
      warn(['ips'], `the peak day (${peak.date}) gives each of the ${plan.ips.length} IPs only about ${Math.round(perIp)} messages (under ${plan.warnings.ipPeakPerDay}): little volume spread over many IPs looks like snowshoeing; use fewer IPs or a steeper ramp`);
    }
  }
}
