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
 * A lone LF ends a line too: it goes out on the wire as CRLF (a CR not before an LF is
 * an ordinary byte). One pass over the bytes (splitting into strings and two regex
 * replacements per line cost a fifth as much as the RSA signature itself).
 */
export function relaxedBody(body: Buffer): Buffer {
  const n = body.length;
  if (n === 0) return body;
  // At most: every byte a lone LF (each becomes CRLF), plus the CRLF ending the last line.
  const out = Buffer.allocUnsafe(2 * n + 2);
  let o = 0;
  let blank = 0; // empty lines not yet written: written before the next line with content, dropped at the end
  let space = false; // a run of WSP not yet written: one SP before the next byte on the line, none at its end
  let empty = true; // the line has no byte but WSP so far
  for (let i = 0; i < n; i++) {
    const c = body[i]!;
    if (c === 0x0a || (c === 0x0d && body[i + 1] === 0x0a)) {
      if (c === 0x0d) i++;
      if (empty) blank++;
      else {
        out[o++] = 0x0d;
        out[o++] = 0x0a;
      }
      space = false;
      empty = true;
    } else if (c === 0x20 || c === 0x09) space = true;
    else {
      if (empty) {
        for (; blank > 0; blank--) {
          out[o++] = 0x0d;
          out[o++] = 0x0a;
        }
        empty = false;
      }
      if (space) {
        out[o++] = 0x20;
        space = false;
      }
      out[o++] = c;
    }
  }
  if (!empty) {
    out[o++] = 0x0d;
    out[o++] = 0x0a;
  }
  return out.subarray(0, o);
}
