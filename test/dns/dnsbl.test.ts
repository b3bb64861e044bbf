import { describe, expect, it } from 'vitest';
import { decodeDnsblAnswer, dnsblQueryName, isSpamhausZone, judgeZone, type DnsblVerdict } from '../../src/dns/dnsbl.js';
import { createPacer } from '../../src/dns/pacer.js';

describe('dnsblQueryName', () => {
  it.each([
    ['203.0.113.10', 'zen.spamhaus.org', '10.113.0.203.zen.spamhaus.org'],
    ['127.0.0.2', 'zen.dnsbl.test.', '2.0.0.127.zen.dnsbl.test'],
    ['1.2.3.4', 'B.Barracudacentral.ORG', '4.3.2.1.b.barracudacentral.org'],
  ])('asks %s in %s as %s', (ip, zone, name) => {
    expect(dnsblQueryName(ip, zone)).toBe(name);
  });

  it.each(['2001:db8::1', 'mta.example.com', '1.2.3'])('refuses %s, which is not an IPv4 address', (ip) => {
    expect(() => dnsblQueryName(ip, 'zen.spamhaus.org')).toThrow(expect.objectContaining({ code: 'DNSBL_BAD_IP' }));
  });
});

describe('decodeDnsblAnswer', () => {
  it.each([
    ['zen.spamhaus.org', [], 'clear', null, null],
    ['zen.spamhaus.org', ['127.0.0.2'], 'listed', '127.0.0.2', /^SBL/],
    ['zen.spamhaus.org', ['127.0.0.3'], 'listed', '127.0.0.3', /^CSS/],
    ['zen.spamhaus.org', ['127.0.0.4'], 'listed', '127.0.0.4', /^XBL/],
    ['zen.spamhaus.org', ['127.0.0.9'], 'listed', '127.0.0.9', /^DROP/],
    ['zen.spamhaus.org', ['127.0.0.10'], 'listed', '127.0.0.10', /^PBL \(ISP/],
    ['zen.spamhaus.org', ['127.0.0.11'], 'listed', '127.0.0.11', /^PBL \(Spamhaus/],
    ['zen.spamhaus.org', ['127.0.0.11', '127.0.0.4'], 'listed', '127.0.0.4,127.0.0.11', /^XBL.*; PBL/],
    ['key.zen.dq.spamhaus.net', ['127.0.0.3'], 'listed', '127.0.0.3', /^CSS/],
    ['bl.spamcop.net', ['127.0.0.2'], 'listed', '127.0.0.2', /^listed \(127\.0\.0\.2\)$/],
    ['zen.spamhaus.org', ['127.255.255.254'], 'error', '127.255.255.254', /public\/open resolver/],
    ['zen.spamhaus.org', ['127.255.255.255'], 'error', '127.255.255.255', /rate-limited/],
    ['zen.spamhaus.org', ['127.255.255.252'], 'error', '127.255.255.252', /typing error/],
    ['zen.spamhaus.org', ['127.0.0.2', '127.255.255.254'], 'error', '127.0.0.2,127.255.255.254', /open resolver/],
    ['psbl.surriel.com', ['198.51.100.7'], 'error', '198.51.100.7', /outside 127\.0\.0\.0\/8/],
  ] as const)('reads %s answer %j as %s', (zone, addresses, status, answer, meaning) => {
    const v = decodeDnsblAnswer(zone, addresses);
    expect(v.status).toBe(status);
    expect(v.answer).toBe(answer);
    if (meaning === null) expect(v.meaning).toBeNull();
    else expect(v.meaning).toMatch(meaning);
  });

  it.each([
    ['zen.spamhaus.org', true], ['sbl.spamhaus.org', true], ['abc123.zen.dq.spamhaus.net', true], ['zen.dnsbl.test', true],
    ['bl.spamcop.net', false], ['psbl.surriel.com', false],
  ])('knows whether %s uses Spamhaus codes (%s)', (zone, yes) => {
    expect(isSpamhausZone(zone)).toBe(yes);
  });
});

describe('judgeZone', () => {
  const listed: DnsblVerdict = { status: 'listed', answer: '127.0.0.2', meaning: 'listed' };
  const clear: DnsblVerdict = { status: 'clear', answer: null, meaning: null };
  const refused: DnsblVerdict = { status: 'error', answer: '127.255.255.254', meaning: 'open resolver' };
  it.each([
    ['test listed, control clear', listed, clear, 'ok'],
    ['test entry not listed', clear, clear, 'broken'],
    ['control listed too (lists everything)', listed, listed, 'broken'],
    ['control listed, test not', clear, listed, 'broken'],
    ['test entry refused', refused, clear, 'broken'],
    ['test lookup failed', 'unknown', clear, 'unknown'],
    ['control lookup failed', listed, 'unknown', 'unknown'],
    ['control listed even if test failed', 'unknown', listed, 'broken'],
  ] as const)('%s: %s', (_t, test, control, status) => {
    expect(judgeZone(test, control).status).toBe(status);
  });
});

describe('createPacer', () => {
  it('spaces slots 1/rate apart, also for callers that arrive together', async () => {
    let t = 1000;
    const slept: number[] = [];
    const pacer = createPacer({ perSecond: 4, now: () => t, sleep: async (ms) => { slept.push(ms); } });
    await Promise.all([pacer.wait(), pacer.wait(), pacer.wait()]);
    expect(slept).toEqual([250, 500]);
    t += 2000; // idle long enough: the next caller goes at once
    await pacer.wait();
    expect(slept).toEqual([250, 500]);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses a rate of %s', (perSecond) => {
    expect(() => createPacer({ perSecond })).toThrow(expect.objectContaining({ code: 'DNSBL_CONFIG' }));
  });
});
