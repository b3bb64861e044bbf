/**
 * Turns the raw result of one SMTP attempt (a server reply, or an error thrown
 * by the socket / nodemailer) into data the policy engine can reason about.
 *
 * Pure: no sockets, no clock. The one place that decides what a reply means.
 */

/** Where in the SMTP session an attempt ended. */
export type SmtpStage = 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'mail' | 'rcpt' | 'data' | 'dot' | 'quit';

/** Outcome classes, coarsest first-level decision for the policy engine. */
export type AttemptOutcome = 'accepted' | 'deferred' | 'bounced' | 'network' | 'timeout' | 'tls' | 'protocol';

/** The classified result of one attempt for one recipient. */
export interface Classification {
  readonly outcome: AttemptOutcome;
  /** Basic SMTP reply code (RFC 5321), null when the server never answered. */
  readonly code: number | null;
  /** Enhanced status code (RFC 3463), e.g. `4.7.28`, when the reply carried one. */
  readonly enhanced: string | null;
  /**
   * The whole reply on one line, `code enhanced text` with continuation lines
   * joined by a space (the way KumoMTA presents replies to its rules), so a
   * rule regex can match a phrase that the server wrapped across lines. For
   * errors without a reply: `ERRCODE: message`.
   */
  readonly text: string;
  readonly stage: SmtpStage;
  /** True when retrying the same message cannot succeed (5xx, or a local misuse). */
  readonly final: boolean;
  /**
   * Present when there was a reply: true when it speaks about the recipient
   * mailbox (unknown user, mailbox full, per-mailbox rate) rather than about the
   * sending IP or domain, so the policy engine must not slow the lane for it.
   */
  readonly mailboxSignal?: boolean;
  /**
   * Present on a 4xx that looks like greylisting: `certain` when the reply says
   * so (postgrey's `450 4.2.0 ... Greylisted`), `likely` for a bare "try again
   * later" with 4.2.0 / 4.7.1 (rspamd, many hosted filters). A `likely` one is
   * confirmed only by the retry that succeeds (see the store's recordAttempt).
   * Greylisting is about first contact, not reputation.
   */
  readonly greylisting?: 'certain' | 'likely';
  /**
   * Present on a 5xx reply: `hygiene` when it is about the recipient mailbox
   * (unknown user 5.1.1 / 5.1.10, mailbox full: a list problem), else `policy`
   * (the receiver refuses the sender or its IP: reputation, block lists,
   * authentication, policy). The intra-day rejection breaker counts `policy` only.
   */
  readonly rejection?: 'policy' | 'hygiene';
  /** Most specific error code for non-reply failures (`ECONNRESET`, `ETIMEDOUT`, `ETLS`...). */
  readonly errorCode?: string;
}

/** Input for {@link classifyAttempt}: a server reply, or a thrown error. */
export type ClassifyInput =
  | {
      /** Raw reply as received (lines may keep their `250-` prefixes), or just its text when `code` is given. */
      readonly reply: string;
      readonly code?: number;
      readonly stage: SmtpStage;
    }
  | {
      readonly error: unknown;
      /** Where the session was; overrides what the error itself suggests. */
      readonly stage?: SmtpStage;
    };

/** The fields of a Node / nodemailer error this module reads. */
interface ErrorLike {
  message?: unknown;
  code?: unknown;
  originalCode?: unknown;
  response?: unknown;
  responseCode?: unknown;
  command?: unknown;
  timeoutType?: unknown;
}

const REPLY_LINE = /^(\d{3})(?:[ -]|$)/;
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)/;

// X.1.1 bad mailbox, X.1.6 moved, X.1.10 null MX for recipient, X.2.1 disabled
// (Gmail uses 4.2.1 for a per-mailbox rate), X.2.2 full. X.2.0 is left out on
// purpose: postgrey answers 450 4.2.0 for greylisting, which is about the IP.
const MAILBOX_ENHANCED = new Set(['1.1', '1.6', '1.10', '2.1', '2.2']);
const MAILBOX_TEXT =
  /unknown user|user unknown|no such user|user not found|unknown recipient|mailbox (?:not found|unavailable|is full|full)|over quota|quota exceeded|does not exist|receiving mail at a rate/i;
const GREYLIST_TEXT = /gr[ae]y-?list/i;
// Generic greylisting answers carry no word for it; Yahoo / Apple 4.7.0 "temporarily deferred"
// and Postfix's 4.7.1 "too much mail" rate limit do not match this.
const RETRY_LATER_TEXT = /\b(?:try again later|try later|retry later|please retry|come back later)\b/i;
const GREYLIST_ENHANCED = new Set(['4.2.0', '4.7.1']);

const TLS_ERRNO = /^(?:ETLS|ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_|EPROTO$)/;
const TIMEOUT_ERRNO = new Set(['ETIMEDOUT', 'ETIMEOUT', 'ESOCKETTIMEDOUT']);

/**
 * Classify one attempt.
 *
 * @example
 * classifyAttempt({ reply: '450 4.2.1 The user you are trying to contact is receiving mail at a rate ...', stage: 'rcpt' })
 * // { outcome: 'deferred', code: 450, enhanced: '4.2.1', final: false, mailboxSignal: true, ... }
 * classifyAttempt({ error: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), stage: 'greeting' })
 * // { outcome: 'network', code: null, final: false, errorCode: 'ECONNRESET', ... }
 */
export function classifyAttempt(input: ClassifyInput): Classification {
  if ('reply' in input) return classifyReply(parseReply(input.reply, input.code), input.stage);
  return classifyError(input.error, input.stage);
}

/**
 * A failure before any reply to MAIL FROM on a connection that gave none: what a pooled connection the server
 * dropped while it sat idle gives. It says nothing about the message (the mailer retries it once, on a fresh connection).
 */
export function isStaleConnection(c: Classification): boolean {
  return c.code === null && c.outcome === 'network' && c.stage === 'mail';
}

/** A reply split into its parts. */
export interface ParsedReply {
  readonly code: number | null;
  readonly enhanced: string | null;
  /** `code enhanced text` on one line. */
  readonly text: string;
}

/**
 * Parse a (possibly multi-line) SMTP reply. Continuation lines lose their
 * `421-` prefix and, when they repeat it, the enhanced code, then are joined
 * with single spaces.
 */
export function parseReply(raw: string, code?: number): ParsedReply {
  if (!raw.includes('\n')) return parseOneLine(raw, code);
  const lines = raw.split(/\r?\n/).filter((l) => l.trim() !== '');
  let replyCode: number | null = code ?? null;
  let enhanced: string | null = null;
  const parts: string[] = [];
  for (const [i, line] of lines.entries()) {
    let rest = line;
    const m = REPLY_LINE.exec(rest);
    if (m) {
      if (replyCode === null) replyCode = Number(m[1]);
      rest = rest.slice(m[0].length);
    }
    rest = rest.trim();
    const e = ENHANCED.exec(rest);
    if (e && (i === 0 || e[0] === enhanced)) {
      if (i === 0) enhanced = e[0];
      rest = rest.slice(e[0].length).trim();
    }
    if (rest) parts.push(rest.replace(/\s+/g, ' '));
  }
  const head = [replyCode === null ? null : String(replyCode), enhanced].filter((x) => x !== null).join(' ');
  const text = [head, parts.join(' ')].filter((x) => x !== '').join(' ');
  return { code: replyCode, enhanced, text };
}

/**
 * {@link parseReply} for a reply of one line (`250 2.0.0 Ok: queued as X`, the answer to
 * nearly every message): the same steps without splitting, filtering and joining arrays.
 */
function parseOneLine(raw: string, code: number | undefined): ParsedReply {
  let replyCode: number | null = code ?? null;
  let enhanced: string | null = null;
  let rest = raw;
  if (rest.trim() !== '') {
    const m = REPLY_LINE.exec(rest);
    if (m) {
      if (replyCode === null) replyCode = Number(m[1]);
      rest = rest.slice(m[0].length);
    }
    rest = rest.trim();
    const e = ENHANCED.exec(rest);
    if (e) {
      enhanced = e[0];
      rest = rest.slice(e[0].length).trim();
    }
  } else {
    rest = '';
  }
  let text = replyCode === null ? (enhanced ?? '') : enhanced === null ? String(replyCode) : `${replyCode} ${enhanced}`;
  if (rest) text = text === '' ? rest.replace(/\s+/g, ' ') : `${text} ${rest.replace(/\s+/g, ' ')}`;
  return { code: replyCode, enhanced, text };
}

function isMailboxSignal(reply: ParsedReply): boolean {
  if (GREYLIST_TEXT.test(reply.text)) return false;
  if (reply.enhanced && MAILBOX_ENHANCED.has(reply.enhanced.slice(2))) return true;
  return MAILBOX_TEXT.test(reply.text);
}

/** Greylisting as the reply text shows it (4xx only); see {@link Classification.greylisting}. */
function greylistingOf(reply: ParsedReply): 'certain' | 'likely' | undefined {
  if (GREYLIST_TEXT.test(reply.text)) return 'certain';
  if ((reply.code === 450 || reply.code === 451) && (reply.enhanced === null || GREYLIST_ENHANCED.has(reply.enhanced)) && RETRY_LATER_TEXT.test(reply.text)) {
    return 'likely';
  }
  return undefined;
}

function classifyReply(reply: ParsedReply, stage: SmtpStage): Classification {
  const mailboxSignal = isMailboxSignal(reply);
  const cls = reply.code === null ? 0 : Math.floor(reply.code / 100);
  // The accepted reply (nearly every message) as one literal: spreading `base` costs more than the parse (on Node 20's
  // V8 each property written after a leading spread builds a new hidden class); the others extend `base` in place.
  if (cls === 2 || cls === 3) {
    return { code: reply.code, enhanced: reply.enhanced, text: reply.text, stage, mailboxSignal, outcome: 'accepted', final: true };
  }
  const base = { code: reply.code, enhanced: reply.enhanced, text: reply.text, stage, mailboxSignal };
  if (cls === 4) {
    const greylisting = greylistingOf(reply);
    return Object.assign(base, { outcome: 'deferred' as const, final: false }, greylisting ? { greylisting } : {});
  }
  if (cls === 5) return Object.assign(base, { outcome: 'bounced' as const, final: true, rejection: mailboxSignal ? 'hygiene' as const : 'policy' as const });
  // Not a reply at all (garbage on the wire): a broken peer, worth a retry later.
  return Object.assign(base, { outcome: 'protocol' as const, final: false });
}

/** Map a nodemailer `command` (the step that failed) to a stage. */
function stageFromError(e: ErrorLike): SmtpStage | undefined {
  switch (e.command) {
    case 'EHLO':
    case 'HELO':
    case 'LHLO':
      return 'ehlo';
    case 'STARTTLS':
      return 'starttls';
    case 'MAIL FROM':
    case 'RSET':
      return 'mail';
    case 'RCPT TO':
      return 'rcpt';
    case 'DATA':
      // nodemailer reports both the reply to DATA and the reply after the
      // final dot as command DATA; only the latter is an EMESSAGE.
      return e.code === 'EMESSAGE' ? 'dot' : 'data';
    default:
      break;
  }
  switch (e.timeoutType) {
    case 'CONNECT_TIMEOUT':
      return 'connect';
    case 'GREETING_TIMEOUT':
      return 'greeting';
    case 'UPGRADE_TIMEOUT':
      return 'starttls';
    default:
      return undefined;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function classifyError(error: unknown, stageHint: SmtpStage | undefined): Classification {
  const e: ErrorLike = typeof error === 'object' && error !== null ? (error as ErrorLike) : { message: String(error) };
  const code = str(e.code);
  const errorCode = str(e.originalCode) ?? code ?? 'EUNKNOWN';
  const stage = stageHint ?? stageFromError(e) ?? 'connect';
  const message = str(e.message) ?? String(error);
  const response = str(e.response);
  const reply = response ? parseReply(response) : undefined;
  const hasReply = reply !== undefined && reply.code !== null;

  const make = (outcome: AttemptOutcome, final: boolean): Classification => ({
    outcome,
    code: hasReply ? reply.code : null,
    enhanced: hasReply ? reply.enhanced : null,
    text: hasReply ? reply.text : `${errorCode}: ${message}`,
    stage,
    final,
    ...(hasReply ? { mailboxSignal: isMailboxSignal(reply) } : {}),
    errorCode,
  });

  // TLS first: in 'require' mode a 5xx to STARTTLS is a TLS failure (deferred
  // by MTAs such as Postfix at security level "encrypt"), not a bounce.
  if (code === 'ETLS' || TLS_ERRNO.test(errorCode) || (stage === 'starttls' && !hasReply && !isTimeout(code, errorCode))) {
    return make('tls', false);
  }
  if (hasReply) {
    const cls = Math.floor((reply.code ?? 0) / 100);
    if (cls === 4 || cls === 5) return Object.assign(classifyReply(reply, stage), { errorCode });
    // A 2xx/3xx the client did not expect (e.g. 250 as greeting).
    return make('protocol', false);
  }
  if (isTimeout(code, errorCode)) return make('timeout', false);
  // Local misuse (invalid address, empty message): retrying changes nothing.
  // ECONNECTION from the API is a connection that died while idle: network.
  if (e.command === 'API' && code !== 'ECONNECTION') return make('protocol', true);
  if (code === 'EPROTOCOL') return make('protocol', false);
  // ECONNREFUSED, ECONNRESET (au/KDDI answer a block or congestion with a
  // reset: a deferral, not a bounce), EHOSTUNREACH, ECONNECTION, EDNS...
  return make('network', false);
}

function isTimeout(code: string | undefined, errorCode: string): boolean {
  return (code !== undefined && TIMEOUT_ERRNO.has(code)) || TIMEOUT_ERRNO.has(errorCode);
}
