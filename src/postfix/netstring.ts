/**
 * Netstrings (`LEN:DATA,`), the framing of Postfix's socketmap protocol.
 * Pure: bytes in, strings out.
 */
import { WarmupError } from '../util/errors.js';

/** Postfix's socketmap client refuses replies longer than this (dict_sockmap.c). */
export const MAX_NETSTRING = 100_000;

/** Frames one string as a netstring. */
export function encodeNetstring(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]);
}

/**
 * Incremental decoder: feed it bytes as they arrive, get back every complete
 * netstring. Throws WarmupError NETSTRING_INVALID on malformed input (the
 * caller closes the connection: there is no way to resynchronise).
 *
 * @example
 * const d = new NetstringDecoder();
 * d.push(Buffer.from('14:warmup a@b.c,')); // ['warmup a@b.c'] (after the rest arrives)
 */
export class NetstringDecoder {
  #buf: Buffer = Buffer.alloc(0);
  readonly #max: number;

  constructor(max = MAX_NETSTRING) {
    this.#max = max;
  }

  push(chunk: Buffer): string[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: string[] = [];
    for (;;) {
      const colon = this.#buf.indexOf(0x3a);
      if (colon < 0) {
        if (this.#buf.length > 10 || !/^\d*$/.test(this.#buf.toString('latin1'))) throw invalid(`bad length prefix ${JSON.stringify(this.#buf.subarray(0, 12).toString('latin1'))}`);
        return out;
      }
      const head = this.#buf.subarray(0, colon).toString('latin1');
      if (!/^\d{1,10}$/.test(head) || (head.length > 1 && head.startsWith('0'))) throw invalid(`bad length prefix ${JSON.stringify(head)}`);
      const len = Number(head);
      if (len > this.#max) throw invalid(`netstring of ${len} bytes is over the limit of ${this.#max}`);
      const end = colon + 1 + len;
      if (this.#buf.length < end + 1) return out;
      if (this.#buf[end] !== 0x2c) throw invalid('netstring not terminated by a comma');
      out.push(this.#buf.subarray(colon + 1, end).toString('utf8'));
      this.#buf = this.#buf.subarray(end + 1);
    }
  }
}

function invalid(message: string): WarmupError {
  return new WarmupError('NETSTRING_INVALID', message);
}
