/**
 * One line of Postfix's mail log -> one delivery attempt of a warmup
 * transport, or null for every other line. Pure.
 *
 * A warmup transport logs under `syslog_name = PREFIX/IP` (see config.ts), so
 * its delivery lines read
 * `Nov 30 05:12:36 host PREFIX/127.0.0.5/smtp[5600]: 2EF0122E21F: to=<a@b.c>, relay=mx.b.c[192.0.2.1]:25,
 *  delay=0.08, delays=0.04/0.04/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)`.
 */
import { classifyAttempt, type SmtpStage } from '../send/classify.js';
import type { Outcome } from '../store/schema.js';

/** What a delivery line says, in the terms of warmup's own attempt records. */
export interface DeliveryResult {
  readonly outcome: Outcome;
  readonly code: number | null;
  readonly enhanced: string | null;
  /** `CODE ENHANCED text` for a server reply, else `ERRCODE: Postfix's reason`. */
  readonly text: string;
  readonly stage: SmtpStage;
  /** Postfix gave up on the recipient (status=bounced). */
  readonly final: boolean;
  readonly mailboxSignal: boolean;
  /** Greylisting and the kind of a 5xx, as classify.ts reads the reply. */
  readonly greylisting?: 'certain' | 'likely';
  readonly rejection?: 'policy' | 'hygiene';
}

export interface Delivery {
  /** The sending IP named by the transport's syslog_name. */
  readonly ip: string;
  readonly queueId: string;
  /** Lower-cased recipient (`to=`). */
  readonly recipient: string;
  /** `relay=` host name and address (null for `relay=none`). */
  readonly relayHost: string | null;
  readonly relayAddress: string | null;
  readonly dsn: string | null;
  readonly status: 'sent' | 'deferred' | 'bounced';
  /** The text in parentheses after the status (the remote reply, or Postfix's reason). */
  readonly detail: string;
  /** Postfix's own `delay=` in seconds (time since the message arrived). */
  readonly delaySeconds: number | null;
  /** The reply classified like a reply warmup got itself. */
  readonly result: DeliveryResult;
}

const HEAD = /^\S+\s+\S+\s+\S+\s+\S+\s+(\S+?)\[\d+\]:\s+([0-9A-Za-z]+):\s+to=<([^>]*)>,\s+(.*)$/;
const ISO_HEAD = /^\d{4}-\d{2}-\d{2}T\S+\s+\S+\s+(\S+?)\[\d+\]:\s+([0-9A-Za-z]+):\s+to=<([^>]*)>,\s+(.*)$/;
const STATUS = /(?:^|,\s)status=(sent|deferred|bounced)\s+\((.*)\)\s*$/;
const SAID = /^host (\S+)\[([^\]]+)\] said: (.*?)(?: \(in reply to (.+?) command\))?$/;
const STAGES: Record<string, SmtpStage> = {
  'MAIL FROM': 'mail', 'RCPT TO': 'rcpt', 'DATA': 'data', 'end of DATA': 'dot', 'EHLO': 'ehlo', 'HELO': 'ehlo', 'STARTTLS': 'starttls', 'QUIT': 'quit',
};

/**
 * Parses a delivery line of a warmup transport; `prefix` is the syslog_name
 * prefix the transports use (default `postfix-warmup`).
 *
 * @example
 * parseDeliveryLine('Nov 30 05:12:36 h postfix-warmup/127.0.0.5/smtp[1]: 3F2A: to=<a@b.test>, relay=mx.b.test[127.0.0.53]:25, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)')
 * // { ip: '127.0.0.5', queueId: '3F2A', recipient: 'a@b.test', status: 'sent', result: { outcome: 'accepted', ... }, ... }
 */
export function parseDeliveryLine(line: string, prefix = 'postfix-warmup'): Delivery | null {
  // Most lines of the log are not a warmup transport's (smtpd, cleanup, qmgr...): skip them before any regex.
  if (!line.includes(`${prefix}/`)) return null;
  const m = HEAD.exec(line) ?? ISO_HEAD.exec(line);
  if (!m) return null;
  const [, program, queueId, to, rest] = m as unknown as [string, string, string, string, string];
  if (!program.startsWith(`${prefix}/`) || !program.endsWith('/smtp')) return null;
  const ip = program.slice(prefix.length + 1, -'/smtp'.length);
  if (ip === '' || ip.includes('/')) return null;
  const st = STATUS.exec(rest);
  if (!st) return null;
  const status = st[1] as Delivery['status'];
  const detail = st[2]!;
  const fields = new Map<string, string>();
  for (const part of rest.slice(0, st.index).split(/,\s+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const relay = /^(.+?)\[([^\]]+)\](?::\d+)?$/.exec(fields.get('relay') ?? '');
  const delay = Number(fields.get('delay'));
  return {
    ip, queueId, recipient: to.toLowerCase(),
    relayHost: relay ? relay[1]! : null, relayAddress: relay ? relay[2]! : null,
    dsn: fields.get('dsn') ?? null, status, detail,
    delaySeconds: Number.isFinite(delay) ? delay : null,
    result: classifyDetail(status, detail, fields.get('dsn') ?? null),
  };
}

/** What the detail text means, in the terms of warmup's own SMTP classification. */
function classifyDetail(status: Delivery['status'], detail: string, dsn: string | null): DeliveryResult {
  const said = SAID.exec(detail);
  const c = said
    ? classifyAttempt({ reply: said[3]!, stage: STAGES[said[4] ?? ''] ?? 'rcpt' })
    : status === 'sent'
      ? classifyAttempt({ reply: /^\d{3}[ -]/.test(detail) ? detail : `250 ${detail}`, stage: 'dot' })
      : null;
  if (c) {
    // Postfix's status is the truth about the recipient: a 4xx it gave up on (expired) is final too.
    return { outcome: c.outcome, code: c.code, enhanced: c.enhanced, text: c.text, stage: c.stage, final: status !== 'deferred', mailboxSignal: c.mailboxSignal ?? false,
      ...(c.greylisting ? { greylisting: c.greylisting } : {}), ...(c.rejection ? { rejection: c.rejection } : {}) };
  }
  // No reply from a server: a connection problem, a timeout, DNS, or a local reason.
  const text = detail.replace(/\s+/g, ' ');
  const dns = /Host or domain name not found|Name service error|no MX host|null MX/i.test(text);
  const code = dns ? 'EDNS'
    : /timed out/i.test(text) ? 'ETIMEDOUT'
      : /Connection refused/i.test(text) ? 'ECONNREFUSED'
        : /TLS|SSL|certificate/i.test(text) ? 'ETLS'
          : /lost connection|Connection reset/i.test(text) ? 'ECONNRESET' : 'ENETWORK';
  const e = classifyAttempt({ error: Object.assign(new Error(text), { code }), stage: 'connect' });
  return {
    outcome: dns ? 'dns' : e.outcome, code: null, enhanced: dsn, text: `${code}: ${text}`, stage: e.stage,
    final: status !== 'deferred', mailboxSignal: false,
  };
}

/**
 * True for the line Postfix's trivial-rewrite logs when a `transport_maps` lookup failed, e.g.
 * `Dec  1 10:37:51 mta postfix/trivial-rewrite[23410]: warning: transport_maps lookup failure`
 * (seen with Postfix 3.7 when warmup's socketmap cannot be reached). Every recipient resolved
 * then waits deferred with `address resolver failure`: nothing bounces, but nothing leaves.
 */
export function isTransportMapsFailure(line: string): boolean {
  return line.includes('transport_maps lookup failure') && /\/trivial-rewrite\[\d+\]: warning: /.test(line);
}
