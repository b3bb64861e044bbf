/**
 * What the session thread's worker does (see session-thread.ts), apart from
 * the thread plumbing: the SMTP sessions by id, each request answered with
 * plain data (classifications, flags) the main thread turns back into what
 * SmtpSession gives in-thread.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from '../util/log.js';
import { classifyAttempt, type Classification } from './classify.js';
import { composeMessage } from './compose.js';
import type { MessageFields } from './message.js';
import { SmtpSession, type SessionOptions } from './session.js';

/** Main thread -> worker. */
export type SessionRequest =
  | { readonly t: 'open'; readonly id: number; readonly sid: number; readonly options: Omit<SessionOptions, 'logger'> }
  | {
    readonly t: 'send'; readonly id: number; readonly sid: number; readonly envelope: { readonly from: string; readonly to: readonly string[] };
    /** The message's bytes as a latin1 string (one byte per character: cheap to copy between threads), or fields to compose here. */
    readonly message: string | MessageFields;
  }
  | { readonly t: 'quit'; readonly sid: number }
  | { readonly t: 'close'; readonly sid: number };

/** Worker -> main thread. */
export type SessionReply =
  | { readonly t: 'opened'; readonly id: number; readonly ok: true; readonly secure: boolean }
  | { readonly t: 'opened'; readonly id: number; readonly ok: false; readonly failure: Classification }
  | { readonly t: 'sent'; readonly id: number; readonly results: Array<[string, Classification]>; readonly usable: boolean; readonly secure: boolean }
  /** Composing the fields failed: nothing was sent, the session is as it was. */
  | { readonly t: 'uncomposed'; readonly id: number; readonly code: string | undefined; readonly message: string }
  | { readonly t: 'ended'; readonly sid: number }
  /** The worker serves requests (sent once, first). */
  | { readonly t: 'ready' }
  | { readonly t: 'log'; readonly level: 'trace' | 'debug'; readonly entry: Record<string, unknown> | undefined; readonly message: string };

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
  const logger = levels.trace || levels.debug ? forwardingLogger(levels, post) : undefined;

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
        if (!session) {
          // The connection ended while the main thread still pooled it: what a stale pooled
          // connection gives in-thread (a network failure before any reply to MAIL FROM).
          const gone: Classification = staleConnection();
          return post({ t: 'sent', id: req.id, results: req.envelope.to.map((r) => [r, gone]), usable: false, secure: false });
        }
        void bytesOf(req.message).then(
          (message) => session.send(req.envelope, message).then((results) => {
            post({ t: 'sent', id: req.id, results: [...results], usable: session.usable, secure: session.secure });
          }),
          (error: unknown) => {
            const e = error instanceof Error ? error : new Error(String(error));
            post({ t: 'uncomposed', id: req.id, code: (e as { code?: string }).code, message: e.message });
          },
        );
        return;
      }
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
}

/** The bytes to send: a latin1 string back to its bytes, or the fields composed as the mailer composes them in-thread. */
async function bytesOf(message: string | MessageFields): Promise<Buffer> {
  if (typeof message === 'string') return Buffer.from(message, 'latin1');
  const composed = composeMessage(message);
  return composed instanceof Buffer ? composed : await composed;
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

/** A logger for SmtpSession that forwards its nodemailer lines to the main thread's logger. */
function forwardingLogger(levels: SessionLogLevels, post: (r: SessionReply) => void): Logger {
  const line = (level: 'trace' | 'debug') => (entry: Record<string, unknown> | undefined, message?: string): void => {
    if (levels[level]) post({ t: 'log', level, entry: entry ? plain(entry) : undefined, message: message ?? '' });
  };
  const logger = { isLevelEnabled: (l: string) => (l === 'trace' ? levels.trace : l === 'debug' ? levels.debug : false), trace: line('trace'), debug: line('debug') };
  return logger as unknown as Logger;
}

/** A log entry as data a message can carry (nodemailer's entries hold only strings and numbers, but be safe). */
function plain(entry: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry)) out[k] = v === null || ['string', 'number', 'boolean'].includes(typeof v) ? v : String(v);
  return out;
}
