/**
 * The shape a reply is counted under: the same answer with another address or
 * queue id counts once. The one normalisation of reply texts: the running counts
 * of `lane_replies` store shapes (and a digest of each as their key, see
 * src/store/reply-tallies.ts), `warmup status` and the memory store count by
 * them, and evidence (./evidence.ts) groups by a looser key built on them.
 * Databases hold these shapes: changing what `replyShape` returns splits a
 * day's counts between the old and the new shape (test/store/reply-tallies.test.ts
 * pins them). Pure.
 */
import type { AttemptOutcome } from './counting.js';

/** Every outcome but acceptance: the outcomes whose replies are counted. */
export const NOT_ACCEPTED: readonly AttemptOutcome[] = ['deferred', 'bounced', 'network', 'timeout', 'tls', 'protocol', 'dns', 'interrupted'];

/** The shape an attempt's reply is counted under; an attempt without a reply (a timeout) gets a stand-in. */
export function shapeOf(outcome: AttemptOutcome, reply: string | null): string {
  return replyShape(reply ?? `(${outcome}, no reply)`);
}

/** A reply with the per-message parts (addresses, queue ids) blanked, so the same answer counts once. */
export function replyShape(reply: string): string {
  return reply
    .replace(/<[^<>\s]+@[^<>\s]+>/g, '<…>')
    .replace(/\b[\w.+=-]+@[\w.-]+\.[a-z]{2,}\b/gi, '…@…')
    .replace(/\b[0-9A-F]{10,}\b/g, '…')
    .replace(/\s+/g, ' ')
    .trim();
}
