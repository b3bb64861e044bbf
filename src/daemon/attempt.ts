/**
 * What one answer becomes: the message's next state (accepted, bounced,
 * deferred to its next try, or expired), the attempt record, and the
 * observation the reply-pattern rules and breakers read. Pure.
 */
import type { Plan } from '../plan/types.js';
import type { Observation } from '../policy/rules.js';
import { nextRetryAt } from '../schedule/due.js';
import type * as q from '../store/queries.js';
import type { DeliveryOutcome } from './deliver.js';

/** A message as one try sends it. */
export interface SendingMessage {
  readonly id: number;
  readonly day: string;
  readonly seq: number;
  readonly recipient: string;
  /** Token before the @ of the Message-ID; the same on every retry. */
  readonly token: string;
  /** Tries before this one. */
  readonly attempts: number;
  readonly createdAt: number;
}

/** The Message-ID's token (before the @), which a retry sends again. */
export function tokenOf(messageId: string): string {
  return messageId.split('@')[0]!;
}

/** A try that threw (a bug or a bad template), recorded as a final protocol failure rather than lose the message. */
export function localFailure(e: unknown, at: number): DeliveryOutcome {
  return { outcome: 'protocol', code: null, enhanced: null, reply: `local error: ${(e as Error).message}`, stage: null, final: true, mailboxSignal: false, greylisting: null, rejection: null, mxHost: null, mxAddress: null, startedAt: at, latencyMs: null };
}

/** The message's state after an answer at `at`: a deferral waits for its next try, unless that falls past the expiry. */
export function messageResult(out: Pick<DeliveryOutcome, 'outcome' | 'final'>, m: Pick<SendingMessage, 'createdAt' | 'attempts'>, at: number, retry: Plan['delivery']['retry']): q.MessageResult {
  if (out.outcome === 'accepted') return { status: 'accepted', at };
  if (out.final) return { status: 'bounced', at };
  const next = nextRetryAt(m.createdAt, m.attempts + 1, at, retry);
  return next === null ? { status: 'expired', at } : { status: 'deferred', nextAttemptAt: next };
}

/** The attempt record of one try (`local`: the try threw before any answer). */
export function attemptRecord(out: DeliveryOutcome, m: SendingMessage, laneId: number, local: boolean): q.AttemptRecord {
  return {
    messageId: m.id, laneId, day: m.day, startedAt: out.startedAt, latencyMs: out.latencyMs, mxHost: out.mxHost,
    mxAddress: out.mxAddress, outcome: out.outcome, code: out.code, enhanced: out.enhanced, reply: out.reply, stage: out.stage, retry: m.attempts,
    mailboxSignal: out.mailboxSignal, greylisting: out.greylisting, local,
  };
}

/** What the rules read of an answer, a seed send's or routed real mail's alike. */
export function observation(
  lane: { readonly ip: string; readonly provider: string },
  recipient: string,
  a: {
    readonly outcome: string; readonly reply: string; readonly mailboxSignal: boolean; readonly code: number | null; readonly enhanced: string | null;
    readonly greylisting?: 'certain' | 'likely' | null | undefined; readonly rejection?: 'policy' | 'hygiene' | null | undefined;
  },
): Observation {
  return {
    ip: lane.ip, provider: lane.provider, recipient, outcome: a.outcome, text: a.reply, mailboxSignal: a.mailboxSignal,
    code: a.code, enhanced: a.enhanced, greylisting: a.greylisting ?? null, rejection: a.rejection ?? null,
  };
}
