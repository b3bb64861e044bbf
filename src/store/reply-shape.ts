/**
 * The shape a reply is counted under: the same answer with another address
 * or queue id counts once (the reply counts of `warmup status`, the running
 * counts of `lane_replies`, the memory store). Pure.
 */
import type { Outcome } from './schema.js';

/** Every outcome but acceptance. */
export const NOT_ACCEPTED: readonly Outcome[] = ['deferred', 'bounced', 'network', 'timeout', 'tls', 'protocol', 'dns', 'interrupted'];

/** The shape an attempt's reply is counted under; an attempt without a reply (a timeout) gets a stand-in. */
export function shapeOf(outcome: Outcome, reply: string | null): string {
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
