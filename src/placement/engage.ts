/**
 * Engagement decisions, pure: whether a placed message is engaged with, when,
 * and which actions apply. The randomness comes in as a function so tests and
 * simulations can seed it.
 */
import type { Engagement } from '../plan/types.js';

import type { Random } from '../util/random.js';

export { seededRandom, type Random } from '../util/random.js';

/**
 * When to engage with a message found at `foundAt`, or null to leave it alone.
 * Draws once per message: `share` of them are chosen, each due at a uniform
 * point between `delay.min` and `delay.max` after it was found.
 */
export function engagementDue(e: Engagement | null, placement: 'inbox' | 'spam' | 'other' | 'missing', foundAt: number, random: Random): number | null {
  if (!e || placement === 'missing') return null;
  if (random() >= e.share) return null;
  return foundAt + Math.round(e.delayMs.min + random() * (e.delayMs.max - e.delayMs.min));
}

/** What to do to one message. */
export interface EngagementActions {
  readonly markRead: boolean;
  readonly flag: boolean;
  /** Move from the spam folder to INBOX. */
  readonly moveToInbox: boolean;
}

/**
 * The actions for a message in a folder of this kind: a move only out of the
 * spam folder, and only when the server can MOVE (a COPY + delete fallback
 * would delete, which engagement never does).
 */
export function engagementActions(e: Engagement, kind: 'inbox' | 'spam' | 'other', serverCanMove: boolean): EngagementActions {
  return { markRead: e.markRead, flag: e.flag, moveToInbox: e.moveToInbox && kind === 'spam' && serverCanMove };
}

/** A pause around `meanMs`, uniform in [0.5, 1.5) x mean, so actions do not tick like a metronome. */
export function jitteredPause(meanMs: number, random: Random): number {
  return Math.round(meanMs * (0.5 + random()));
}
