/**
 * Recipient rotation: each lane walks its provider's seeds and opt-in
 * recipients in turn, offset per IP so that two IPs do not hit the same
 * mailbox at the same moment, skipping mailboxes that are resting (a
 * per-mailbox deferral such as Gmail's 450 4.2.1 slows that mailbox only). Pure.
 */
import type { Provider } from '../plan/types.js';
import { hash32 } from '../schedule/due.js';

export function recipientFor(provider: Provider, ip: string, day: string, seq: number, resting: (address: string) => boolean = () => false): string {
  const seeds = provider.seeds;
  const all = seeds.length + provider.recipients.length;
  const offset = hash32(`${ip}|${day}`);
  const at = (i: number) => (i < seeds.length ? seeds[i]!.address : provider.recipients[i - seeds.length]!);
  for (let k = 0; k < all; k++) {
    const address = at((offset + seq - 1 + k) % all);
    if (!resting(address)) return address;
  }
  // Every mailbox is resting: send to the scheduled one rather than drop the day's volume.
  return at((offset + seq - 1) % all);
}
