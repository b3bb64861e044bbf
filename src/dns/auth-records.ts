/**
 * Sender-authentication records, pure: SPF/DKIM/DMARC text parsing, DKIM key
 * comparison, DMARC alignment, and the exact records to publish as fixes.
 */
import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { getAlignment } from 'mailauth/lib/tools.js';

/** `a=b; c=d` tag lists (DKIM RFC 6376 3.2, DMARC RFC 7489 6.4), keys lower-cased. */
export function parseTags(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, '').trim());
  }
  return tags;
}

/** The SPF records among a name's TXT records (each joined from its strings). */
export function spfRecords(txt: readonly (readonly string[])[]): string[] {
  return txt.map((r) => r.join('')).filter((r) => /^v=spf1(\s|$)/i.test(r.trim()));
}

/**
 * An SPF record that authorizes `ips`: the existing one with the missing
 * `ip4:` / `ip6:` terms added before its `all` (or redirect), or a new one.
 *
 * @example
 * suggestSpf('v=spf1 include:_spf.example.net ~all', ['203.0.113.10'])
 * // 'v=spf1 include:_spf.example.net ip4:203.0.113.10 ~all'
 */
export function suggestSpf(existing: string | null, ips: readonly string[]): string {
  const terms = ips.map((ip) => `${isIP(ip) === 6 ? 'ip6' : 'ip4'}:${ip}`);
  if (!existing) return ['v=spf1', ...terms, '-all'].join(' ');
  const parts = existing.trim().split(/\s+/);
  const missing = terms.filter((t) => !parts.some((p) => p.toLowerCase() === t.toLowerCase()));
  const at = parts.findIndex((p, i) => i > 0 && (/^[-~?+]?all$/i.test(p) || /^redirect=/i.test(p)));
  parts.splice(at < 0 ? parts.length : at, 0, ...missing);
  return parts.join(' ');
}

/** The DKIM TXT value for a private key (`v=DKIM1; k=rsa|ed25519; p=...`). */
export function dkimRecordValue(privateKeyPem: string): string {
  const pub = createPublicKey(privateKeyPem);
  const der = pub.export({ type: 'spki', format: 'der' });
  // RFC 8463: an Ed25519 DKIM key is the raw 32-byte key, not SPKI.
  if (pub.asymmetricKeyType === 'ed25519') return `v=DKIM1; k=ed25519; p=${der.subarray(der.length - 32).toString('base64')}`;
  return `v=DKIM1; k=rsa; p=${der.toString('base64')}`;
}

/** What a published DKIM record says about the plan's key. */
export type DkimKeyMatch = 'match' | 'mismatch' | 'revoked' | 'malformed';

/** Compares the `p=` of a published DKIM record with the plan's private key. */
export function compareDkimKey(record: string, privateKeyPem: string): DkimKeyMatch {
  const tags = parseTags(record);
  const p = tags.get('p');
  if (p === undefined || (tags.has('v') && tags.get('v') !== 'DKIM1')) return 'malformed';
  if (p === '') return 'revoked';
  const mine = parseTags(dkimRecordValue(privateKeyPem)).get('p');
  return p === mine ? 'match' : 'mismatch';
}

/** Splits a TXT value into quoted strings of at most 255 characters (zone-file syntax). */
export function quoteTxt(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.join(' ');
}

/** The domain of an address (`user@Example.COM` -> `example.com`). */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase().replace(/\.$/, '');
}

/**
 * DMARC identifier alignment (RFC 7489 3.1): strict needs the same domain,
 * relaxed the same organizational domain (public suffix list, via mailauth).
 */
export function aligned(fromDomain: string, otherDomain: string, strict: boolean): boolean {
  const a = fromDomain.toLowerCase().replace(/\.$/, '');
  const b = otherDomain.toLowerCase().replace(/\.$/, '');
  if (a === b) return true;
  return !strict && getAlignment(a, [b], false) !== false;
}
