import { describe, expect, it } from 'vitest';
import { attemptCounts, greylistOutcome, spamCrossed, spamRate, type AttemptOutcome, type MessageStatus } from '../../src/policy/counting.js';

describe('the counters an attempt moves', () => {
  const cases: Array<[string, { outcome: AttemptOutcome; mailboxSignal?: boolean; local?: boolean; retry: number; greylisting?: 'certain' | 'likely' }, MessageStatus, Partial<Record<string, 1>>]> = [
    ['a first try accepted counts accepted', { outcome: 'accepted', retry: 0 }, 'accepted', { accepted: 1 }],
    ['a retry accepted counts accepted and a retry', { outcome: 'accepted', retry: 2 }, 'accepted', { accepted: 1, retries: 1 }],
    ['a bounce counts bounced', { outcome: 'bounced', retry: 0 }, 'bounced', { bounced: 1 }],
    ['a deferral about the IP counts a deferral', { outcome: 'deferred', retry: 0 }, 'deferred', { deferred: 1 }],
    ['a deferral about the mailbox stays out of the deferral rate', { outcome: 'deferred', mailboxSignal: true, retry: 0 }, 'deferred', { mailbox_deferred: 1 }],
    ['a timeout counts a failure', { outcome: 'timeout', retry: 0 }, 'deferred', { failed: 1 }],
    ['an interrupted try that gives up counts a failure and the expiry', { outcome: 'interrupted', retry: 3 }, 'expired', { failed: 1, expired: 1, retries: 1 }],
    ['a final DNS answer (no such domain) is a bounce, not also a failure', { outcome: 'dns', retry: 0 }, 'bounced', { bounced: 1 }],
    ['a local error that ends the message is a failure, not a bounce', { outcome: 'protocol', local: true, retry: 0 }, 'bounced', { failed: 1 }],
    ['a deferral that expires the message counts both', { outcome: 'deferred', retry: 4 }, 'expired', { deferred: 1, expired: 1, retries: 1 }],
    ['a greylisting answer is counted apart, not as a deferral', { outcome: 'deferred', greylisting: 'certain', retry: 0 }, 'deferred', { greylisted: 1 }],
    ['a bare "try again later" on a first try is a deferral until its retry succeeds', { outcome: 'deferred', greylisting: 'likely', retry: 0 }, 'deferred', { deferred: 1, grey_suspect: 1 }],
    ['the same on a retry is a deferral only', { outcome: 'deferred', greylisting: 'likely', retry: 1 }, 'deferred', { deferred: 1, retries: 1 }],
    ['an unknown user is a bounce counted as list hygiene', { outcome: 'bounced', mailboxSignal: true, retry: 0 }, 'bounced', { bounced: 1, hygiene_bounced: 1 }],
  ];
  it.each(cases)('%s', (_name, attempt, status, ones) => {
    const zero = { accepted: 0, bounced: 0, hygiene_bounced: 0, expired: 0, deferred: 0, greylisted: 0, grey_suspect: 0, mailbox_deferred: 0, failed: 0, retries: 0 };
    expect(attemptCounts(attempt, status)).toEqual({ ...zero, ...ones });
  });

  it('a message accepted on a retry passed greylisting and confirms its suspected answers', () => {
    expect(greylistOutcome({ greylisted: 2, grey_suspect: 0 })).toEqual({ passed: 1, confirmed: 0 });
    expect(greylistOutcome({ greylisted: 0, grey_suspect: 1 })).toEqual({ passed: 1, confirmed: 1 });
    expect(greylistOutcome({ greylisted: 0, grey_suspect: 0 })).toEqual({ passed: 0, confirmed: 0 });
  });
});

describe('the spam threshold of a lane-day', () => {
  it.each([
    ['crossed upwards', { inbox: 9, spam: 0 }, { inbox: 9, spam: 2 }, 0.1, true],
    ['already above: no second crossing', { inbox: 5, spam: 1 }, { inbox: 5, spam: 3 }, 0.1, false],
    ['exactly at the threshold is not above it', { inbox: 8, spam: 0 }, { inbox: 9, spam: 1 }, 0.1, false],
    ['from no placements at all', { inbox: 0, spam: 0 }, { inbox: 0, spam: 1 }, 0.1, true],
    ['falling back under', { inbox: 1, spam: 1 }, { inbox: 9, spam: 1 }, 0.2, false],
  ] as const)('%s', (_name, before, after, threshold, crossed) => {
    expect(spamCrossed(before, after, threshold)).toBe(crossed);
  });
  it('is 0 with no placements', () => expect(spamRate({ inbox: 0, spam: 0 })).toBe(0));
});
