import { describe, expect, it } from 'vitest';
import { tallyReply, type ReplyTally } from '../../src/store/reply-tallies.js';
import type { Outcome } from '../../src/store/schema.js';

/**
 * Reply texts of the kinds in the deliverability reference (Gmail, Yahoo, Microsoft, Orange,
 * GMX, iCloud, greylisting, unknown users, a local failure without a reply), each with the shape
 * and the `reply_key` its `lane_replies` row is stored under. Databases hold these keys: a
 * write must find the row an older version wrote for the same reply, so they must never change.
 */
const PINNED: ReadonlyArray<readonly [Outcome, string | null, string, string]> = [
  ['deferred',
    '421-4.7.28 [127.0.0.5] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. a640c23a62f3a-ad8a1b2c3d4si12345666b.210 - gsmtp',
    '421-4.7.28 [127.0.0.5] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. a640c23a62f3a-ad8a1b2c3d4si12345666b.210 - gsmtp',
    'BwK3XUXJ3YfcMVh0kb11u059'],
  ['deferred',
    '421 4.7.0 This message is suspicious due to the nature of the content or the links within. 5b1f17b1804b1-45a1c2f3b0dsi1234f.9 - gsmtp',
    '421 4.7.0 This message is suspicious due to the nature of the content or the links within. 5b1f17b1804b1-45a1c2f3b0dsi1234f.9 - gsmtp',
    'ZnPFpmxm7XTUO-qioWtNQ7g5'],
  ['deferred',
    '450 4.2.1 <seed3@gmail.com>: The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.',
    '450 4.2.1 <…>: The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.',
    '4tT-YjsyPCyOxYqh1AOybZwW'],
  ['bounced',
    '550 5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. Authentication results: DKIM = did not pass SPF [sender.test] with ip: [127.0.0.5] = did not pass',
    '550 5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. Authentication results: DKIM = did not pass SPF [sender.test] with ip: [127.0.0.5] = did not pass',
    'YK8jAduZPD5TuLbE6xL8tIKv'],
  ['deferred',
    '421 4.7.0 [TSS04] Messages from 127.0.0.5 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes',
    '421 4.7.0 [TSS04] Messages from 127.0.0.5 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes',
    'rBaodqjPwfPfG5Rr9zi6sMwv'],
  ['bounced',
    "553 5.7.1 [BL21] Connections will not be accepted from 127.0.0.7, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
    "553 5.7.1 [BL21] Connections will not be accepted from 127.0.0.7, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
    '4LcrIHS7dggb3mlUpoWuGwBP'],
  ['bounced',
    '554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes',
    '554 5.7.9 Message not accepted for policy reasons. See https://postmaster.yahooinc.com/error-codes',
    'GhRwZZnIS2V-sMMwUkOmNdtz'],
  ['deferred',
    '451 4.7.650 The mail server [127.0.0.5] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775) [AM4PEPF00027A60.eurprd04.prod.outlook.com 2025-03-04T10:11:12.345Z 08DD5A1B2C3D4E60]',
    '451 4.7.650 The mail server [127.0.0.5] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775) [AM4PEPF00027A60.eurprd04.prod.outlook.com 2025-03-04T10:11:12.345Z …]',
    'gVLRnxkIVRNBNWXU3PxkFP0J'],
  ['bounced',
    "550 5.7.1 Unfortunately, messages from [127.0.0.9] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [DM6NAM12FT055.eop-nam12.prod.protection.outlook.com 2025-03-05T11:00:00.000Z 08DD5A1B2C3D4E99]",
    "550 5.7.1 Unfortunately, messages from [127.0.0.9] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [DM6NAM12FT055.eop-nam12.prod.protection.outlook.com 2025-03-05T11:00:00.000Z …]",
    '6iN7p4c2uXGrm2PqjQDDoe68'],
  ['bounced',
    '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient seed7@outlook.com not found by SMTP address lookup',
    '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient …@… not found by SMTP address lookup',
    'miq3t-ktW1UrNJ_3e4FBp0Dz'],
  ['deferred',
    '421 mwinf5c20 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR004_104 [104]',
    '421 mwinf5c20 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR004_104 [104]',
    'RlLWxFOJlcEd4BM9OJCnFvqu'],
  ['deferred',
    '421 Too many messages (3.1.2) from 127.0.0.5 in a short time. Please slow down.',
    '421 Too many messages (3.1.2) from 127.0.0.5 in a short time. Please slow down.',
    'snf5Hc5a4rmJeCo4V_Q8pScW'],
  ['deferred',
    '421 4.7.0 [HCM1] Messages from 127.0.0.5 deferred due to policy reasons.',
    '421 4.7.0 [HCM1] Messages from 127.0.0.5 deferred due to policy reasons.',
    'Tvf833Fs4jXSN8LyPOFQ1BhJ'],
  ['deferred',
    '450 4.2.0 <a1@grey.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/grey.test.html',
    '450 4.2.0 <…>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/grey.test.html',
    'ileicM8Z2NjYNwgINiZ9-204'],
  ['bounced',
    '550 5.1.1 <nobody@docomo.ne.jp>: Recipient address rejected: User unknown',
    '550 5.1.1 <…>: Recipient address rejected: User unknown',
    'WRRzQTNdEfotxHefous-LL0h'],
  ['deferred',
    'host mx.test[127.0.0.53] said: 451 4.3.0 Error: queue file write error (queue id 4F2A1B2C3D5E)',
    'host mx.test[127.0.0.53] said: 451 4.3.0 Error: queue file write error (queue id …)',
    '8Qmx0hBSs55faxCSWMt-ZVrB'],
  ['timeout',
    null,
    '(timeout, no reply)',
    '_UdcNXBC8ZRgymlmLRYzzLe2'],
  ['network',
    'ECONNREFUSED: connect ECONNREFUSED 127.0.0.57:25',
    'ECONNREFUSED: connect ECONNREFUSED 127.0.0.57:25',
    'N1FPOCahRyRi3oI_HDsgAf5j'],
];

describe('tallyReply', () => {
  it.each(PINNED)('stores a %s reply under the key older databases hold (%s)', (outcome, reply, shape, key) => {
    const tallies = new Map<string, ReplyTally>();
    tallyReply(tallies, { laneId: 1, day: '2026-12-01', outcome, reply });
    expect([...tallies.values()]).toEqual([{ lane_id: 1, day: '2026-12-01', outcome, reply_key: key, reply: shape, n: 1 }]);
  });

  it('counts replies that differ only by address or queue id under one key', () => {
    const tallies = new Map<string, ReplyTally>();
    for (const [who, qid] of [['a1@grey.test', '4F2A1B2C3D5E'], ['zz-9@grey.test', 'A0B1C2D3E4F5']]) {
      tallyReply(tallies, { laneId: 1, day: '2026-12-01', outcome: 'deferred', reply: `450 4.2.0 <${who}>: Recipient address rejected: Greylisted (queue id ${qid})` });
    }
    expect([...tallies.values()].map((t) => [t.reply, t.n])).toEqual([['450 4.2.0 <…>: Recipient address rejected: Greylisted (queue id …)', 2]]);
  });

  it('counts nothing for an acceptance', () => {
    const tallies = new Map<string, ReplyTally>();
    tallyReply(tallies, { laneId: 1, day: '2026-12-01', outcome: 'accepted', reply: '250 2.0.0 Ok: queued as 4F2A1B2C3D' });
    expect(tallies.size).toBe(0);
  });
});
