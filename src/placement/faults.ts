/**
 * IMAP failures as data, and the per-mailbox backoff. Pure.
 */
import { WarmupError } from '../util/errors.js';

/** A failed poll of one mailbox, in stable terms. */
export interface ImapFault {
  /** IMAP_AUTH, IMAP_CONNECT, IMAP_TIMEOUT, IMAP_THROTTLED, IMAP_CLOSED, IMAP_PASSWORD_MISSING, IMAP_ERROR */
  readonly code: string;
  readonly message: string;
  /** The server asked us to wait at least this long (throttling), in ms. */
  readonly retryAfterMs: number | null;
}

const TIMEOUT_CODES = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT', 'ETIMEOUT', 'ETIMEDOUT', 'LockTimeout']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const CLOSED_CODES = new Set(['NoConnection', 'EConnectionClosed', 'ClosedAfterConnectText', 'ClosedAfterConnectTLS', 'ECONNRESET', 'EPIPE', 'StateLogout']);

/**
 * Classifies an error thrown while polling (imapflow's, Node's socket errors
 * or our own WarmupError). The message never carries the password: imapflow
 * errors hold the server's text, not the command sent.
 */
export function classifyImapError(error: unknown): ImapFault {
  if (error instanceof WarmupError) return { code: error.code, message: error.message, retryAfterMs: null };
  const e = (error ?? {}) as { code?: string; message?: string; authenticationFailed?: boolean; responseText?: string; serverResponseCode?: string; throttleReset?: number; reason?: string };
  const text = [e.message ?? String(error), e.responseText, e.reason].filter((x, i, all) => x && all.indexOf(x) === i).join(': ');
  if (e.authenticationFailed) return { code: 'IMAP_AUTH', message: text, retryAfterMs: null };
  if (e.code === 'ETHROTTLE') return { code: 'IMAP_THROTTLED', message: text, retryAfterMs: typeof e.throttleReset === 'number' ? e.throttleReset : null };
  if (e.code && TIMEOUT_CODES.has(e.code)) return { code: 'IMAP_TIMEOUT', message: text, retryAfterMs: null };
  if (e.code && CONNECT_CODES.has(e.code)) return { code: 'IMAP_CONNECT', message: text, retryAfterMs: null };
  // Servers that throttle without ETHROTTLE say so in a NO/BYE text or response code
  // (a BYE "Too many connections" closes the connection: it is throttling, not an outage).
  if (/\b(throttl|too many|rate limit|try again later)/i.test(text) || e.serverResponseCode === 'LIMIT') {
    return { code: 'IMAP_THROTTLED', message: text, retryAfterMs: null };
  }
  if (e.code && CLOSED_CODES.has(e.code)) return { code: 'IMAP_CLOSED', message: text, retryAfterMs: null };
  return { code: 'IMAP_ERROR', message: text, retryAfterMs: null };
}

/**
 * How long to leave a mailbox alone after its `failures`-th failure in a row:
 * the poll interval, doubling each time, at most `maxMs` (but never under the
 * poll interval), and never less than the server asked for.
 *
 * @example backoffMs(3, 300_000, 3_600_000, null) // 1_200_000 (5m, 10m, 20m, ...)
 */
export function backoffMs(failures: number, pollIntervalMs: number, maxMs: number, retryAfterMs: number | null): number {
  const cap = Math.max(maxMs, pollIntervalMs);
  const exp = Math.min(pollIntervalMs * 2 ** Math.max(0, failures - 1), cap);
  return Math.max(exp, retryAfterMs ?? 0);
}
