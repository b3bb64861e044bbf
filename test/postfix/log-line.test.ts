import { describe, expect, it } from 'vitest';
import { isTransportMapsFailure, parseDeliveryLine } from '../../src/postfix/log-line.js';

// Lines as Postfix 3.7 wrote them here (maillog_file), and the texts it uses for failures.
const SENT = 'Nov 30 05:31:01 app-mta postfix-warmup/127.0.0.151/smtp[26063]: 4jdCKt1nPVzJ9DH: to=<R1-i13@postfix.test>, relay=mx.postfix.test[127.0.0.53]:25, delay=3.7, delays=3.7/0.03/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as E4BE220CBC8)';
const REJECTED = 'Nov 30 05:40:12 app-mta postfix-warmup/127.0.0.152/smtp[3011]: 4jdD2m0Qx9zJ9DH: to=<r4@postfix.test>, relay=mx.postfix.test[127.0.0.53]:25, delay=0.05, delays=0.01/0/0.02/0.01, dsn=5.7.1, status=bounced (host mx.postfix.test[127.0.0.53] said: 554 5.7.1 <unknown[127.0.0.152]>: Client host rejected: blocked (in reply to RCPT TO command))';
const RATE = 'Nov 30 05:41:00 app-mta postfix-warmup/127.0.0.153/smtp[3012]: 4jdD3X: to=<x@ratelimit.test>, orig_to=<alias@ratelimit.test>, relay=mx.ratelimit.test[127.0.0.54]:25, delay=0.1, delays=0/0/0.05/0.05, dsn=4.7.1, status=deferred (host mx.ratelimit.test[127.0.0.54] said: 450 4.7.1 Error: too much mail from 127.0.0.153 (in reply to MAIL FROM command))';
const REFUSED = 'Nov 30 05:42:00 app-mta postfix-warmup/127.0.0.154/smtp[3013]: 4jdD4Y: to=<y@dead.test>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.dead.test[127.0.0.57]:25: Connection refused)';
const NODOMAIN = 'Nov 30 05:43:00 app-mta postfix-warmup/127.0.0.154/smtp[3014]: 4jdD5Z: to=<z@nx.test>, relay=none, delay=0.1, delays=0/0/0.1/0, dsn=5.4.4, status=bounced (Host or domain name not found. Name service error for name=nx.test type=A: Host not found)';

describe('parseDeliveryLine', () => {
  it('reads an accepted delivery: IP from the syslog name, queue id, lower-cased recipient, relay, dsn', () => {
    expect(parseDeliveryLine(SENT)).toMatchObject({
      ip: '127.0.0.151', queueId: '4jdCKt1nPVzJ9DH', recipient: 'r1-i13@postfix.test', relayHost: 'mx.postfix.test', relayAddress: '127.0.0.53',
      dsn: '2.0.0', status: 'sent', delaySeconds: 3.7,
      result: { outcome: 'accepted', code: 250, enhanced: '2.0.0', stage: 'dot', final: true, mailboxSignal: false },
    });
  });

  it('reads the remote reply and its SMTP stage from a rejection', () => {
    expect(parseDeliveryLine(REJECTED)?.result).toEqual({
      outcome: 'bounced', code: 554, enhanced: '5.7.1', text: '554 5.7.1 <unknown[127.0.0.152]>: Client host rejected: blocked',
      stage: 'rcpt', final: true, mailboxSignal: false, rejection: 'policy',
    });
    expect(parseDeliveryLine(RATE)).toMatchObject({ recipient: 'x@ratelimit.test', status: 'deferred', result: { outcome: 'deferred', code: 450, enhanced: '4.7.1', stage: 'mail', final: false } });
  });

  it('classifies failures without a reply: connection refused is network, an unknown domain is dns', () => {
    expect(parseDeliveryLine(REFUSED)).toMatchObject({ relayHost: null, status: 'deferred', result: { outcome: 'network', code: null, enhanced: '4.4.1', final: false } });
    expect(parseDeliveryLine(NODOMAIN)).toMatchObject({ status: 'bounced', result: { outcome: 'dns', final: true } });
    expect(parseDeliveryLine(REFUSED)!.result.text).toMatch(/^ECONNREFUSED: connect to mx\.dead\.test/);
  });

  it.each([
    ['another transport', SENT.replace('postfix-warmup/127.0.0.151/smtp', 'postfix/smtp')],
    ['the retry transport answering a deferred lookup', 'Nov 30 05:30:59 app-mta postfix/error[25952]: 4jdCKt4lQ5zJBWg: to=<r6@postfix.test>, relay=none, delay=1.2, delays=1.2/0.03/0/0.01, dsn=4.7.0, status=deferred (warm-up capacity exhausted)'],
    ['a queue manager line', 'Nov 30 05:31:01 app-mta postfix/qmgr[25771]: 4jdCKt1nPVzJ9DH: from=<app@warmup.test>, size=420, nrcpt=1 (queue active)'],
    ['a resolver failure while warmup is down', 'Nov 30 05:50:00 app-mta postfix/qmgr[1]: 4jdX: to=<a@postfix.test>, relay=none, delay=1, delays=1/0/0/0, dsn=4.3.0, status=deferred (address resolver failure)'],
    ['a truncated line', SENT.slice(0, 80)],
    ['an empty line', ''],
  ])('ignores %s', (_, line) => {
    expect(parseDeliveryLine(line)).toBeNull();
  });

  it('follows a custom syslog prefix', () => {
    expect(parseDeliveryLine(SENT.replace('postfix-warmup/', 'pf-wu/'), 'pf-wu')?.ip).toBe('127.0.0.151');
    expect(parseDeliveryLine(SENT, 'pf-wu')).toBeNull();
  });
});

describe('isTransportMapsFailure', () => {
  it('finds trivial-rewrite failing to ask transport_maps, and nothing else', () => {
    // Both seen with Postfix 3.7 and a socketmap it could not reach (a chrooted rewrite service).
    expect(isTransportMapsFailure('Dec 01 10:37:51 app-mta postfix/trivial-rewrite[23410]: warning: transport_maps lookup failure')).toBe(true);
    expect(isTransportMapsFailure('2026-12-01T10:37:51.123456+00:00 mta postfix-out/trivial-rewrite[7]: warning: transport_maps lookup failure')).toBe(true);
    expect(isTransportMapsFailure('Dec 01 10:37:52 app-mta postfix/error[23413]: D465621A5D5: to=<someone@example.test>, relay=none, delay=0.49, delays=0.23/0.14/0/0.12, dsn=4.3.0, status=deferred (address resolver failure)')).toBe(false);
    expect(isTransportMapsFailure('Dec 01 10:37:52 app-mta postfix/smtpd[1]: warning: transport_maps lookup failure')).toBe(false);
  });
});
