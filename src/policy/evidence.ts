/**
 * Evidence: the SMTP replies behind a decision. Every day-end decision,
 * breaker trip and rule hold carries the replies that drove it (text, count,
 * enhanced code), so an operator reads *why* without opening the attempts
 * table. Pure.
 */
import { replyShape } from './reply-shape.js';

/** One reply as seen (or a group of identical replies, with `count`). */
export interface ReplySample {
  /** The one-line reply: `CODE ENHANCED text`, or `ERRCODE: message`. */
  readonly text: string;
  readonly code: number | null;
  readonly enhanced: string | null;
  /** How many times this exact text was seen (default 1). */
  readonly count?: number;
}

/** A reply that drove a decision, with how often it came. Stored in event causes as `evidence`. */
export interface ReplyEvidence {
  /** The first reply of its group, as received. */
  readonly reply: string;
  readonly code: number | null;
  readonly enhanced: string | null;
  readonly count: number;
}

/** How many replies a decision names by default. */
export const EVIDENCE_LIMIT = 3;

/**
 * The grouping key of a reply: replies that differ only by recipient address,
 * queue id or session token are the same answer (postgrey names the
 * recipient, Gmail appends a per-message id, Microsoft a timestamp). Built on
 * the shape replies are counted under ({@link replyShape}: addresses and queue
 * ids blanked), so replies counted as one are grouped as one, and looser than
 * it, as evidence is never stored: any other token with an `@`, timestamps,
 * ids holding a digit and case go too.
 *
 * @example
 * replyKey('450 4.2.0 <a@x.test>: Recipient address rejected: Greylisted') === replyKey('450 4.2.0 <b@x.test>: Recipient address rejected: Greylisted')
 */
export function replyKey(text: string): string {
  return replyShape(text)
    .replace(/<…>|<[^<>\s]*@[^<>\s]*>|[^\s<>@()[\]]+@[^\s<>@()[\]]+/g, '<addr>')
    .replace(/…/g, '<id>')
    .replace(/\b\d{4}-\d{2}-\d{2}T[\d:.]+Z\b/g, '<time>')
    // Ids: tokens of 8+ letters, digits, dots or dashes that hold a digit (not IPs: those stay).
    .replace(/\b(?=[\w.-]*\d)(?!\d{1,3}(?:\.\d{1,3}){3}\b)[\w.-]{8,}\b/g, '<id>')
    .toLowerCase();
}

/**
 * The most frequent replies among `samples`, grouped by {@link replyKey},
 * most frequent first (ties: the one seen first). Each group shows its first
 * reply as received.
 *
 * @example
 * topReplies([{ text: '554 5.7.1 blocked', code: 554, enhanced: '5.7.1', count: 8 }])
 * // [{ reply: '554 5.7.1 blocked', code: 554, enhanced: '5.7.1', count: 8 }]
 */
export function topReplies(samples: Iterable<ReplySample>, limit = EVIDENCE_LIMIT): ReplyEvidence[] {
  const groups = new Map<string, { reply: string; code: number | null; enhanced: string | null; count: number; order: number }>();
  let order = 0;
  for (const s of samples) {
    const key = replyKey(s.text);
    const g = groups.get(key);
    if (g) g.count += s.count ?? 1;
    else groups.set(key, { reply: s.text, code: s.code, enhanced: s.enhanced, count: s.count ?? 1, order: order++ });
  }
  return [...groups.values()]
    .sort((a, b) => b.count - a.count || a.order - b.order)
    .slice(0, Math.max(0, limit))
    .map(({ reply, code, enhanced, count }) => ({ reply, code, enhanced, count }));
}

/**
 * Evidence in one line for reasons, logs and terminals:
 * `8x 554 5.7.1 Client host rejected: ...; 2x 450 4.7.1 ...`. Each reply is cut
 * to `replyChars`.
 */
export function evidenceLine(evidence: readonly ReplyEvidence[], replyChars = 120): string {
  return evidence.map((e) => `${e.count}x ${e.reply.length > replyChars ? `${e.reply.slice(0, replyChars - 3)}...` : e.reply}`).join('; ');
}

/**
 * Reads `evidence` back from a stored event cause (JSON from any version):
 * entries that do not have the expected shape are dropped.
 */
export function evidenceOf(cause: Readonly<Record<string, unknown>>): ReplyEvidence[] {
  const raw = cause.evidence;
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((e: unknown) => {
    if (!e || typeof e !== 'object') return [];
    const o = e as Record<string, unknown>;
    if (typeof o.reply !== 'string' || typeof o.count !== 'number') return [];
    return [{ reply: o.reply, count: o.count, code: typeof o.code === 'number' ? o.code : null, enhanced: typeof o.enhanced === 'string' ? o.enhanced : null }];
  });
}
