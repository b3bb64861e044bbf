import { isIP } from 'node:net';

/** IPv4 dotted quad to a 32-bit number, or null. */
export function ipv4ToInt(text: string): number | null {
  if (isIP(text) !== 4) return null;
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** Largest range a plan may expand, to stop a typo from making millions of lanes. */
export const MAX_RANGE = 1024;

/**
 * Expands `203.0.113.11-203.0.113.40` (or `203.0.113.11-40`), or a CIDR block
 * `203.0.113.0/28` (every address of the block, as operators are assigned
 * them), to its addresses. Returns an error message instead of throwing.
 */
export function expandRange(text: string): { addresses: string[] } | { error: string } {
  const cidr = /^\s*([^\s/]+)\s*\/\s*(\d{1,2})\s*$/.exec(text);
  if (cidr) return expandCidr(cidr[1]!, Number(cidr[2]));
  const m = /^\s*([^\s-]+)\s*-\s*([^\s-]+)\s*$/.exec(text);
  if (!m) return { error: `must be FIRST-LAST or a CIDR block, e.g. 203.0.113.11-203.0.113.40 or 203.0.113.0/28 (got "${text}")` };
  const first = ipv4ToInt(m[1]!);
  if (first === null) return { error: `${m[1]} is not an IPv4 address` };
  let lastText = m[2]!;
  if (/^\d{1,3}$/.test(lastText)) lastText = m[1]!.split('.').slice(0, 3).join('.') + '.' + lastText;
  const last = ipv4ToInt(lastText);
  if (last === null) return { error: `${m[2]} is not an IPv4 address` };
  if (last < first) return { error: `range ends (${lastText}) before it starts (${m[1]})` };
  if (last - first + 1 > MAX_RANGE) return { error: `range holds ${last - first + 1} addresses; at most ${MAX_RANGE}` };
  const addresses: string[] = [];
  for (let n = first; n <= last; n++) addresses.push(intToIpv4(n));
  return { addresses };
}

function expandCidr(base: string, bits: number): { addresses: string[] } | { error: string } {
  const start = ipv4ToInt(base);
  if (start === null) return { error: `${base} is not an IPv4 address` };
  if (bits > 32) return { error: `/${bits} is not an IPv4 prefix length (0-32)` };
  const size = 2 ** (32 - bits);
  if (size > MAX_RANGE) return { error: `${base}/${bits} holds ${size} addresses; at most ${MAX_RANGE}` };
  const first = start - (start % size);
  if (first !== start) return { error: `${base} is not the first address of a /${bits} block (did you mean ${intToIpv4(first)}/${bits}?)` };
  const addresses: string[] = [];
  for (let n = first; n < first + size; n++) addresses.push(intToIpv4(n));
  return { addresses };
}

/** Fills an EHLO-name pattern for one address of a range. */
export function ehloFor(pattern: string, address: string, index: number): string {
  const octet = isIP(address) === 4 ? address.split('.').at(-1)! : String(index);
  return pattern
    .replaceAll('{octet}', octet)
    .replaceAll('{n}', String(index))
    .replaceAll('{ip}', address.replaceAll('.', '-').replaceAll(':', '-'));
}

/** True for a syntactically valid host name (EHLO, MX suffix without the dot). */
export function isHostname(text: string): boolean {
  return text.length <= 253 && /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(text);
}

/** A deliberately plain check: one @, a non-empty local part, a host name with a dot. */
export function isMailbox(text: string): boolean {
  const at = text.lastIndexOf('@');
  if (at <= 0 || text.includes(' ')) return false;
  const domain = text.slice(at + 1);
  return !text.slice(0, at).includes('@') && domain.includes('.') && isHostname(domain);
}
