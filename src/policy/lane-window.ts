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

const KINDS: readonly AnswerKind[] = ['accepted', 'deferred', 'policy', 'hygiene', 'greylist', 'mailbox'];
const KIND_INDEX = new Map<AnswerKind, number>(KINDS.map((k, i) => [k, i]));

/** One lane's answers over the longest window any reader needs. */
export class LaneWindow {
  /** Answers from `#head` on are kept (those before it left the window; dropped in bulk now and then). */
  #answers: Answer[] = [];
  #head = 0;
  /**
   * Running counts per kind: `#counts[i * 6 + k]` answers of kind k among answers 0..i. Two of
   * them give how many of a kind arrived in a stretch: the deferral breaker's count on every
   * attempt is a binary search, not a pass over hours of a busy lane's answers.
   */
  #counts: number[] = [];
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
    const n = this.#answers.length;
    const last = this.#answers[n - 1];
    if (last !== undefined && a.at < last.at) this.#ordered = false;
    this.#answers.push(a);
    const k = KIND_INDEX.get(a.kind)!;
    for (let i = 0; i < KINDS.length; i++) this.#counts.push((n > 0 ? this.#counts[(n - 1) * KINDS.length + i]! : 0) + (i === k ? 1 : 0));
    while (this.#head < this.#answers.length && this.#answers[this.#head]!.at <= a.at - this.#keepMs) this.#head++;
    if (this.#head >= 1024 && this.#head * 2 >= this.#answers.length) this.#rebuild(this.#answers.slice(this.#head));
  }

  /** Answers within `windowMs` before `now`. */
  within(now: number, windowMs: number): Answer[] {
    const out: Answer[] = [];
    for (let i = this.#head; i < this.#answers.length; i++) if (this.#answers[i]!.at > now - windowMs) out.push(this.#answers[i]!);
    return out;
  }

  /**
   * The newest `limit` answers within `windowMs` before `now` that `keep` accepts, oldest first:
   * `within(now, windowMs).filter(keep).slice(-limit)`, reading only the answers it needs.
   */
  recent(now: number, windowMs: number, keep: (a: Answer) => boolean, limit = Number.POSITIVE_INFINITY): Answer[] {
    if (!this.#ordered) return this.within(now, windowMs).filter(keep).slice(-limit);
    const out: Answer[] = [];
    for (let i = this.#answers.length - 1; i >= this.#head && out.length < limit; i--) {
      const a = this.#answers[i]!;
      if (a.at <= now - windowMs) break;
      if (keep(a)) out.push(a);
    }
    return out.reverse();
  }

  /**
   * How many answers of the `kept` kinds arrived after `after` (an instant), and how many of
   * those are of the kind `hit`: in time order a binary search and two running counts.
   */
  countKinds(after: number, kept: readonly AnswerKind[], hit: AnswerKind): { kept: number; hits: number } {
    const answers = this.#answers;
    if (!this.#ordered) {
      const all = answers.slice(this.#head).filter((a) => a.at > after && kept.includes(a.kind));
      return { kept: all.length, hits: all.filter((a) => a.kind === hit).length };
    }
    // The first answer after `after`.
    let lo = this.#head;
    let hi = answers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (answers[mid]!.at > after) hi = mid;
      else lo = mid + 1;
    }
    if (lo === answers.length) return { kept: 0, hits: 0 };
    const since = (k: AnswerKind): number => {
      const i = KIND_INDEX.get(k)!;
      return this.#counts[(answers.length - 1) * KINDS.length + i]! - (lo > 0 ? this.#counts[(lo - 1) * KINDS.length + i]! : 0);
    };
    let n = 0;
    for (const k of kept) n += since(k);
    return { kept: n, hits: kept.includes(hit) ? since(hit) : 0 };
  }

  /** The most frequent replies other than acceptances within `windowMs` (a rule's evidence). */
  evidence(now: number, windowMs: number, kinds?: readonly AnswerKind[]): ReplyEvidence[] {
    return topReplies(this.within(now, windowMs).filter((a) => a.kind !== 'accepted' && (!kinds || kinds.includes(a.kind))));
  }

  /** Forgets answers of the given kinds (a breaker starts counting afresh after it trips). */
  forget(kinds: readonly AnswerKind[]): void {
    this.#rebuild(this.#answers.slice(this.#head).filter((a) => !kinds.includes(a.kind)));
  }

  /** Keeps `answers` (in arrival order) and recounts. */
  #rebuild(answers: Answer[]): void {
    this.#answers = answers;
    this.#head = 0;
    this.#counts = [];
    const running = KINDS.map(() => 0);
    for (const a of answers) {
      running[KIND_INDEX.get(a.kind)!]!++;
      this.#counts.push(...running);
    }
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
