/** Defaults for every optional plan key, in one place (the README's plan reference quotes them). */
import type { Thresholds } from './types.js';

export const DEFAULT_WINDOW = { start: '08:00', end: '20:00' } as const;

/** Used for a provider that names no ramp when the plan has no `ramps.default`. */
export const DEFAULT_RAMP = { start: 50, growth: 1.5, cap: 5000 } as const;

/** SparkPost's automatic warm-up advances at 90% delivered; the rest are practitioners' figures. */
export const DEFAULT_THRESHOLDS: Thresholds = Object.freeze({
  advanceAt: 0.9,
  maxDeferralRate: 0.05,
  backOffDeferralRate: 0.2,
  pauseBounceRate: 0.1,
  backOffFactor: 0.5,
  flagAfterHolds: 3,
  maxSpamRate: 0.2,
  // Hard rejections cost reputation with every further message: more than half of the latest 5 to
  // 20 answers (of the last 6 hours) refused with a 5xx policy reply holds the lane until resumed.
  rejectionBreaker: Object.freeze({ windowMs: 6 * 3_600_000, sample: 20, minAttempts: 5, maxRejectionRate: 0.5, holdMs: null }),
});

/** Circuit breaker: a lane deferred on more than half of 20+ attempts in an hour rests for an hour. */
export const DEFAULT_BREAKER = Object.freeze({ window: '1h', minAttempts: 20, maxDeferralRate: 0.5, suspend: '1h' });

export const DEFAULT_DNSBL_ZONES: readonly string[] = Object.freeze([
  'zen.spamhaus.org',
  'b.barracudacentral.org',
  'bl.spamcop.net',
  'dnsbl-1.uceprotect.net',
  'psbl.surriel.com',
]);

export const DEFAULTS = Object.freeze({
  // Derived ramps reach their launch volume 3 sending days early: room for three holds
  // (stray deferrals that a rule answers with a suspension cost a day now and then).
  launchSlack: 3,
  dnsblInterval: '15m',
  // Retries of a day's last messages (backoff 5m, 10m, 20m, 40m...) mostly settle within two hours.
  retryGrace: '2h',
  // Spamhaus' free tier allows ~100k queries a day; 5/s keeps dozens of IPs x 5 zones far below it.
  dnsblQueriesPerSecond: 5,
  imapPollInterval: '5m',
  imapMissingAfter: '2h',
  // Engagement: people read some mail, some time later, one message at a time.
  engagementShare: 0.5,
  engagementDelayMin: '10m',
  engagementDelayMax: '2h',
  engagementMaxPerPoll: 10,
  engagementPace: '20s',
  port: 25,
  tls: 'opportunistic' as const,
  connectTimeout: '30s',
  // RFC 5321 4.5.3.2: 5 minutes for the greeting and most commands.
  greetingTimeout: '5m',
  commandTimeout: '5m',
  maxConnectionsPerMx: 2,
  messagesPerConnection: 20,
  retryIntervals: ['5m', '15m', '30m', '1h', '2h'] as readonly string[],
  retryExpire: '12h',
  catchUpFactor: 2,
  mailboxPerDay: 200,
  ipPeakPerDay: 500,
  storePath: 'data/warmup.db',
  postfixDeferReason: 'warm-up capacity exhausted',
  // Lookup -> delivery takes a second or two in Postfix's active queue; two minutes covers a busy queue.
  postfixReservationTtl: '2m',
  imapPort: 993,
});

export const DEFAULT_CONTENT = Object.freeze({
  subjects: [
    'Your {{provider}} account summary for {{date}}',
    'Weekly notes: what changed on {{date}}',
    'A quick update for {{local_part}}',
    'Confirm your settings ({{seq}})',
  ],
  text: [
    'Hello {{local_part}},',
    '',
    'This is message {{seq}} sent on {{date}}. It is part of a scheduled sending',
    'programme to mailboxes that asked for it.',
    '',
    'Unsubscribe: {{unsubscribe_url}}',
  ].join('\n'),
  html: [
    '<!doctype html><html><body>',
    '<p>Hello {{local_part}},</p>',
    '<p>This is message {{seq}} sent on {{date}}. It is part of a scheduled sending',
    'programme to mailboxes that asked for it.</p>',
    '<p><a href="{{unsubscribe_url}}">Unsubscribe</a></p>',
    '</body></html>',
  ].join('\n'),
});
