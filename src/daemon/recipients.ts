/**
 * Recipient rotation: each lane walks its provider's seeds and opt-in
 * recipients in turn, offset per IP so that two IPs do not hit the same
 * mailbox at the same moment. Pure.
 */
import type { Provider } from '../plan/types.js';
import { hash32 } from '../schedule/due.js';

export function recipientFor(provider: Provider, ip: string, day: string, seq: number): string {
  const seeds = provider.seeds;
  const all = seeds.length + provider.recipients.length;
  const offset = hash32(`${ip}|${day}`);
  const i = (offset + seq - 1) % all;
  return i < seeds.length ? seeds[i]!.address : provider.recipients[i - seeds.length]!;
}
