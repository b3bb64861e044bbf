/**
 * What the session thread's worker does (see session-thread.ts), apart from
 * the thread plumbing: the SMTP sessions by id, each request answered with
 * plain data (classifications, flags) the main thread turns back into what
 * SmtpSession gives in-thread.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from '../util/log.js';
import { classifyAttempt, isStaleConnection, type Classification } from './classify.js';
import { composeMessage, composeText } from './compose.js';
import type { MessageFields } from './message.js';
import { SmtpSession, type SessionOptions } from './session.js';
import { createSigningPool, signMessage, type JobKey, type Signer, type SigningKey } from './signing-pool.js';

/** Main thread -> worker. */
export type SessionRequest =
  | { readonly t: 'open'; readonly id: number; readonly sid: number; readonly options: Omit<SessionOptions, 'logger'> }
  | {
    readonly t: 'send'; readonly id: number; readonly sid: number; readonly envelope: { readonly from: string; readonly to: readonly string[] };
    /**
     * The message's bytes as a latin1 string (one byte per character: cheap to copy between threads), fields to compose
     * here, or the number of a message prepared here ('prepare'): dropped after this send, unless `mayRetry` and
     * every recipient got a stale connection's failure (the main thread then sends it again on a fresh connection).
     */
    readonly message: string | MessageFields | { readonly pid: number };
    readonly mayRetry?: boolean;
  }
  /**
   * Compose and DKIM-sign a message ahead of its send (on this worker's signing pool), kept by `pid` until the send
   * that names it is over (or 'forget'). Nothing answers it: a failure is that send's 'uncomposed'.
   */
  | { readonly t: 'prepare'; readonly pid: number; readonly message: MessageFields; readonly keys: readonly JobKey[]; readonly now: number }
  | { readonly t: 'forget'; readonly pid: number }
  | { readonly t: 'quit'; readonly sid: number }
  | { readonly t: 'close'; readonly sid: number };

/** Worker -> main thread. */
export type SessionReply =
  | { readonly t: 'opened'; readonly id: number; readonly ok: true; readonly secure: boolean }
  | { readonly t: 'opened'; readonly id: number; readonly ok: false; readonly failure: Classification }
  | {
    readonly t: 'sent'; readonly id: number; readonly results: Array<[string, Classification]>; readonly usable: boolean; readonly secure: boolean;
    /** A prepared message: how long (ms) its send waited here for the bytes (signing), which is not network time. */
    readonly waitedMs?: number;
  }
  /** Composing (or signing) the fields failed: nothing was sent, the session is as it was. */
  | { readonly t: 'uncomposed'; readonly id: number; readonly code: string | undefined; readonly message: string }
  | { readonly t: 'ended'; readonly sid: number }
  /** The worker serves requests (sent once, first). */
  | { readonly t: 'ready' }
  | { readonly t: 'log'; readonly level: LogLevel; readonly entry: Record<string, unknown> | undefined; readonly message: string };

/** Levels forwarded to the main thread's logger (warn and error always: the signing pool's). */
type LogLevel = 'trace' | 'debug' | 'warn' | 'error';

/** Which log levels the main thread's logger has on (nodemailer's lines are forwarded only then). */
export interface SessionLogLevels {
  readonly trace: boolean;
  readonly debug: boolean;
}

/**
 * Serves session requests arriving on `port` (in batches: arrays of
 * requests) until the port closes. Replies go back in batches too: those
 * ready within one turn of the event loop in one message, as the main
 * thread sends its requests, so a thread wakes once per batch, not per message.
 */
export function serveSessions(port: Pick<MessagePort, 'on' | 'postMessage'>, levels: SessionLogLevels): void {
  const sessions = new Map<number, SmtpSession>();
  const post = batcher<SessionReply>((batch) => port.postMessage(batch));
  const forwarding = forwardingLogger(levels, post);
  // nodemailer's lines cost a call per command even when dropped: SmtpSession gets a logger only when they are kept.
  const logger = levels.trace || levels.debug ? forwarding : undefined;
  /** Messages prepared ahead of their send, by the main thread's number. */
  const prepared = new Map<number, Promise<Buffer>>();
  /** DKIM keys by the main thread's number (their PEM arrives with the first message that names them). */
  const keys = new Map<number, SigningKey>();
  let signer: Signer | null = null;

  port.on('message', (batch: SessionRequest[]) => {
    for (const req of batch) handle(req);
  });
  post({ t: 'ready' });

  function handle(req: SessionRequest): void {
    switch (req.t) {
      case 'open':
        void SmtpSession.open({ ...req.options, ...(logger ? { logger } : {}) }).then((r) => {
          if (!r.ok) return post({ t: 'opened', id: req.id, ok: false, failure: r.failure });
          sessions.set(req.sid, r.session);
          r.session.onEnd(() => {
            if (sessions.get(req.sid) !== r.session) return;
            sessions.delete(req.sid);
            post({ t: 'ended', sid: req.sid });
          });
          post({ t: 'opened', id: req.id, ok: true, secure: r.session.secure });
        });
        return;
      case 'send': {
        const session = sessions.get(req.sid);
        const pid = typeof req.message === 'object' && 'pid' in req.message ? req.message.pid : undefined;
        // A prepared message is dropped after its last send (see `mayRetry`).
        const sent = (results: Array<[string, Classification]> | null): void => {
          if (pid !== undefined && !(req.mayRetry && results?.every(([, c]) => isStaleConnection(c)))) prepared.delete(pid);
        };
        if (!session) {
          // The connection ended while the main thread still pooled it: what a stale pooled
          // connection gives in-thread (a network failure before any reply to MAIL FROM).
          const gone: Classification = staleConnection();
          const results = req.envelope.to.map<[string, Classification]>((r) => [r, gone]);
          sent(results);
          return post({ t: 'sent', id: req.id, results, usable: false, secure: false });
        }
        const t0 = pid === undefined ? 0 : performance.now();
        void bytesOf(req.message, prepared).then(
          (message) => {
            const waitedMs = pid === undefined ? 0 : performance.now() - t0;
            return session.send(req.envelope, message).then((map) => {
              const results = [...map];
              sent(results);
              post({ t: 'sent', id: req.id, results, usable: session.usable, secure: session.secure, ...(waitedMs > 0 ? { waitedMs } : {}) });
            });
          },
          (error: unknown) => {
            sent(null);
            post(uncomposed(req.id, error));
          },
        );
        return;
      }
      case 'prepare': {
        const bytes = prepare(req);
        prepared.set(req.pid, bytes);
        bytes.catch(() => undefined); // its send reports it
        return;
      }
      case 'forget':
        prepared.delete(req.pid);
        return;
      case 'quit':
      case 'close': {
        const session = sessions.get(req.sid);
        if (!session) return;
        if (req.t === 'quit') session.quit();
        else session.close();
        return;
      }
    }
  }

  /**
   * Composes and signs as the mailer does in-thread (compose.ts, then the signing pool: this worker's own). On
   * compose's lean path the job reaches the pool before this returns, so that the prepares of one batch of requests
   * go to the signers together; the message stays a latin1 string until the signatures are put in front of it.
   */
  function prepare(req: Extract<SessionRequest, { t: 'prepare' }>): Promise<Buffer> {
    try {
      const list = req.keys.map<SigningKey>((k) => {
        if (k.pem !== undefined) keys.set(k.key, { domain: k.domain, selector: k.selector, pem: k.pem });
        const key = keys.get(k.key);
        if (!key) throw Object.assign(new Error(`DKIM key ${k.key} was never sent to the session thread`), { code: 'EDKIM' });
        return key;
      });
      const text = composeText(req.message);
      const pool = (signer ??= createSigningPool({ logger: forwarding }));
      return typeof text === 'string' ? signMessage(pool, text, list, req.now) : text.then((t) => signMessage(pool, t, list, req.now));
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** The bytes to send: a latin1 string back to its bytes, the fields composed as the mailer composes them in-thread, or a prepared message. */
async function bytesOf(message: string | MessageFields | { readonly pid: number }, prepared: ReadonlyMap<number, Promise<Buffer>>): Promise<Buffer> {
  if (typeof message === 'string') return Buffer.from(message, 'latin1');
  if ('pid' in message) {
    const bytes = prepared.get(message.pid);
    if (!bytes) throw Object.assign(new Error(`no prepared message ${message.pid} in the session thread`), { code: 'EPREPARED' });
    return bytes;
  }
  return compose(message);
}

async function compose(fields: MessageFields): Promise<Buffer> {
  const composed = composeMessage(fields);
  return composed instanceof Buffer ? composed : await composed;
}

function uncomposed(id: number, error: unknown): SessionReply {
  const e = error instanceof Error ? error : new Error(String(error));
  return { t: 'uncomposed', id, code: (e as { code?: string }).code, message: e.message };
}

/**
 * Collects items and hands them over together once per turn of the event
 * loop (setImmediate): a burst of replies or requests costs one message
 * between the threads, and one wake-up of the other thread.
 */
export function batcher<T>(flush: (items: T[]) => void): (item: T) => void {
  let items: T[] = [];
  let scheduled = false;
  const run = (): void => {
    scheduled = false;
    const out = items;
    items = [];
    flush(out);
  };
  return (item: T) => {
    items.push(item);
    if (!scheduled) {
      scheduled = true;
      setImmediate(run);
    }
  };
}

function staleConnection(): Classification {
  return classifyAttempt({ error: Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' }), stage: 'mail' });
}

/**
 * A logger that forwards its lines to the main thread's logger: SmtpSession's nodemailer lines (trace, debug: only
 * when the main thread's logger keeps them) and the signing pool's warnings (a child's bindings go into the entry).
 */
function forwardingLogger(levels: SessionLogLevels, post: (r: SessionReply) => void, bindings: Record<string, unknown> = {}): Logger {
  const on = (level: LogLevel): boolean => (level === 'trace' ? levels.trace : level === 'debug' ? levels.debug : true);
  const line = (level: LogLevel) => (entry: Record<string, unknown> | undefined, message?: string): void => {
    if (on(level)) post({ t: 'log', level, entry: plain({ ...bindings, ...entry }), message: message ?? '' });
  };
  const logger = {
    isLevelEnabled: (l: string) => (['trace', 'debug', 'warn', 'error'].includes(l) ? on(l as LogLevel) : false),
    trace: line('trace'), debug: line('debug'), warn: line('warn'), error: line('error'),
    child: (more: Record<string, unknown>) => forwardingLogger(levels, post, { ...bindings, ...more }),
  };
  return logger as unknown as Logger;
}

/** A log entry as data a message can carry (nodemailer's entries hold only strings and numbers, but be safe). */
function plain(entry: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry)) out[k] = v === null || ['string', 'number', 'boolean'].includes(typeof v) ? v : String(v);
  return out;
}
