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
export function dkimSignatures(message: Buffer | string, keys: readonly DkimKey[], now: number): string {
  if (keys.length === 0) return '';
  // The SMTP client sends a lone LF as CRLF (nodemailer does), so lines are split on either:
  // what is signed must be what the receiver will see.
  const text = typeof message === 'string' ? message : message.toString('latin1');
  const gap = /\r?\n\r?\n/.exec(text);
  const head = gap ? text.slice(0, gap.index) : text;
  const bodyLength = relaxedBodyInto(text, gap ? gap.index + gap[0].length : text.length);
  const bh = createHash('sha256').update(scratch.subarray(0, bodyLength)).digest('base64');
  const fields = signedFields(head);
  // Bottom-up, as RFC 6376 5.4.2 wants for repeated names; each signed name once.
  const names: string[] = [];
  let signedPart = '';
  for (const name of SIGNED_HEADERS) {
    const raw = fields.get(name);
    if (raw === undefined) continue;
    names.push(name);
    signedPart += relaxedHeader(raw);
  }
  names.push('from');
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

const SIGNED: ReadonlySet<string> = new Set(SIGNED_HEADERS);

/**
 * The last occurrence of each signed field in `head` by lower-case name: the whole field, folded lines
 * joined by CRLF, without the final line break. Lines end in CRLF or a lone LF; a line without a colon
 * is no field (a folded line after it continues the field before it).
 */
function signedFields(head: string): Map<string, string> {
  const fields = new Map<string, string>();
  let last: string | null = null; // the name of the last field, signed or not
  for (let pos = 0; pos <= head.length;) {
    let nl = head.indexOf('\n', pos);
    const end = nl < 0 ? (nl = head.length) : nl > pos && head.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl;
    const line = head.slice(pos, end);
    pos = nl + 1;
    const first = line.charCodeAt(0);
    if ((first === 0x20 || first === 0x09) && last !== null) {
      const raw = fields.get(last);
      if (raw !== undefined) fields.set(last, `${raw}\r\n${line}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    if (SIGNED.has(last)) fields.set(last, line);
  }
  return fields;
}

/** RFC 6376 3.4.2: lower-case name, unfolded, runs of WSP as one SP, no WSP around the colon or at the end. */
export function relaxedHeader(raw: string): string {
  const colon = raw.indexOf(':');
  const name = raw.slice(0, colon).trim().toLowerCase();
  let value = raw.slice(colon + 1);
  // Most values have nothing to unfold or squeeze: no regex for them.
  if (value.includes('\r\n')) value = value.replace(/\r\n/g, '');
  if (value.includes('\t') || value.includes('  ')) value = value.replace(/[ \t]+/g, ' ');
  return `${name}:${value.trim()}\r\n`;
}

/**
 * RFC 6376 3.4.4: runs of WSP as one SP, no WSP at line ends, no empty lines at the end.
 * A lone LF ends a line too: it goes out on the wire as CRLF (a CR not before an LF is
 * an ordinary byte).
 */
export function relaxedBody(body: Buffer | string): Buffer {
  const text = typeof body === 'string' ? body : body.toString('latin1');
  return Buffer.from(scratch.subarray(0, relaxedBodyInto(text, 0)));
}

/** Where relaxedBodyInto writes (grown as needed): one buffer per thread, not one per message. */
let scratch = Buffer.allocUnsafe(16 * 1024);

/**
 * The relaxed body of `text` from `start` (one character per byte, latin1) written to `scratch`;
 * returns its length. One pass over the characters (splitting into strings and two regex
 * replacements per line cost a fifth as much as the RSA signature itself), straight from the
 * string the message arrived as.
 */
function relaxedBodyInto(text: string, start: number): number {
  const n = text.length;
  // At most: every byte a lone LF (each becomes CRLF), plus the CRLF ending the last line.
  if (scratch.length < 2 * (n - start) + 2) scratch = Buffer.allocUnsafe(2 * (n - start) + 2);
  const out = scratch;
  let o = 0;
  let blank = 0; // empty lines not yet written: written before the next line with content, dropped at the end
  let space = false; // a run of WSP not yet written: one SP before the next byte on the line, none at its end
  let empty = true; // the line has no byte but WSP so far
  for (let i = start; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) === 0x0a)) {
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
  return o;
}
