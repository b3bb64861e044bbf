/**
 * DKIM signatures (RFC 6376, relaxed/relaxed, SHA-256) with RSA keys and with
 * Ed25519 keys (RFC 8463). Pure apart from the CPU: the caller passes `now`.
 *
 * Written here rather than taken from a library: nodemailer's signer knows only
 * RSA, and mailauth's parses the message as a stream and re-reads the PEM on
 * every call, which made signing several times dearer than the RSA operation
 * itself. The tests verify every signature with mailauth.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';

/** One signing identity: d=, s= and the private key (RSA or Ed25519; the algorithm follows the key). */
export interface DkimKey {
  readonly domain: string;
  readonly selector: string;
  readonly key: KeyObject;
}

/**
 * Header fields signed when present, each once. From is signed once more
 * than it occurs (over-signing) so that no From can be added after signing.
 */
export const SIGNED_HEADERS = [
  'from', 'to', 'cc', 'reply-to', 'subject', 'date', 'message-id', 'mime-version', 'content-type',
  'content-transfer-encoding', 'list-unsubscribe', 'list-unsubscribe-post', 'x-warmup-id',
] as const;

/**
 * The `DKIM-Signature:` header lines for `message`, one per key, each ending in CRLF,
 * to be put in front of the message.
 *
 * @example
 * const lines = dkimSignatures(raw, [{ domain: 'example.com', selector: 's1', key }], Date.now());
 * const signed = Buffer.concat([Buffer.from(lines), raw]);
 */
export function dkimSignatures(message: Buffer, keys: readonly DkimKey[], now: number): string {
  if (keys.length === 0) return '';
  // The SMTP client sends a lone LF as CRLF (nodemailer does), so lines are split on either:
  // what is signed must be what the receiver will see.
  const text = message.toString('latin1');
  const gap = /\r?\n\r?\n/.exec(text);
  const head = gap ? text.slice(0, gap.index) : text;
  const body = gap ? message.subarray(gap.index + gap[0].length) : Buffer.alloc(0);
  const bh = createHash('sha256').update(relaxedBody(body)).digest('base64');
  const fields = headerFields(head);
  // Bottom-up, as RFC 6376 5.4.2 wants for repeated names; each signed name once.
  const names: string[] = [];
  const canon: string[] = [];
  for (const name of SIGNED_HEADERS) {
    const field = fields.findLast((f) => f.name === name);
    if (!field) continue;
    names.push(name);
    canon.push(relaxedHeader(field.raw));
  }
  names.push('from');
  const signedPart = canon.join('');
  const t = Math.floor(now / 1000);
  let out = '';
  for (const k of keys) {
    const ed = k.key.asymmetricKeyType === 'ed25519';
    const value = `v=1; a=${ed ? 'ed25519' : 'rsa'}-sha256; c=relaxed/relaxed; d=${k.domain}; s=${k.selector};\r\n t=${t}; h=${names.join(':')};\r\n bh=${bh};\r\n b=`;
    const data = Buffer.from(signedPart + relaxedHeader(`DKIM-Signature: ${value}`).slice(0, -2), 'latin1');
    // RFC 8463 3: Ed25519 signs the SHA-256 hash of the data, RSA the data itself.
    const b = ed ? sign(null, createHash('sha256').update(data).digest(), k.key) : sign('sha256', data, k.key);
    out += `DKIM-Signature: ${value}${b.toString('base64')}\r\n`;
  }
  return out;
}

interface Field {
  readonly name: string;
  /** The whole field, folded lines included, without the final CRLF. */
  readonly raw: string;
}

function headerFields(head: string): Field[] {
  const fields: Field[] = [];
  for (const line of head.split(/\r?\n/)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length) {
      const last = fields.pop()!;
      fields.push({ name: last.name, raw: `${last.raw}\r\n${line}` });
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), raw: line });
  }
  return fields;
}

/** RFC 6376 3.4.2: lower-case name, unfolded, runs of WSP as one SP, no WSP around the colon or at the end. */
export function relaxedHeader(raw: string): string {
  const colon = raw.indexOf(':');
  const name = raw.slice(0, colon).trim().toLowerCase();
  const value = raw.slice(colon + 1).replace(/\r\n/g, '').replace(/[ \t]+/g, ' ').trim();
  return `${name}:${value}\r\n`;
}

/**
 * RFC 6376 3.4.4: runs of WSP as one SP, no WSP at line ends, no empty lines at the end.
 * A lone LF ends a line too: it goes out on the wire as CRLF.
 */
export function relaxedBody(body: Buffer): Buffer {
  if (body.length === 0) return body;
  const lines = body.toString('latin1').split(/\r?\n/);
  // A body that ends in CRLF splits into a last empty string: not a line of its own.
  if (lines.at(-1) === '') lines.pop();
  const out = lines.map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  while (out.length && out.at(-1) === '') out.pop();
  return out.length ? Buffer.from(`${out.join('\r\n')}\r\n`, 'latin1') : Buffer.alloc(0);
}
