/**
 * The Mailer: sends one message over SMTP from a given source IP to a given
 * MX and reports one attempt record per recipient. Outcomes are data: send()
 * never rejects.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../util/clock.js';
import { WarmupError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { classifyAttempt, isStaleConnection, type Classification } from './classify.js';
import { composeMessage } from './compose.js';
import type { MessageFields } from './message.js';
import { KeyedPool, type PoolLimits } from './pool.js';
import { SmtpSession, type OpenResult, type Session, type SessionOptions, type SessionTimeouts, type TlsMode } from './session.js';
import { SessionThread, type Prepared, type RemoteSession } from './session-thread.js';
import { createSigningPool, signMessage, type Signer, type SigningKey } from './signing-pool.js';

export type { TlsMode, SessionTimeouts, PoolLimits };

/** DKIM signing key: RSA or Ed25519 (RFC 8463); the algorithm follows the key. */
export interface DkimOptions {
  readonly domainName: string;
  readonly keySelector: string;
  /** PEM or KeyObject. */
  readonly privateKey: string | KeyObject;
}

/** One send: one message, one MX address, one source IP. */
export interface SendRequest {
  /** MAIL FROM and RCPT TO, independent of the headers. */
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  /** A ready RFC 5322 message, or fields to compose one (see message.ts). */
  readonly message: { readonly raw: string | Buffer } | { readonly fields: MessageFields };
  /** Source IP to bind (the IP being warmed up). */
  readonly localAddress?: string;
  /** EHLO name; should be the PTR name of `localAddress`. */
  readonly ehloName: string;
  /** MX host name (used for SNI and in records). */
  readonly host: string;
  /** Address of `host` to connect to; defaults to `host`. */
  readonly address?: string;
  readonly port: number;
  readonly tls: TlsMode;
  /** Sign with DKIM when given; several keys give several signatures (RSA beside Ed25519: dual signing). */
  readonly dkim?: DkimOptions | readonly DkimOptions[];
  /** Overrides of the mailer's default timeouts for a connection this send opens. */
  readonly timeouts?: Partial<SessionTimeouts>;
  /**
   * Asked when a connection slot has been obtained, before anything opens or
   * goes out: false ends the send with WarmupError NOT_SENT (a stopping
   * daemon puts the message back in its queue instead).
   */
  readonly mayStart?: () => boolean;
}

/** What happened to one recipient on one try. */
export interface AttemptRecord extends Classification {
  readonly recipient: string;
  readonly mx: { readonly host: string; readonly address: string; readonly port: number };
  readonly localAddress: string | null;
  /** The session ran under STARTTLS. */
  readonly tls: boolean;
  /** The message went over a connection that had carried earlier messages. */
  readonly reused: boolean;
  /** Clock time (epoch ms) when a connection slot was obtained, and when the outcome was known. */
  readonly startedAt: number;
  readonly finishedAt: number;
  /** Real milliseconds spent on the network, measured with the monotonic timer. */
  readonly latencyMs: number;
}

/** The narrow sending interface the daemon depends on. */
export interface Mailer {
  /** Send one message; resolves to one record per envelope recipient. Never rejects. */
  send(request: SendRequest): Promise<AttemptRecord[]>;
  /** Quit idle connections; sends in flight finish and then close their connection. */
  close(): Promise<void>;
}

/** Options for {@link createSmtpMailer}. */
export interface SmtpMailerOptions {
  /** Stamps startedAt / finishedAt; may be accelerated. */
  readonly clock: Clock;
  /**
   * Real-time milliseconds for latency (default `performance.now`). Separate
   * from `clock` because an accelerated clock would inflate network latency.
   */
  readonly monotonic?: () => number;
  readonly timeouts?: Partial<SessionTimeouts>;
  /** Per (source IP, MX host, port). Defaults: 2 connections, 50 messages each, 5 s idle. */
  readonly pool?: Partial<PoolLimits>;
  readonly logger?: Logger;
  /**
   * Signs DKIM off the event loop. Default: a worker pool sized to the cores,
   * started on the first signed send and stopped by close().
   */
  readonly signer?: Signer;
  /**
   * Run the SMTP sessions (nodemailer, its streams, the sockets) in a worker
   * thread, on another core than the caller's (default false: in this
   * thread). The pool, the `mayStart` question and the clock stay here. A
   * SessionThread of the caller's (e.g. one already started, see its
   * `ready()`) is used as it is; the mailer closes it in close().
   */
  readonly sessionThread?: boolean | SessionThread;
}

const DEFAULT_TIMEOUTS: SessionTimeouts = { connect: 30_000, greeting: 60_000, socket: 120_000 };
const DEFAULT_POOL: PoolLimits = { maxConnections: 2, maxMessagesPerConnection: 50, idleMs: 5_000 };

/**
 * The real Mailer, on nodemailer's SMTPConnection, composing as nodemailer's
 * MailComposer does (compose.ts) and signing DKIM on a worker pool.
 *
 * @example
 * const mailer = createSmtpMailer({ clock: systemClock, pool: { maxConnections: 1 } });
 * const records = await mailer.send({ envelope, message: { fields }, localAddress: '203.0.113.10',
 *   ehloName: 'mta10.example.com', host: 'gmail-smtp-in.l.google.com', address: '142.250.1.26', port: 25,
 *   tls: 'opportunistic', dkim });
 */
export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const clock = options.clock;
  const monotonic = options.monotonic ?? (() => performance.now());
  const timeouts = Object.freeze({ ...DEFAULT_TIMEOUTS, ...options.timeouts });
  const pool = new KeyedPool<Session>({ ...DEFAULT_POOL, ...options.pool });
  const logger = options.logger?.child({ component: 'mailer' });
  const thread = options.sessionThread instanceof SessionThread ? options.sessionThread : options.sessionThread ? new SessionThread(logger ? { logger } : {}) : null;
  // The thread starts with the first send (a daemon outside its window never starts it: an idle
  // daemon stays small); a caller that needs it at once passes one it started (SessionThread.ready()).
  const open = (o: SessionOptions): Promise<OpenResult<Session>> => (thread ? thread.open(o) : SmtpSession.open(o));
  let signer = options.signer ?? null;
  const ownSigner = !options.signer;
  const signing = (): Signer => (signer ??= createSigningPool({ ...(logger ? { logger } : {}) }));

  async function send(request: SendRequest): Promise<AttemptRecord[]> {
    const records = (
      results: (rcpt: string) => Classification,
      at: { startedAt: number; t0: number; address: string; tls: boolean; reused: boolean },
    ): AttemptRecord[] => {
      const finishedAt = clock.now();
      const latencyMs = Math.max(0, Math.round(monotonic() - at.t0));
      // Object.assign, not `{ ...classification, recipient, ... }`: on Node 20's V8 each property written after a
      // leading spread takes a slow path that builds a new hidden class (~1 µs each, ~9 µs per record).
      return request.envelope.to.map<AttemptRecord>((recipient) => Object.assign({}, results(recipient), {
        recipient,
        mx: { host: request.host, address: at.address, port: request.port },
        localAddress: request.localAddress ?? null,
        tls: at.tls,
        reused: at.reused,
        startedAt: at.startedAt,
        finishedAt,
        latencyMs,
      }));
    };
    const address = request.address ?? request.host;

    // A local problem (bad key, bad fields): nothing was sent, retrying the
    // same input will not help. Reported at 'connect', the first stage.
    const unprepared = (error: unknown): Classification => classifyAttempt({ error: Object.assign(asError(error), { command: 'API' }), stage: 'connect' });
    const failed = (error: unknown): AttemptRecord[] => {
      const failure = unprepared(error);
      return records(() => failure, { startedAt: clock.now(), t0: monotonic(), address, tls: false, reused: false });
    };
    // With the session thread, a message's fields are composed there, and signed there on its own signing pool
    // (unless the caller gave a signer of its own): only the fields cross, the bytes stay in the worker. The
    // prepare is not waited for: the send naming it waits there for the bytes (a failure comes back as its error).
    let message: Buffer | MessageFields | Prepared;
    if (thread && 'fields' in request.message && !request.dkim) message = request.message.fields;
    else {
      try {
        if (thread && 'fields' in request.message && !options.signer) {
          const keys = signingKeys(request.dkim!);
          // Nothing answers the prepare before a connection is taken: a key that is no private key fails here, before any.
          for (const k of keys) checkKey(k.pem);
          message = thread.prepare(request.message.fields, keys, clock.now());
        } else message = await prepare(request, signing, clock.now());
      } catch (error) {
        return failed(error);
      }
    }
    // The worker drops a prepared message after its last send (it keeps it for a send a stale pooled connection
    // may retry): it is forgotten here only when no send took it (not started, no connection).
    let sentLast = false;
    try {
      return await deliver(message);
    } finally {
      if (thread && !sentLast && !Buffer.isBuffer(message) && 'pid' in message) thread.forget(message);
    }

    async function deliver(message: Buffer | MessageFields | Prepared): Promise<AttemptRecord[]> {
      // Keyed by what the receiver sees: our IP talking to its host.
      const key = `${request.localAddress ?? '*'}|${request.host.toLowerCase()}|${request.port}`;
      for (let attempt = 0; ; attempt++) {
        const lease = await pool.acquire(key);
        if (request.mayStart && !request.mayStart()) {
          lease.release(lease.resource, false);
          throw new WarmupError('NOT_SENT', 'not sent: the sender is stopping');
        }
        const at = { startedAt: clock.now(), t0: monotonic(), address, tls: false, reused: lease.resource !== null };
        let session = lease.resource;
        if (!session) {
          const opened = await open({
            host: request.host,
            address,
            port: request.port,
            localAddress: request.localAddress,
            ehloName: request.ehloName,
            tls: request.tls,
            timeouts: { ...timeouts, ...request.timeouts },
            logger,
          });
          if (!opened.ok) {
            lease.release(null, false);
            logger?.debug({ host: request.host, address, localAddress: request.localAddress, outcome: opened.failure.outcome }, 'connection failed');
            return records(() => opened.failure, at);
          }
          session = opened.session;
        }
        // A pooled connection the server dropped while it sat idle fails before
        // any reply to MAIL FROM; that says nothing about the message, so it
        // gets one fresh connection, as nodemailer's own pool does.
        const mayRetry = at.reused && attempt === 0;
        let results: Map<string, Classification>;
        /** Every recipient got a stale connection's failure on a send that may go again (see isStaleConnection). */
        let stale: boolean;
        if (Buffer.isBuffer(message)) {
          results = await session.send(request.envelope, message);
          stale = mayRetry && [...results.values()].every(isStaleConnection);
        } else {
          const sent = await (session as RemoteSession).sendComposing(request.envelope, message, mayRetry);
          // The latency leaves out the time the send waited in the worker for its signature.
          at.t0 += (session as RemoteSession).waitedMs;
          stale = sent instanceof Map && mayRetry && [...sent.values()].every(isStaleConnection);
          sentLast = !stale;
          if (sent instanceof Error) {
            // Nothing went out and the session is as it was: back to the pool.
            lease.release(session, session.usable);
            // A prepared message that could not be composed or signed: the record an in-thread prepare gives.
            if ('pid' in message) return failed(sent);
            const failure = unprepared(sent);
            return records(() => failure, Object.assign({}, at, { address: session.address, tls: session.secure }));
          }
          results = sent;
        }
        lease.release(session, session.usable);
        if (stale) continue;
        return records((rcpt) => results.get(rcpt)!, Object.assign({}, at, { address: session.address, tls: session.secure }));
      }
    }
  }

  return Object.freeze({
    send,
    close: async () => {
      pool.close();
      await thread?.close();
      if (ownSigner && signer) await signer.close();
    },
  });
}

/** Compose (when given fields) and DKIM-sign the message bytes. */
async function prepare(request: SendRequest, signer: () => Signer, now: number): Promise<Buffer> {
  let raw: Buffer;
  if ('raw' in request.message) raw = Buffer.from(request.message.raw);
  else {
    const composed = composeMessage(request.message.fields);
    raw = composed instanceof Buffer ? composed : await composed;
  }
  if (!request.dkim) return raw;
  return signMessage(signer(), raw, signingKeys(request.dkim), now);
}

/** The request's DKIM keys as the signers take them (PEM). */
function signingKeys(dkim: NonNullable<SendRequest['dkim']>): SigningKey[] {
  const list: readonly DkimOptions[] = Array.isArray(dkim) ? dkim : [dkim as DkimOptions];
  return list.map<SigningKey>((d) => ({ domain: d.domainName, selector: d.keySelector, pem: pemOf(d.privateKey) }));
}

/** PEMs parsed once as private keys (a key is parsed again where it signs: here only to fail early). */
const checkedPems = new Set<string>();

/** Throws EDKIM when `pem` is not a private key, as a signing worker would. */
function checkKey(pem: string): void {
  if (checkedPems.has(pem)) return;
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw Object.assign(asError(error), { code: 'EDKIM' });
  }
  if (key.type !== 'private') throw Object.assign(new Error('DKIM key is not a private key'), { code: 'EDKIM' });
  checkedPems.add(pem);
}

const pems = new WeakMap<KeyObject, string>();

function pemOf(key: string | KeyObject): string {
  if (typeof key === 'string') return key;
  if (key.type !== 'private') throw Object.assign(new Error('DKIM key is not a private key'), { code: 'EDKIM' });
  let pem = pems.get(key);
  if (!pem) pems.set(key, (pem = key.export({ type: 'pkcs8', format: 'pem' }).toString()));
  return pem;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
