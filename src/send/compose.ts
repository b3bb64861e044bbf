/**
 * Composing a warm-up message's bytes: the bytes nodemailer's MailComposer
 * writes for the same fields, built as one string without its streams.
 *
 * MailComposer pipes every message through a tree of streams (a PassThrough
 * per part, a QP encoder, pipeline() with its AbortSignals, setImmediate hops
 * between parts): about 1.2 ms of CPU per message, the largest single cost of
 * the send path. What warmup sends is one shape (text, optional HTML, a few
 * ASCII headers), so the lean path writes that shape directly, with
 * nodemailer's own pure functions for the parts where its exact bytes matter
 * (header folding, quoted-printable encoding and wrapping, the plain-text and
 * long-line tests). Anything outside that shape -- a non-ASCII header or name,
 * a quote or an encoded-word look-alike in a header, a body that would be
 * base64, an empty or very large body -- goes through MailComposer itself,
 * so the bytes are nodemailer's in every case (test/send/compose.test.ts
 * compares the two on generated inputs).
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import { foldLines, hasLongerLines, isPlainText } from 'nodemailer/lib/mime-funcs';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';
import { randomHex } from '../util/token.js';
import type { MessageFields } from './message.js';

/**
 * The message's bytes, as MailComposer builds them from `fields`. Synchronous
 * on the lean path; a promise only when MailComposer has to do it.
 *
 * @example
 * const raw = composeMessage(built.fields);
 * const bytes = raw instanceof Buffer ? raw : await raw;
 */
export function composeMessage(fields: MessageFields, boundaryId: string = randomHex(8)): Buffer | Promise<Buffer> {
  return leanCompose(fields, boundaryId) ?? composeWithNodemailer(fields, boundaryId);
}

/**
 * {@link composeMessage}'s bytes as a latin1 string (one character per byte): what the lean path builds
 * anyway, handed to the signing pool and put behind the signatures without a copy to a Buffer and back.
 */
export function composeText(fields: MessageFields, boundaryId: string = randomHex(8)): string | Promise<string> {
  return leanText(fields, boundaryId) ?? composeWithNodemailer(fields, boundaryId).then((b) => b.toString('latin1'));
}

/** MailComposer on the same fields (the reference, and the path for everything the lean one leaves out). */
export function composeWithNodemailer(fields: MessageFields, boundaryId: string = randomHex(8)): Promise<Buffer> {
  return new MailComposer({ ...fields, headers: { ...fields.headers }, baseBoundary: boundaryId }).compile().build();
}

/** Header names as MimeNode normalizes them (the keys buildMessage writes); any other key takes MailComposer's path. */
const HEADER_KEYS: Readonly<Record<string, string>> = {
  'List-Unsubscribe': 'List-Unsubscribe',
  'List-Unsubscribe-Post': 'List-Unsubscribe-Post',
  'X-Warmup-Id': 'X-Warmup-ID',
};

/** Unstructured header text MimeNode writes as is: printable ASCII, no quote (encodeWords encodes around one), no `=?`. */
const PLAIN_HEADER = /^[\x20\x21\x23-\x7e]*$/;
/** An addr-spec MimeNode leaves as it is: a dot-atom local part and a lowercase LDH domain (no IDN, nothing to punycode). */
const PLAIN_ADDRESS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
/** A display name MimeNode writes unquoted. */
const PLAIN_NAME = /^[\w ]*$/;
/** Bodies up to this size go through the QP encoder in one slice (its slices are 64 KiB of input). */
const MAX_LEAN_BODY = 32 * 1024;

function plainHeader(value: string): boolean {
  return PLAIN_HEADER.test(value) && !value.includes('=?');
}

/** The lean path, or null when the fields are outside what it writes byte for byte. */
export function leanCompose(fields: MessageFields, boundaryId: string): Buffer | null {
  const text = leanText(fields, boundaryId);
  return text === null ? null : Buffer.from(text, 'latin1');
}

/** The lean path's bytes as a latin1 string. */
function leanText(fields: MessageFields, boundaryId: string): string | null {
  const { from, to, subject, text, html, date, messageId } = fields;
  if (!PLAIN_ADDRESS.test(from.address) || !PLAIN_ADDRESS.test(to) || !PLAIN_NAME.test(from.name)) return null;
  if (!plainHeader(subject) || !plainHeader(date) || !date.trim() || !plainHeader(messageId) || !/^<\S+>$/.test(messageId)) return null;
  // MailComposer leaves out an empty part (and writes an empty text part when both are).
  if (!text || html === '') return null;
  const textPart = body(text);
  const htmlPart = html === undefined ? null : body(html);
  if (!textPart || (html !== undefined && !htmlPart)) return null;

  let head = '';
  for (const key in fields.headers) {
    const name = HEADER_KEYS[key];
    const value = fields.headers[key]!;
    if (!name || !plainHeader(value)) return null;
    if (value.trim() === '') continue; // MimeNode skips empty values
    head += foldLines(`${name}: ${value}`, 76) + '\r\n';
  }
  head += foldLines(`From: ${from.name ? `${from.name} <${from.address}>` : from.address}`, 76) + '\r\n';
  head += foldLines(`To: ${to}`, 76) + '\r\n';
  if (subject.trim()) head += foldLines(`Subject: ${subject}`, 76) + '\r\n'; // MimeNode skips a blank value
  head += foldLines(`Message-ID: ${messageId}`, 76) + '\r\n';
  head += foldLines(`Date: ${date}`, 76) + '\r\n';

  if (!htmlPart) {
    // One text node is the whole message: its Content-Transfer-Encoding comes before MIME-Version, Content-Type last.
    const out = `${head}Content-Transfer-Encoding: ${textPart.cte}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${textPart.body}`;
    return endWithNewline(out);
  }
  const boundary = `--_NmP-${boundaryId}-Part_1`;
  const out = `${head}MIME-Version: 1.0\r\n${foldLines(`Content-Type: multipart/alternative; boundary="${boundary}"`, 76)}\r\n\r\n`
    + `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ${textPart.cte}\r\n\r\n${textPart.body}`
    + `\r\n--${boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: ${htmlPart.cte}\r\n\r\n${htmlPart.body}`
    + `\r\n--${boundary}--\r\n`;
  return out;
}

/** A text part's transfer encoding and encoded body (ASCII, so latin1 is its bytes), or null when MailComposer would use base64 or slice it. */
function body(content: string): { cte: '7bit' | 'quoted-printable'; body: string } | null {
  if (isPlainText(content) && !hasLongerLines(content, 76)) {
    // 7bit passes the content through as it is: it must be ASCII to be written as latin1.
    return /^[\x00-\x7f]*$/.test(content) ? { cte: '7bit', body: content } : null;
  }
  if (textEncoding(content) !== 'Q') return null;
  const bytes = Buffer.from(content, 'utf8');
  // The QP stream holds back trailing whitespace and encodes in 64 KiB slices: stay where one call gives its bytes.
  const last = bytes[bytes.length - 1];
  if (bytes.length > MAX_LEAN_BODY || last === 0x20 || last === 0x09) return null;
  return { cte: 'quoted-printable', body: qpWrap(qpEncode(bytes), 76) };
}

/** MimeNode's choice between Q and B for a text: Q when Latin letters outnumber the 8-bit and control characters. */
function textEncoding(value: string): 'Q' | 'B' {
  let nonLatin = 0;
  let latin = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x08 || c === 0x0b || c === 0x0c || (c >= 0x0e && c <= 0x1f) || c >= 0x80) nonLatin++;
    else if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) latin++;
  }
  return nonLatin < latin ? 'Q' : 'B';
}

/** nodemailer's LastNewline: a message ends with a line break. */
function endWithNewline(s: string): string {
  if (s.endsWith('\n')) return s;
  if (s.endsWith('\r')) return `${s}\n`;
  return `${s}\r\n`;
}
