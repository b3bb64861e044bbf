/**
 * DNSBL questions and answers, pure: the query name for an IP in a zone, what
 * an answer means, and whether a zone can be trusted (RFC 5782 test entries).
 * The IO that asks the questions lives in dnsbl-check.ts.
 */
import { isIP } from 'node:net';
import { WarmupError } from '../util/errors.js';

/** How one IP stands in one zone. */
export type DnsblStatus = 'listed' | 'clear' | 'error' | 'unknown';

/** The decoded answer for one IP in one zone. */
export interface DnsblVerdict {
  readonly status: DnsblStatus;
  /** The A records, comma-separated, or null (NXDOMAIN / no answer). */
  readonly answer: string | null;
  /** Human meaning: `SBL`, `XBL`, `listed`, `open resolver refused` ... or null when clear. */
  readonly meaning: string | null;
}

/** RFC 5782 section 5: 127.0.0.2 must be listed, 127.0.0.1 must not. */
export const TEST_ENTRY = '127.0.0.2';
export const CONTROL_ENTRY = '127.0.0.1';

/**
 * The A query name for `ip` in `zone`: the IPv4 octets reversed, then the zone.
 *
 * @example
 * dnsblQueryName('203.0.113.10', 'zen.spamhaus.org') // '10.113.0.203.zen.spamhaus.org'
 * @throws WarmupError `DNSBL_BAD_IP` for anything but a dotted IPv4 address
 */
export function dnsblQueryName(ip: string, zone: string): string {
  if (isIP(ip) !== 4) throw new WarmupError('DNSBL_BAD_IP', `DNSBLs are queried for IPv4 addresses only (got ${JSON.stringify(ip)})`);
  return `${ip.split('.').reverse().join('.')}.${zone.replace(/\.$/, '').toLowerCase()}`;
}

// Spamhaus ZEN return codes (https://www.spamhaus.org/faqs/domain-blocklist/ and the ZEN page).
const SPAMHAUS: Readonly<Record<string, string>> = {
  '127.0.0.2': 'SBL (Spamhaus Block List: spam source)',
  '127.0.0.3': 'CSS (Spamhaus CSS: snowshoe / low-reputation sending)',
  '127.0.0.4': 'XBL (exploited host: bot, proxy, malware)',
  '127.0.0.5': 'XBL (exploited host)',
  '127.0.0.6': 'XBL (exploited host)',
  '127.0.0.7': 'XBL (exploited host)',
  '127.0.0.9': 'DROP (hijacked / spammer-controlled network)',
  '127.0.0.10': 'PBL (ISP: end-user range, should not send direct to MX)',
  '127.0.0.11': 'PBL (Spamhaus: end-user range, should not send direct to MX)',
};

// Spamhaus' error answers: never a listing. They come back for the IP query,
// so one resolver problem must not pause every IP.
const ERRORS: Readonly<Record<string, string>> = {
  '127.255.255.252': 'query error: typing error in the DNSBL name',
  '127.255.255.254': 'query refused: it came through a public/open resolver (use your own resolver)',
  '127.255.255.255': 'query refused: rate-limited (excessive number of queries)',
};

/** True for zones that use Spamhaus' return codes (ZEN and its parts, DQS). */
export function isSpamhausZone(zone: string): boolean {
  const labels = zone.toLowerCase().replace(/\.$/, '').split('.');
  return labels[0] === 'zen' || labels.includes('zen') || /(^|\.)spamhaus\.(org|net)$/.test(labels.join('.'));
}

/**
 * Decodes the A records returned for a DNSBL query. `[]` (or NXDOMAIN,
 * passed as `[]`) is `clear`; addresses in 127.255.255.0/24 and anything outside
 * 127.0.0.0/8 (a hijacking resolver's wildcard) are `error`s, never listings.
 *
 * @example
 * decodeDnsblAnswer('zen.spamhaus.org', ['127.0.0.4']) // { status: 'listed', answer: '127.0.0.4', meaning: 'XBL (...)' }
 * decodeDnsblAnswer('zen.spamhaus.org', ['127.255.255.254']) // { status: 'error', ... }
 */
export function decodeDnsblAnswer(zone: string, addresses: readonly string[]): DnsblVerdict {
  if (addresses.length === 0) return { status: 'clear', answer: null, meaning: null };
  const sorted = [...new Set(addresses)].sort(compareIp);
  const answer = sorted.join(',');
  const errors = sorted.filter((a) => ERRORS[a] !== undefined || a.startsWith('127.255.255.'));
  if (errors.length > 0) {
    return { status: 'error', answer, meaning: errors.map((a) => ERRORS[a] ?? `query error (${a})`).join('; ') };
  }
  const foreign = sorted.filter((a) => !a.startsWith('127.'));
  if (foreign.length > 0) {
    return { status: 'error', answer, meaning: `not a DNSBL answer (outside 127.0.0.0/8): the resolver or the zone is broken` };
  }
  const spamhaus = isSpamhausZone(zone);
  const meaning = sorted.map((a) => (spamhaus ? SPAMHAUS[a] ?? `listed (${a})` : `listed (${a})`));
  return { status: 'listed', answer, meaning: [...new Set(meaning)].join('; ') };
}

/** Whether a zone's answers may be trusted right now. */
export type ZoneHealth =
  | { readonly status: 'ok' }
  | { readonly status: 'broken'; readonly reason: string }
  | { readonly status: 'unknown'; readonly reason: string };

/**
 * Judges a zone from its answers for the RFC 5782 entries: the test entry
 * 127.0.0.2 must be listed, the control 127.0.0.1 must not. A zone that fails
 * either is broken (SpamCop's expired domain once listed every IP); a lookup
 * that failed makes the zone's health unknown. Neither may pause an IP.
 */
export function judgeZone(testEntry: DnsblVerdict | 'unknown', control: DnsblVerdict | 'unknown'): ZoneHealth {
  if (testEntry !== 'unknown' && testEntry.status === 'error') return { status: 'broken', reason: `test entry ${TEST_ENTRY}: ${testEntry.meaning}` };
  if (control !== 'unknown' && control.status === 'error') return { status: 'broken', reason: `control ${CONTROL_ENTRY}: ${control.meaning}` };
  if (control !== 'unknown' && control.status === 'listed') {
    return { status: 'broken', reason: `lists ${CONTROL_ENTRY} (${control.answer}): the zone answers "listed" for everything` };
  }
  if (testEntry !== 'unknown' && testEntry.status === 'clear') {
    return { status: 'broken', reason: `test entry ${TEST_ENTRY} is not listed: the zone is not answering` };
  }
  if (testEntry === 'unknown' || control === 'unknown') return { status: 'unknown', reason: 'the test-entry lookups failed (timeout / SERVFAIL)' };
  return { status: 'ok' };
}

function compareIp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return a.localeCompare(b);
}
