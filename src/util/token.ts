/**
 * Random hex for Message-ID tokens, drawn from the system's CSPRNG 4 KiB at a
 * time: one call per thousand tokens instead of one each (a tick creates
 * hundreds of messages; a simulation over a million).
 */
import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let at = 0;

/** `bytes` random bytes as lowercase hex (2 x `bytes` characters), as `randomBytes(bytes).toString('hex')`. */
export function randomHex(bytes: number): string {
  if (bytes > POOL_BYTES) return randomBytes(bytes).toString('hex');
  if (at + bytes > pool.length) {
    pool = randomBytes(POOL_BYTES);
    at = 0;
  }
  const hex = pool.toString('hex', at, at + bytes);
  at += bytes;
  return hex;
}
