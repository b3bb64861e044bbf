/**
 * A lane's recent answers over a sliding window, and the two breakers that
 * read it: the deferral breaker (4xx, connection failures) and the rejection
 * breaker (5xx policy rejections). Pure: callers pass `now`.
 */
import type { RejectionBreaker } from '../plan/types.js';
import { evidenceLine, topReplies, type ReplyEvidence } from './evidence.js';

/**
 * What one attempt says about the lane:
 * - `accepted`;
 * - `deferred`: a 4xx about the sender, or a connection / timeout / TLS failure;
 * - `policy`: a 5xx about the sender or its IP (reputation, block list, policy);
 * - `hygiene`: a 5xx about the recipient (unknown user 5.1.1 / 5.1.10): a list problem;
 * - `greylist`, `mailbox`: 4xx about first contact or one mailbox: neutral for the IP.
 */
export type AnswerKind = 'accepted' | 'deferred' | 'policy' | 'hygiene' | 'greylist' | 'mailbox';

export interface Answer {
  readonly at: number;
  readonly kind: AnswerKind;
  readonly text: string;
  readonly code: number | null;
  readonly enhanced: string | null;
}

/** The fields of an attempt this needs to tell its kind. */
export interface AnswerFacts {
  readonly outcome: string;
  readonly mailboxSignal: boolean;
  readonly greylisting?: 'certain' | 'likely' | null | undefined;
  readonly rejection?: 'policy' | 'hygiene' | null | undefined;
}

/** The kind of an attempt's answer (see {@link AnswerKind}). */
export function answerKind(a: AnswerFacts): AnswerKind {
  if (a.outcome === 'accepted') return 'accepted';
  if (a.outcome === 'bounced') return a.rejection === 'hygiene' || (a.rejection == null && a.mailboxSignal) ? 'hygiene' : 'policy';
  if (a.mailboxSignal) return 'mailbox';
  if (a.greylisting) return 'greylist';
  return 'deferred';
}

/** A trip of the rejection breaker: what to hold, for how long, and why. */
export interface RejectionTrip {
  readonly until: number | null;
  readonly rejected: number;
  readonly answered: number;
  /** `5x 554 5.7.1 ... (rejection rate 100%: 5 of the last 5 answers)` */
  readonly reason: string;
  /** The policy rejections in the window, most frequent first. */
  readonly evidence: readonly ReplyEvidence[];
}

/** One lane's answers over the longest window any reader needs. */
export class LaneWindow {
  readonly #answers: Answer[] = [];
  readonly #keepMs: number;
  /**
   * Answers arrived in time order (the clock never went back): a reader can then stop at the
   * window's start, reading from the newest, instead of filtering every answer kept (hours of
   * a busy lane's answers on each attempt).
   */
  #ordered = true;

  constructor(keepMs: number) {
    this.#keepMs = keepMs;
  }

  add(a: Answer): void {
    const last = this.#answers.at(-1);
    if (last !== undefined && a.at < last.at) this.#ordered = false;
    this.#answers.push(a);
    while (this.#answers.length > 0 && this.#answers[0]!.at <= a.at - this.#keepMs) this.#answers.shift();
  }

  /** Answers within `windowMs` before `now`. */
  within(now: number, windowMs: number): Answer[] {
    return this.#answers.filter((a) => a.at > now - windowMs);
  }

  /**
   * The newest `limit` answers within `windowMs` before `now` that `keep` accepts, oldest first:
   * `within(now, windowMs).filter(keep).slice(-limit)`, reading only the answers it needs.
   */
  recent(now: number, windowMs: number, keep: (a: Answer) => boolean, limit = Number.POSITIVE_INFINITY): Answer[] {
    if (!this.#ordered) return this.within(now, windowMs).filter(keep).slice(-limit);
    const out: Answer[] = [];
    for (let i = this.#answers.length - 1; i >= 0 && out.length < limit; i--) {
      const a = this.#answers[i]!;
      if (a.at <= now - windowMs) break;
      if (keep(a)) out.push(a);
    }
    return out.reverse();
  }

  /** How many answers within `windowMs` before `now` `keep` accepts, and how many of those `hit` accepts too. */
  count(now: number, windowMs: number, keep: (a: Answer) => boolean, hit: (a: Answer) => boolean): { kept: number; hits: number } {
    let kept = 0;
    let hits = 0;
    for (let i = this.#answers.length - 1; i >= 0; i--) {
      const a = this.#answers[i]!;
      if (a.at <= now - windowMs) {
        if (this.#ordered) break;
        continue;
      }
      if (!keep(a)) continue;
      kept++;
      if (hit(a)) hits++;
    }
    return { kept, hits };
  }

  /** The most frequent replies other than acceptances within `windowMs` (a rule's evidence). */
  evidence(now: number, windowMs: number, kinds?: readonly AnswerKind[]): ReplyEvidence[] {
    return topReplies(this.within(now, windowMs).filter((a) => a.kind !== 'accepted' && (!kinds || kinds.includes(a.kind))));
  }

  /** Forgets answers of the given kinds (a breaker starts counting afresh after it trips). */
  forget(kinds: readonly AnswerKind[]): void {
    for (let i = this.#answers.length - 1; i >= 0; i--) if (kinds.includes(this.#answers[i]!.kind)) this.#answers.splice(i, 1);
  }
}

/**
 * The rejection breaker's verdict on a lane window, or null when it holds.
 * Answers are acceptances, deferrals and policy rejections; greylisting,
 * per-mailbox answers, unknown users and answer-less failures are left out
 * of both sides, so a dirty list or a dead MX never looks like a block.
 */
export function rejectionTrip(window: LaneWindow, config: RejectionBreaker, now: number): RejectionTrip | null {
  if (config.maxRejectionRate >= 1) return null;
  const recent = window.recent(now, config.windowMs, (a) => a.kind === 'accepted' || a.kind === 'policy' || (a.kind === 'deferred' && a.code !== null), config.sample);
  const rejected = recent.filter((a) => a.kind === 'policy');
  if (recent.length < config.minAttempts || rejected.length / recent.length <= config.maxRejectionRate) return null;
  const evidence = topReplies(rejected);
  const rate = Math.round((100 * rejected.length) / recent.length);
  return {
    until: config.holdMs === null ? null : now + config.holdMs,
    rejected: rejected.length,
    answered: recent.length,
    // The reply first: status shows the start of a hold's reason.
    reason: `${evidenceLine(evidence)} (rejection rate ${rate}%: ${rejected.length} of the last ${recent.length} answers)`,
    evidence,
  };
}
