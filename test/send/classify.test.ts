import { describe, expect, it } from 'vitest';
import { classifyAttempt, parseReply, type AttemptOutcome, type SmtpStage } from '../../src/send/classify.js';

interface ReplyCase {
  name: string;
  stage: SmtpStage;
  reply: string;
  outcome: AttemptOutcome;
  code: number;
  enhanced: string | null;
  final: boolean;
  mailbox: boolean;
  /** A phrase a rule would look for; it must survive line joining. */
  contains: string;
  /** Greylisting as the text shows it (absent: not greylisting). */
  greylist?: 'certain' | 'likely';
}

// Reply texts as the providers send them (IPs, hostnames and ids replaced).
const replies: ReplyCase[] = [
  {
    name: 'Gmail 421 4.7.28 rate limit',
    stage: 'dot',
    reply: [
      '421-4.7.28 [203.0.113.10      15] Our system has detected an unusual rate of',
      '421-4.7.28 unsolicited mail originating from your IP address. To protect our',
      '421-4.7.28 users from spam, mail sent from your IP address has been temporarily',
      '421-4.7.28 rate limited. Please visit',
      '421-4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError to',
      '421 4.7.28 review our Bulk Email Senders Guidelines. d75a77b69052e-4b0f0c1f5c2si12345qtb.512 - gsmtp',
    ].join('\r\n'),
    outcome: 'deferred',
    code: 421,
    enhanced: '4.7.28',
    final: false,
    mailbox: false,
    contains: 'unusual rate of unsolicited mail originating from your IP address',
  },
  {
    name: 'Gmail 421 4.7.0 domain reputation',
    stage: 'dot',
    reply: [
      '421-4.7.0 This message is suspicious due to the very low reputation of the',
      '421-4.7.0 sending domain. To best protect our users from spam, the message has',
      '421-4.7.0 been blocked. Please visit',
      '421 4.7.0  https://support.google.com/mail/answer/188131 for more information. 5b1f17b1804b1-45a1c2f3b0dsi1234f.9 - gsmtp',
    ].join('\r\n'),
    outcome: 'deferred',
    code: 421,
    enhanced: '4.7.0',
    final: false,
    mailbox: false,
    contains: 'very low reputation of the sending domain',
  },
  {
    name: 'Gmail 450 4.2.1 per-mailbox rate',
    stage: 'rcpt',
    reply: [
      '450-4.2.1 The user you are trying to contact is receiving mail at a rate that',
      '450-4.2.1 prevents additional messages from being delivered. Please resend your',
      '450-4.2.1 message at a later time. If the user is able to receive mail at that',
      '450-4.2.1 time, your message will be delivered. For more information, go to',
      '450 4.2.1  https://support.google.com/mail/?p=ReceivingRate 41be03b00d2f7-b4f1d0c9a8bsi123456a12.200 - gsmtp',
    ].join('\r\n'),
    outcome: 'deferred',
    code: 450,
    enhanced: '4.2.1',
    final: false,
    mailbox: true,
    contains: 'receiving mail at a rate that prevents additional messages',
  },
  {
    name: 'Gmail 550 5.7.1 block',
    stage: 'dot',
    reply: [
      '550-5.7.1 [203.0.113.10      12] Our system has detected an unusual rate of',
      '550-5.7.1 unsolicited mail originating from your IP address. To protect our',
      '550-5.7.1 users from spam, mail sent from your IP address has been blocked.',
      '550-5.7.1 Please visit',
      '550-5.7.1  https://support.google.com/mail/?p=UnsolicitedIPError to review our',
      '550 5.7.1 Bulk Email Senders Guidelines. a640c23a62f3a-ad8a1b2c3d4si12345666b.210 - gsmtp',
    ].join('\r\n'),
    outcome: 'bounced',
    code: 550,
    enhanced: '5.7.1',
    final: true,
    mailbox: false,
    contains: 'mail sent from your IP address has been blocked',
  },
  {
    name: 'Gmail 550 5.7.26 authentication',
    stage: 'dot',
    reply: [
      '550-5.7.26 This mail has been blocked because the sender is unauthenticated.',
      '550-5.7.26 This message does not have authentication information or fails to',
      '550-5.7.26 pass authentication checks. To best protect our users from spam, the',
      '550-5.7.26 message has been blocked. Please visit',
      '550-5.7.26  https://support.google.com/mail/answer/81126#authentication for more',
      '550 5.7.26 information. 6a1803df08f44-6fb0a1b2c3dsi1234567d6.123 - gsmtp',
    ].join('\r\n'),
    outcome: 'bounced',
    code: 550,
    enhanced: '5.7.26',
    final: true,
    mailbox: false,
    contains: 'fails to pass authentication checks',
  },
  {
    name: 'Yahoo TSS04 temporary deferral',
    stage: 'mail',
    reply:
      '421 4.7.0 [TSS04] Messages from 203.0.113.10 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes',
    outcome: 'deferred',
    code: 421,
    enhanced: '4.7.0',
    final: false,
    mailbox: false,
    contains: '[TSS04]',
  },
  {
    name: 'Yahoo TS03 permanent deferral',
    stage: 'greeting',
    reply:
      '421 4.7.0 [TS03] All messages from 203.0.113.10 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes',
    outcome: 'deferred',
    code: 421,
    enhanced: '4.7.0',
    final: false,
    mailbox: false,
    contains: 'permanently deferred',
  },
  {
    name: 'Yahoo [BL21] DNSBL listing',
    stage: 'greeting',
    reply:
      "553 5.7.1 [BL21] Connections will not be accepted from 203.0.113.10, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
    outcome: 'bounced',
    code: 553,
    enhanced: '5.7.1',
    final: true,
    mailbox: false,
    contains: '[BL21]',
  },
  {
    name: 'Microsoft 451 4.7.650 S775',
    stage: 'rcpt',
    reply:
      '451 4.7.650 The mail server [203.0.113.10] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775) [Name=Protocol Filter Agent][AGT=PFA][MxId=11BAD7A8B2C3D4E5] [DM6NAM12FT055.eop-nam12.prod.protection.outlook.com 2025-03-04T10:11:12.345Z 08DD5A1B2C3D4E5F]',
    outcome: 'deferred',
    code: 451,
    enhanced: '4.7.650',
    final: false,
    mailbox: false,
    contains: '(S775)',
  },
  {
    name: 'Microsoft 550 5.7.1 S3150',
    stage: 'rcpt',
    reply:
      "550 5.7.1 Unfortunately, messages from [203.0.113.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [AM4PEPF00027A60.eurprd04.prod.outlook.com 2025-03-04T10:11:12.345Z 08DD5A1B2C3D4E60]",
    outcome: 'bounced',
    code: 550,
    enhanced: '5.7.1',
    final: true,
    mailbox: false,
    contains: 'on our block list (S3150)',
  },
  {
    name: 'Microsoft 550 5.7.515 authentication level',
    stage: 'dot',
    reply:
      "550 5.7.515 Access denied, sending domain [EXAMPLE.COM] does not meet the required authentication level. The sender's domain in the 5322.From address doesn't meet the authentication requirements defined for the sender. To learn more, see https://go.microsoft.com/fwlink/?linkid=2296423 [SN1PEPF000252A4.namprd05.prod.outlook.com 2025-05-05T12:13:14.567Z 08DD8B1C2D3E4F50]",
    outcome: 'bounced',
    code: 550,
    enhanced: '5.7.515',
    final: true,
    mailbox: false,
    contains: 'does not meet the required authentication level',
  },
  {
    name: 'Orange OFR004_104 too many connections',
    stage: 'greeting',
    reply: '421 mwinf5c15 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR004_104 [104]',
    outcome: 'deferred',
    code: 421,
    enhanced: null,
    final: false,
    mailbox: false,
    contains: 'OFR004_104',
  },
  {
    name: 'GMX policy restriction (multi-line, no enhanced code)',
    stage: 'greeting',
    reply: [
      '421-gmx.net (mxgmx114) Nemesis ESMTP Service not available',
      '421-Service unavailable',
      '421-Reject due to policy restrictions.',
      '421 For explanation visit https://postmaster.gmx.net/en/error-messages?ip=203.0.113.10&c=sp',
    ].join('\r\n'),
    outcome: 'deferred',
    code: 421,
    enhanced: null,
    final: false,
    mailbox: false,
    contains: 'Service unavailable Reject due to policy restrictions.',
  },
  {
    name: 'GMX block listed',
    stage: 'greeting',
    reply: [
      '554-gmx.net (mxgmx017) Nemesis ESMTP Service not available',
      '554-No SMTP service',
      '554-IP address is block listed.',
      '554 For explanation visit https://postmaster.gmx.net/en/case?c=r0601&i=ip&v=203.0.113.10&r=1MKtsF-1uJ9aB0pQR-00LmNo',
    ].join('\r\n'),
    outcome: 'bounced',
    code: 554,
    enhanced: null,
    final: true,
    mailbox: false,
    contains: 'block listed',
  },
  {
    name: 'iCloud HCM1 deferral',
    stage: 'rcpt',
    reply:
      '421 4.7.0 [HCM1] Messages from 203.0.113.10 temporarily deferred due to unexpected volume or user complaints. Please visit https://support.apple.com/en-us/102322',
    outcome: 'deferred',
    code: 421,
    enhanced: '4.7.0',
    final: false,
    mailbox: false,
    contains: '[HCM1]',
  },
  {
    name: 'Yahoo! JAPAN VS98-IP0 (a 5xx the provider means as a deferral)',
    stage: 'mail',
    reply: '553 VS98-IP0 Messages from 203.0.113.10 temporarily deferred due to unexpected volume or user complaints',
    outcome: 'bounced',
    code: 553,
    enhanced: null,
    final: true,
    mailbox: false,
    contains: 'VS98-IP0',
  },
  {
    name: 'docomo unknown user',
    stage: 'rcpt',
    reply: '550 Unknown user seed-01@docomo.ne.jp',
    outcome: 'bounced',
    code: 550,
    enhanced: null,
    final: true,
    mailbox: true,
    contains: 'Unknown user',
  },
  {
    name: 'Postfix 5.1.1 user unknown',
    stage: 'rcpt',
    reply: '550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in virtual mailbox table',
    outcome: 'bounced',
    code: 550,
    enhanced: '5.1.1',
    final: true,
    mailbox: true,
    contains: 'User unknown',
  },
  {
    name: "Postfix's own client message rate limit",
    stage: 'mail',
    reply: '450 4.7.0 Error: too much mail from 127.0.0.9',
    outcome: 'deferred',
    code: 450,
    enhanced: '4.7.0',
    final: false,
    mailbox: false,
    contains: 'too much mail from',
  },
  {
    name: 'postgrey greylisting (4.2.0 is not a mailbox signal)',
    stage: 'rcpt',
    reply:
      '450 4.2.0 <seed-01@example.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.test.html',
    outcome: 'deferred',
    code: 450,
    enhanced: '4.2.0',
    final: false,
    mailbox: false,
    contains: 'Greylisted',
    greylist: 'certain',
  },
  {
    name: 'sqlgrey greylisting with 4.7.1',
    stage: 'rcpt',
    reply: '450 4.7.1 <seed-02@example.test>: Recipient address rejected: Greylisted for 5 minutes (in reply to RCPT TO command)',
    outcome: 'deferred',
    code: 450,
    enhanced: '4.7.1',
    final: false,
    mailbox: false,
    contains: 'Greylisted for 5 minutes',
    greylist: 'certain',
  },
  {
    name: 'rspamd greylisting (no word for it: likely, confirmed by the retry)',
    stage: 'dot',
    reply: '451 4.7.1 Try again later',
    outcome: 'deferred',
    code: 451,
    enhanced: '4.7.1',
    final: false,
    mailbox: false,
    contains: 'Try again later',
    greylist: 'likely',
  },
  {
    name: "Postfix's client message rate limit at 4.7.1 is not greylisting",
    stage: 'mail',
    reply: '450 4.7.1 Error: too much mail from 127.0.0.2',
    outcome: 'deferred',
    code: 450,
    enhanced: '4.7.1',
    final: false,
    mailbox: false,
    contains: 'too much mail from 127.0.0.2',
  },
  {
    name: 'Postfix 554 client host rejected (a policy rejection)',
    stage: 'rcpt',
    reply: '554 5.7.1 <unknown[127.0.0.11]>: Client host rejected: Rejected: poor IP reputation',
    outcome: 'bounced',
    code: 554,
    enhanced: '5.7.1',
    final: true,
    mailbox: false,
    contains: 'poor IP reputation',
  },
  {
    name: 'Microsoft 550 5.1.10 recipient not found (list hygiene)',
    stage: 'rcpt',
    reply: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient nobody@outlook.com not found by SMTP address lookup',
    outcome: 'bounced',
    code: 550,
    enhanced: '5.1.10',
    final: true,
    mailbox: true,
    contains: 'RecipientNotFound',
  },
  {
    name: 'accepted at the final dot',
    stage: 'dot',
    reply: '250 2.0.0 OK  1741083072 d75a77b69052e-4b0f0c1f5c2si12345qtb.512 - gsmtp',
    outcome: 'accepted',
    code: 250,
    enhanced: '2.0.0',
    final: true,
    mailbox: false,
    contains: 'gsmtp',
  },
];

describe('classifyAttempt on server replies', () => {
  it.each(replies)('$name is $outcome', (c) => {
    const r = classifyAttempt({ reply: c.reply, stage: c.stage });
    expect(r).toMatchObject({ outcome: c.outcome, code: c.code, enhanced: c.enhanced, final: c.final, stage: c.stage });
    expect(r.mailboxSignal).toBe(c.mailbox);
    expect(r.greylisting).toBe(c.greylist);
    // Every 5xx is either list hygiene (about the mailbox) or a policy rejection (about the sender).
    expect(r.rejection).toBe(c.outcome === 'bounced' ? (c.mailbox ? 'hygiene' : 'policy') : undefined);
    expect(r.text).toContain(c.contains);
    expect(r.text).not.toMatch(/[\r\n]/);
    expect(r.text.startsWith(c.enhanced ? `${c.code} ${c.enhanced} ` : `${c.code} `)).toBe(true);
  });
});

describe('parseReply', () => {
  it('joins continuation lines and drops the repeated enhanced code', () => {
    expect(parseReply('450-4.2.1 first line\r\n450-4.2.1 second\r\n450 4.2.1 third')).toEqual({
      code: 450,
      enhanced: '4.2.1',
      text: '450 4.2.1 first line second third',
    });
  });
  it('uses the given code when the text has none', () => {
    expect(parseReply('4.7.0 Try again later', 421)).toEqual({ code: 421, enhanced: '4.7.0', text: '421 4.7.0 Try again later' });
  });
  it('does not take a version-like number later in the text for an enhanced code', () => {
    expect(parseReply('421 Service not available, closing channel 4.1.2').enhanced).toBeNull();
  });
});

/** An error shaped like the ones node:net and nodemailer produce. */
function err(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

interface ErrorCase {
  name: string;
  error: unknown;
  stage?: SmtpStage;
  expected: Partial<Record<'outcome' | 'stage' | 'errorCode' | 'code' | 'enhanced', unknown>> & { final: boolean };
}

const errors: ErrorCase[] = [
  {
    name: 'connection refused',
    error: err('connect ECONNREFUSED 127.0.0.53:25', { code: 'ESOCKET', originalCode: 'ECONNREFUSED', command: 'CONN' }),
    stage: 'connect',
    expected: { outcome: 'network', stage: 'connect', errorCode: 'ECONNREFUSED', code: null, final: false },
  },
  {
    name: 'TCP reset before the greeting (au/KDDI style) is a retryable network event',
    error: err('read ECONNRESET', { code: 'ECONNRESET', errno: -104, syscall: 'read' }),
    stage: 'greeting',
    expected: { outcome: 'network', stage: 'greeting', errorCode: 'ECONNRESET', final: false },
  },
  {
    name: 'connect timeout',
    error: err('Connection timeout', { code: 'ETIMEDOUT', timeoutType: 'CONNECT_TIMEOUT', command: 'CONN' }),
    expected: { outcome: 'timeout', stage: 'connect', errorCode: 'ETIMEDOUT', final: false },
  },
  {
    name: 'greeting timeout',
    error: err('Greeting never received', { code: 'ETIMEDOUT', timeoutType: 'GREETING_TIMEOUT', command: 'CONN' }),
    expected: { outcome: 'timeout', stage: 'greeting', final: false },
  },
  {
    name: '421 instead of the greeting',
    error: err('Invalid greeting. response=421 4.7.0 Try again later: 421 4.7.0 Try again later', {
      code: 'EPROTOCOL',
      response: '421 4.7.0 Try again later',
      responseCode: 421,
      command: 'CONN',
    }),
    stage: 'greeting',
    expected: { outcome: 'deferred', code: 421, enhanced: '4.7.0', stage: 'greeting', errorCode: 'EPROTOCOL', final: false },
  },
  {
    name: '550 at RCPT as nodemailer reports it',
    error: err("Can't send mail - all recipients were rejected: 550 5.1.1 No such user", {
      code: 'EENVELOPE',
      response: '550 5.1.1 No such user',
      responseCode: 550,
      command: 'RCPT TO',
    }),
    expected: { outcome: 'bounced', code: 550, stage: 'rcpt', final: true },
  },
  {
    name: '451 after the final dot',
    error: err('Message failed: 451 4.3.0 Temporary failure', { code: 'EMESSAGE', response: '451 4.3.0 Temporary failure', command: 'DATA' }),
    expected: { outcome: 'deferred', code: 451, stage: 'dot', final: false },
  },
  {
    name: '554 to the DATA command',
    error: err('Data command failed: 554 5.5.1 No valid recipients', { code: 'EENVELOPE', response: '554 5.5.1 No valid recipients', command: 'DATA' }),
    expected: { outcome: 'bounced', stage: 'data', final: true },
  },
  {
    name: 'STARTTLS required but refused by the server',
    error: err('Error upgrading connection with STARTTLS: 502 5.5.1 Unrecognized command', {
      code: 'ETLS',
      response: '502 5.5.1 Unrecognized command',
      command: 'STARTTLS',
    }),
    expected: { outcome: 'tls', code: 502, stage: 'starttls', errorCode: 'ETLS', final: false },
  },
  {
    name: 'TLS handshake garbage',
    error: err('ssl3_get_record:wrong version number', { code: 'ESOCKET', originalCode: 'ERR_SSL_WRONG_VERSION_NUMBER', command: 'CONN' }),
    stage: 'starttls',
    expected: { outcome: 'tls', errorCode: 'ERR_SSL_WRONG_VERSION_NUMBER', final: false },
  },
  {
    name: 'connection closed while upgrading',
    error: err('Connection closed unexpectedly', { code: 'ETLS', command: 'CONN' }),
    stage: 'starttls',
    expected: { outcome: 'tls', final: false },
  },
  {
    name: 'unexpected response',
    error: err('Unexpected Response: 250 hello', { code: 'EPROTOCOL', response: '250 hello', command: 'CONN' }),
    stage: 'greeting',
    expected: { outcome: 'protocol', code: 250, final: false },
  },
  {
    name: 'local misuse is final',
    error: err('Invalid recipient "x"', { code: 'EENVELOPE', command: 'API' }),
    expected: { outcome: 'protocol', final: true },
  },
  {
    name: 'a dropped connection after DATA',
    error: err('Connection closed unexpectedly', { code: 'ECONNECTION', command: 'CONN' }),
    stage: 'dot',
    expected: { outcome: 'network', stage: 'dot', errorCode: 'ECONNECTION', final: false },
  },
  {
    name: 'a thrown string',
    error: 'boom',
    expected: { outcome: 'network', stage: 'connect', errorCode: 'EUNKNOWN', final: false },
  },
];

describe('classifyAttempt on errors', () => {
  it.each(errors)('$name', (c) => {
    const r = classifyAttempt(c.stage ? { error: c.error, stage: c.stage } : { error: c.error });
    expect(r).toMatchObject(c.expected);
    expect(r.text).not.toMatch(/[\r\n]/);
  });

  it('keeps the error code in the text when there is no reply, so rules can match resets', () => {
    const r = classifyAttempt({ error: err('read ECONNRESET', { code: 'ECONNRESET' }), stage: 'greeting' });
    expect(r.text).toBe('ECONNRESET: read ECONNRESET');
    expect(r.mailboxSignal).toBeUndefined();
  });
});
