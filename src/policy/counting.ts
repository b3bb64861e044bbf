/**
 * How attempts and placements count toward a lane's day: pure rules the
 * store applies inside its transactions (so a counter and the row it counts
 * still commit together), kept here because they are policy, not storage.
 */

/** An attempt's outcome, as recorded (see src/store/schema.ts `Outcome`). */
export type AttemptOutcome = 'accepted' | 'deferred' | 'bounced' | 'network' | 'timeout' | 'tls' | 'protocol' | 'dns' | 'interrupted';

/** What the attempt did to its message. */
export type MessageStatus = 'accepted' | 'bounced' | 'deferred' | 'expired';

/** The lane-day counters one attempt moves (0 or 1 each). */
export interface AttemptCounts {
  readonly accepted: 0 | 1;
  readonly bounced: 0 | 1;
  readonly expired: 0 | 1;
  /** A deferral about the IP: the lane's deferral rate counts it (greylisting is not one). */
  readonly deferred: 0 | 1;
  /** A greylisting answer by its text: counted apart, out of the lane's deferral rate. */
  readonly greylisted: 0 | 1;
  /** A bare "try again later" on a first try: a deferral until the retry that succeeds shows it was greylisting (on the message). */
  readonly grey_suspect: 0 | 1;
  /** Of `bounced`: a 5xx about the recipient (unknown user, mailbox full): list hygiene. */
  readonly hygiene_bounced: 0 | 1;
  /** A deferral about the mailbox (full, over its rate): kept out of the lane's deferral rate. */
  readonly mailbox_deferred: 0 | 1;
  /** Anything that is neither an answer to the message nor a deferral: network, timeout, TLS, protocol, DNS, interrupted. */
  readonly failed: 0 | 1;
  readonly retries: 0 | 1;
}

/**
 * The counters an attempt moves. Final states count once, when the message
 * reaches them (`status`); deferrals and failures count per attempt.
 *
 * @example
 * attemptCounts({ outcome: 'deferred', mailboxSignal: true, retry: 1 }, 'deferred')
 * // { accepted: 0, bounced: 0, expired: 0, deferred: 0, mailbox_deferred: 1, failed: 0, retries: 1 }
 */
export function attemptCounts(
  a: {
    readonly outcome: AttemptOutcome; readonly mailboxSignal?: boolean | undefined; readonly local?: boolean | undefined; readonly retry: number;
    readonly greylisting?: 'certain' | 'likely' | null | undefined;
  },
  status: MessageStatus,
): AttemptCounts {
  const bit = (b: boolean): 0 | 1 => (b ? 1 : 0);
  // Each final outcome counts once: a final DNS answer (no such domain, null MX) is a bounce, not
  // also a failure; a local error (nothing was sent) is a failure, not also a bounce.
  const finalDns = a.outcome === 'dns' && status === 'bounced';
  const senderDeferral = a.outcome === 'deferred' && !a.mailboxSignal;
  const greylisted = senderDeferral && a.greylisting === 'certain';
  const bounced = status === 'bounced' && !a.local;
  return {
    accepted: bit(status === 'accepted'),
    bounced: bit(bounced),
    hygiene_bounced: bit(bounced && a.outcome === 'bounced' && a.mailboxSignal === true),
    expired: bit(status === 'expired'),
    deferred: bit(senderDeferral && !greylisted),
    greylisted: bit(greylisted),
    grey_suspect: bit(senderDeferral && a.greylisting === 'likely' && a.retry === 0),
    mailbox_deferred: bit(a.outcome === 'deferred' && a.mailboxSignal === true),
    failed: bit(a.outcome !== 'accepted' && a.outcome !== 'bounced' && a.outcome !== 'deferred' && !finalDns),
    retries: bit(a.retry > 0),
  };
}

/**
 * What a message accepted on a retry says about the greylisting answers it
 * got before (`messages.greylisted`, `messages.grey_suspect`): it `passed`
 * greylisting, and its suspected ones are `confirmed` (they move from the
 * day's deferrals to its greylisting).
 */
export function greylistOutcome(message: { readonly greylisted: number; readonly grey_suspect: number }): { readonly passed: 0 | 1; readonly confirmed: number } {
  return { passed: message.greylisted + message.grey_suspect > 0 ? 1 : 0, confirmed: message.grey_suspect };
}

/** Spam share of a lane-day's seed placements: spam / (inbox + spam); 0 with none yet. */
export function spamRate(p: { readonly inbox: number; readonly spam: number }): number {
  return p.inbox + p.spam > 0 ? p.spam / (p.inbox + p.spam) : 0;
}

/**
 * Whether new placements took a lane-day's spam rate above the provider's
 * threshold: only the crossing counts (upwards, from at or below), so one
 * bad day raises one event however many batches follow.
 */
export function spamCrossed(before: { readonly inbox: number; readonly spam: number }, after: { readonly inbox: number; readonly spam: number }, maxSpamRate: number): boolean {
  return spamRate(after) > maxSpamRate && spamRate(before) <= maxSpamRate;
}
