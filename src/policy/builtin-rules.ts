/**
 * The built-in reply-pattern rule pack, from the providers' own documentation
 * as collected in shared/reference/deliverability.md. Patterns match the
 * attempt's one-line reply: `CODE ENHANCED text` (or `ERRCODE: message` when
 * the server never answered). A plan adds rules, replaces one by giving its
 * name, or switches one off with `policy.disable_rules`.
 */
import type { Rule } from '../plan/types.js';

const H = 3_600_000;
const M = 60_000;

type Spec = Omit<Rule, 'match' | 'provider'> & { match: string; family: string; sample: string };

/** Each rule with the provider family it was written for and a real sample reply it must match. */
export const BUILTIN_RULE_SPECS: readonly Spec[] = Object.freeze([
  {
    name: 'gmail-rate-limited', family: 'gmail', match: String.raw`^421 4\.7\.28 .*(unusual rate of unsolicited mail|rate limited)`,
    trigger: null, action: 'cut_rate', factor: 0.5, durationMs: 2 * H,
    sample: '421 4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.',
  },
  {
    name: 'gmail-domain-reputation', family: 'gmail', match: String.raw`^421 4\.7\.0 .*(very low reputation of the sending domain|suspicious due to the nature of the content)`,
    trigger: null, action: 'pause_provider', factor: null, durationMs: 6 * H,
    sample: '421 4.7.0 This message is suspicious due to the very low reputation of the sending domain. To best protect our users from spam, the message has been blocked.',
  },
  {
    name: 'gmail-mailbox-rate', family: 'gmail', match: String.raw`^450 4\.2\.1 .*receiving mail at a rate that prevents additional messages`,
    trigger: null, action: 'slow_mailbox', factor: null, durationMs: 1 * H,
    sample: '450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. Please resend your message at a later point.',
  },
  {
    name: 'gmail-blocked', family: 'gmail', match: String.raw`^550 5\.7\.1 .*unusual rate of unsolicited mail.*blocked`,
    trigger: null, action: 'pause', factor: null, durationMs: null,
    sample: '550 5.7.1 Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been blocked.',
  },
  {
    name: 'gmail-unauthenticated', family: 'gmail', match: String.raw`^550 5\.7\.26 .*(does not have authentication information|fails to pass authentication checks|unauthenticated)`,
    trigger: null, action: 'stop_all', factor: null, durationMs: null,
    sample: '550 5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. Authentication results: DKIM = did not pass; SPF [news.example.com] with ip: [203.0.113.11] = did not pass. This message does not have authentication information or fails to pass authentication checks.',
  },
  {
    name: 'yahoo-tss04', family: 'yahoo', match: String.raw`\[TSS04\]`,
    trigger: null, action: 'suspend', factor: null, durationMs: 2 * H,
    sample: '421 4.7.0 [TSS04] Messages from 203.0.113.11 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes',
  },
  {
    name: 'yahoo-ts02', family: 'yahoo', match: String.raw`\[TS02\]`,
    trigger: null, action: 'suspend', factor: null, durationMs: 4 * H,
    sample: '421 4.7.0 [TS02] Messages from 203.0.113.11 temporarily deferred - 4.16.56.1; see https://postmaster.yahooinc.com/error-codes',
  },
  {
    name: 'yahoo-ts03', family: 'yahoo', match: String.raw`\[TS03\]`,
    trigger: null, action: 'pause', factor: null, durationMs: null,
    sample: '421 4.7.0 [TS03] All messages from 203.0.113.11 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes',
  },
  {
    name: 'yahoo-blocklisted', family: 'yahoo', match: String.raw`^553 5\.7\.1 .*\[BL`,
    trigger: null, action: 'pause_ip', factor: null, durationMs: null,
    sample: '553 5.7.1 [BL21] Connections will not be accepted from 203.0.113.11, because the ip is in Spamhaus\'s list; see https://postmaster.yahooinc.com/error-codes',
  },
  {
    name: 'yahoo-policy-rejected', family: 'yahoo', match: String.raw`^554 5\.7\.9 `,
    trigger: null, action: 'pause', factor: null, durationMs: null,
    sample: '554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes',
  },
  {
    name: 'microsoft-ip-reputation', family: 'microsoft', match: String.raw`^451 4\.7\.650 |\(S775\)`,
    trigger: null, action: 'one_connection', factor: null, durationMs: 90 * M,
    sample: '451 4.7.650 The mail server [203.0.113.11] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775) [Name=Protocol Filter Agent]',
  },
  {
    name: 'microsoft-ip-reputation-rate', family: 'microsoft', match: String.raw`^451 4\.7\.650 |\(S775\)`,
    trigger: null, action: 'cut_rate', factor: 0.2, durationMs: 90 * M,
    sample: '451 4.7.650 The mail server [203.0.113.11] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775) [Name=Protocol Filter Agent]',
  },
  {
    name: 'microsoft-blocklisted', family: 'microsoft', match: String.raw`S3150|^550 5\.7\.1 (?!.*S3140).*block list`,
    trigger: null, action: 'pause', factor: null, durationMs: null,
    sample: '550 5.7.1 Unfortunately, messages from [203.0.113.11] weren\'t sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.',
  },
  {
    // S3140: a range of the sender's network (not only this IP) is on the block list.
    name: 'microsoft-range-blocklisted', family: 'microsoft', match: String.raw`S3140`,
    trigger: null, action: 'pause', factor: null, durationMs: null,
    sample: '550 5.7.1 Unfortunately, messages from [203.0.113.11] weren\'t sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.',
  },
  {
    name: 'microsoft-authentication', family: 'microsoft', match: String.raw`^550 5\.7\.515 `,
    trigger: null, action: 'stop_all', factor: null, durationMs: null,
    sample: '550 5.7.515 Access denied, sending domain news.example.com does not meet the required authentication level. The sender\'s domain in the 5322.From address doesn\'t meet the authentication requirements defined for the sender.',
  },
  {
    name: 'orange-connections', family: 'orange', match: String.raw`OFR004_104`,
    trigger: null, action: 'one_connection', factor: null, durationMs: 1 * H,
    sample: '421 mwinf5c10 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR004_104 [104]',
  },
  {
    name: 'orange-refused', family: 'orange', match: String.raw`OFR_999`,
    trigger: null, action: 'suspend', factor: null, durationMs: 1 * H,
    sample: '421 mwinf5c79 ME Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR_999 [999]',
  },
  {
    name: 'gmx-too-many', family: 'gmx', match: String.raw`^421 .*Too many messages`,
    trigger: null, action: 'cut_rate', factor: 0.5, durationMs: 2 * H,
    sample: '421 gmx.net (mxgmx017) Nemesis ESMTP Service not available. Too many messages from 203.0.113.11; please try again later',
  },
  {
    name: 'gmx-policy', family: 'gmx', match: String.raw`Reject due to policy restrictions|block ?listed`,
    trigger: null, action: 'suspend', factor: null, durationMs: 2 * H,
    sample: '554-gmx.net (mxgmx114) Nemesis ESMTP Service not available 554-No SMTP service 554-Reject due to policy restrictions.',
  },
  {
    name: 'icloud-deferred', family: 'apple', match: String.raw`\[HCM1\]`,
    trigger: null, action: 'suspend', factor: null, durationMs: 15 * M,
    sample: '421 4.7.0 [HCM1] Messages from 203.0.113.11 temporarily deferred due to unexpected volume or user complaints.',
  },
  {
    name: 'yahoo-japan-ip-deferred', family: 'yahoo-japan', match: String.raw`VS98-IP0`,
    trigger: null, action: 'suspend', factor: null, durationMs: 1 * H,
    sample: '553 VS98-IP0 Message from 203.0.113.11 was deferred. Please try again later.',
  },
  {
    name: 'au-reset', family: 'au', match: String.raw`^ECONNRESET: `,
    trigger: { count: 5, windowMs: 1 * H }, action: 'suspend', factor: null, durationMs: 1 * H,
    sample: 'ECONNRESET: read ECONNRESET',
  },
  {
    name: 'docomo-unknown-user', family: 'docomo', match: String.raw`^550 .*Unknown user`,
    trigger: null, action: 'slow_mailbox', factor: null, durationMs: 24 * H,
    sample: '550 5.1.1 <warmup.seed07@docomo.ne.jp>: Unknown user',
  },
  // Generic 5xx reputation answers of any receiver (Postfix, Exim, hosted filters). A mailbox answer
  // (5.1.x) is list hygiene, never matched. Three matches in six hours, not one: a generic word such
  // as "blocked" can be about one message's content; six hours so that a lane sending a few messages
  // an hour (day 1) is held after three too. The rejection breaker covers the rest.
  {
    name: 'generic-poor-reputation', family: 'any', match: String.raw`^5\d\d (?!5\.1\.)(?=.*\b(?:poor|bad|low|negative)\b[\w\s-]{0,20}\breputation\b)`,
    trigger: { count: 3, windowMs: 6 * H }, action: 'pause', factor: null, durationMs: null,
    sample: '554 5.7.1 <unknown[203.0.113.11]>: Client host rejected: Rejected: poor IP reputation',
  },
  {
    name: 'generic-blocked', family: 'any', match: String.raw`^5\d\d (?!5\.1\.)(?=.*\b(?:blocked|block ?listed|black ?listed|deny ?listed)\b)`,
    trigger: { count: 3, windowMs: 6 * H }, action: 'pause', factor: null, durationMs: null,
    sample: '554 5.7.1 Service unavailable; Client host [203.0.113.11] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.11',
  },
  {
    name: 'generic-listed', family: 'any', match: String.raw`^5\d\d (?!5\.1\.)(?=.*\b(?:is|are|was|been|currently) listed\b|.*\blisted (?:on|in|at|by)\b)`,
    trigger: { count: 3, windowMs: 6 * H }, action: 'pause', factor: null, durationMs: null,
    sample: '550 5.7.1 Mail from IP 203.0.113.11 was rejected: the address is listed on bl.spamcop.net',
  },
]);

/** The families map onto plan providers through their domains and MX suffixes. */
export const FAMILY_DOMAINS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  gmail: ['gmail.com', 'googlemail.com', '.google.com', '.googlemail.com'],
  yahoo: ['yahoo.com', 'ymail.com', 'aol.com', 'rocketmail.com', '.yahoodns.net'],
  microsoft: ['outlook.com', 'hotmail.com', 'live.com', 'msn.com', '.outlook.com', '.protection.outlook.com'],
  orange: ['orange.fr', 'wanadoo.fr'],
  gmx: ['gmx.net', 'gmx.de', 'gmx.com', 'web.de'],
  apple: ['icloud.com', 'me.com', 'mac.com'],
  'yahoo-japan': ['yahoo.co.jp'],
  au: ['au.com', 'ezweb.ne.jp'],
  docomo: ['docomo.ne.jp'],
});
