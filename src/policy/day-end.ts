/**
 * The day-end decision for one lane: advance, hold, back off or pause, from
 * the day's figures. Pure. Modelled on SparkPost's automatic warm-up (advance
 * only when more than 90% of the stage's volume was delivered).
 */
import type { Ramp, Thresholds } from '../plan/types.js';
import { stageVolume } from '../schedule/ramp.js';
import { evidenceLine, topReplies, type ReplyEvidence, type ReplySample } from './evidence.js';

export interface DayFigures {
  readonly stage: number;
  readonly target: number;
  readonly accepted: number;
  /** 4xx answers about the sender (attempts): greylisting and per-mailbox answers are not in it. */
  readonly deferred: number;
  /** Greylisting answers (attempts): counted and shown, not a deferral. */
  readonly greylisted?: number;
  /** Messages accepted on a retry after greylisting. */
  readonly greylistPassed?: number;
  /** Connection, timeout, TLS and protocol failures (attempts). */
  readonly failed: number;
  readonly bounced: number;
  /** Of `bounced`: unknown users and other answers about the recipient (list hygiene, not reputation). */
  readonly hygieneBounced?: number;
  /** Attempts made for the day's messages (first tries + retries). */
  readonly attempts: number;
  /** Placement results, when the seeds are read over IMAP. */
  readonly inbox?: number;
  readonly spam?: number;
  /** The day's replies other than acceptances (the decision's evidence). */
  readonly replies?: readonly ReplySample[];
}

export type Decision = 'advance' | 'hold' | 'back_off' | 'pause';

export interface DayEndResult {
  readonly decision: Decision;
  readonly nextStage: number;
  readonly holdsInRow: number;
  /** The lane has held `flagAfterHolds` days or more in a row. */
  readonly flagged: boolean;
  /** Plain-language reason, stored with the event; a decision other than advance ends with its top replies. */
  readonly reason: string;
  readonly rates: {
    readonly acceptedShare: number; readonly deferralRate: number; readonly bounceRate: number; readonly spamRate: number | null;
    /** Greylisting answers over attempts (kept out of the deferral rate). */
    readonly greylistRate: number;
    /** Unknown users and other recipient bounces over attempts (kept out of the bounce rate). */
    readonly hygieneRate: number;
  };
  /** The replies that drove the day, most frequent first. */
  readonly evidence: readonly ReplyEvidence[];
}

/** The highest stage whose volume is at most `volume` (at least 1). */
export function stageForVolume(ramp: Ramp, volume: number): number {
  let stage = 1;
  while (stageVolume(ramp, stage + 1) <= volume && stageVolume(ramp, stage + 1) > stageVolume(ramp, stage) && stage < 10_000) stage++;
  return stage;
}

/**
 * Decides a lane's day. Greylisting and per-mailbox answers are not
 * deferrals, and unknown users are not bounces (list hygiene): they are
 * reported beside the decision, which they do not drive.
 */
export function decideDay(f: DayFigures, ramp: Ramp, t: Thresholds, holdsInRow: number): DayEndResult {
  const attempts = Math.max(f.attempts, 1);
  const deferralRate = (f.deferred + f.failed) / attempts;
  const hygiene = Math.min(f.hygieneBounced ?? 0, f.bounced);
  const bounceRate = (f.bounced - hygiene) / attempts;
  const acceptedShare = f.target > 0 ? f.accepted / f.target : 1;
  const placed = (f.inbox ?? 0) + (f.spam ?? 0);
  const spamRate = placed > 0 ? (f.spam ?? 0) / placed : null;
  const rates = { acceptedShare, deferralRate, bounceRate, spamRate, greylistRate: (f.greylisted ?? 0) / attempts, hygieneRate: hygiene / attempts };
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const evidence = topReplies(f.replies ?? []);
  const notes = [
    f.greylisted ? `${f.greylisted} greylisted${f.greylistPassed ? ` (${f.greylistPassed} accepted on retry)` : ''}` : '',
    hygiene ? `${hygiene} unknown recipient${hygiene === 1 ? '' : 's'} (list hygiene)` : '',
  ].filter(Boolean).join(', ');
  const result = (decision: Decision, nextStage: number, holds: number, why: string): DayEndResult => ({
    decision, nextStage, holdsInRow: holds, flagged: holds >= t.flagAfterHolds, rates, evidence,
    reason: [why, notes, decision !== 'advance' && evidence.length > 0 ? `top replies: ${evidenceLine(evidence)}` : ''].filter(Boolean).join('; '),
  });

  if (bounceRate > t.pauseBounceRate) {
    return result('pause', f.stage, 0, `bounce rate ${pct(bounceRate)} above ${pct(t.pauseBounceRate)}`);
  }
  if (deferralRate > t.backOffDeferralRate) {
    const back = stageForVolume(ramp, Math.floor(stageVolume(ramp, f.stage) * t.backOffFactor));
    return result('back_off', Math.min(back, Math.max(1, f.stage - 1)), 0, `deferral rate ${pct(deferralRate)} above ${pct(t.backOffDeferralRate)}`);
  }
  if (spamRate !== null && spamRate > t.maxSpamRate) {
    return result('hold', f.stage, holdsInRow + 1, `spam placement ${pct(spamRate)} above ${pct(t.maxSpamRate)}`);
  }
  if (acceptedShare >= t.advanceAt && deferralRate <= t.maxDeferralRate) {
    return result('advance', f.stage + 1, 0, `accepted ${pct(acceptedShare)} of ${f.target}, deferrals ${pct(deferralRate)}`);
  }
  const why = acceptedShare < t.advanceAt
    ? `accepted ${pct(acceptedShare)} of ${f.target}, under ${pct(t.advanceAt)}`
    : `deferral rate ${pct(deferralRate)} above ${pct(t.maxDeferralRate)}`;
  return result('hold', f.stage, holdsInRow + 1, why);
}
