/**
 * One SMTP session over nodemailer's SMTPConnection, as promises, with every
 * failure turned into a Classification at the stage where it happened.
 */
import { isIP, Socket } from 'node:net';
import SMTPConnection, { type SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection';
import type { Logger } from '../util/log.js';
import { classifyAttempt, type Classification, type SmtpStage } from './classify.js';

/**
 * `opportunistic`: STARTTLS when offered, any certificate (as MTAs do: MX
 * certificates rarely match); `require`: no message without TLS (certificate
 * still not verified, like Postfix's `encrypt` level); `none`: never STARTTLS.
 */
export type TlsMode = 'opportunistic' | 'require' | 'none';

/** Milliseconds. */
export interface SessionTimeouts {
  /** TCP connect (and, per nodemailer, the whole setup up to the end of STARTTLS). */
  readonly connect: number;
  /** From connect to the 220 greeting. */
  readonly greeting: number;
  /** Inactivity on an established session. */
  readonly socket: number;
}

/** Where and how to open a session. */
export interface SessionOptions {
  /** MX host name (SNI, records); may be an IP. */
  readonly host: string;
  /** Address to connect to; defaults to `host`. */
  readonly address?: string;
  readonly port: number;
  /** Source IP to bind. */
  readonly localAddress?: string;
  readonly ehloName: string;
  readonly tls: TlsMode;
  readonly timeouts: SessionTimeouts;
  readonly logger?: Logger;
}

/** Result of {@link SmtpSession.open} (and of the session thread's open, with its own sessions). */
export type OpenResult<S = SmtpSession> = { readonly ok: true; readonly session: S } | { readonly ok: false; readonly failure: Classification };

/** What the mailer needs from a session, in this thread (SmtpSession) or in the session thread. */
export interface Session {
  readonly usable: boolean;
  readonly address: string;
  readonly secure: boolean;
  send(envelope: { readonly from: string; readonly to: readonly string[] }, message: Buffer): Promise<Map<string, Classification>>;
  quit(): void;
}

// The command nodemailer last wrote, learnt from its transaction log, maps to
// the stage a reply-less failure (reset, timeout, close) interrupted.
const COMMAND_STAGE: Record<string, SmtpStage> = {
  EHLO: 'ehlo',
  HELO: 'ehlo',
  STARTTLS: 'starttls',
  MAIL: 'mail',
  RCPT: 'rcpt',
  DATA: 'data',
  QUIT: 'quit',
  RSET: 'mail',
};

/** A connected SMTP session. Create with {@link SmtpSession.open}. */
export class SmtpSession implements Session {
  readonly #conn: SMTPConnection;
  readonly #address: string;
  #lastCommand: string | undefined;
  #broken = false;
  #failure: { error: unknown; stage: SmtpStage | undefined } | undefined;

  private constructor(options: SessionOptions) {
    this.#address = options.address ?? options.host;
    const tlsOptions = options.tls === 'none' ? {} : { rejectUnauthorized: false };
    const connOptions: SMTPConnectionOptions = {
      host: options.address ?? options.host,
      port: options.port,
      name: options.ehloName,
      localAddress: options.localAddress,
      ...(isIP(options.host) === 0 ? { servername: options.host } : {}),
      ignoreTLS: options.tls === 'none',
      requireTLS: options.tls === 'require',
      // A server that advertises STARTTLS and then refuses it still gets the
      // message in opportunistic mode, as with any MTA.
      opportunisticTLS: options.tls === 'opportunistic',
      tls: tlsOptions,
      connectionTimeout: options.timeouts.connect,
      greetingTimeout: options.timeouts.greeting,
      socketTimeout: options.timeouts.socket,
      socketCloseTimeout: 1000,
      transactionLog: true,
      logger: this.#nodemailerLogger(options.logger),
    };
    this.#conn = new SMTPConnection(connOptions);
    // Errors arrive here first, before nodemailer closes the socket, so the
    // session state still tells where they happened.
    this.#conn.on('error', (error: unknown) => {
      this.#broken = true;
      this.#failure ??= { error, stage: this.#stageOf(error) };
    });
    this.#conn.on('end', () => {
      this.#broken = true;
    });
  }

  /** Connect, greet, EHLO and STARTTLS as the TLS mode asks. Never rejects. */
  static open(options: SessionOptions): Promise<OpenResult> {
    const session = new SmtpSession(options);
    return new Promise<OpenResult>((resolve) => {
      let settled = false;
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        const seen = session.#failure;
        const stage = seen && seen.error === error ? seen.stage : session.#stageOf(error);
        session.close();
        resolve({ ok: false, failure: classifyAttempt(stage ? { error, stage } : { error }) });
      };
      session.#conn.once('error', fail);
      session.#conn.once('end', () => fail(Object.assign(new Error('Connection closed during setup'), { code: 'ECONNECTION' })));
      session.#conn.connect((err) => {
        if (err) return fail(err);
        if (settled) return;
        settled = true;
        session.#conn.removeListener('error', fail);
        resolve({ ok: true, session });
      });
    });
  }

  /** True while the session can carry another message. */
  get usable(): boolean {
    return !this.#broken && !this.#conn.destroyed;
  }

  /** The address this session is connected to. */
  get address(): string {
    return this.#address;
  }

  /** Whether STARTTLS succeeded. */
  get secure(): boolean {
    return this.#conn.secure;
  }

  /**
   * Send one message; resolves to a classification per recipient. Any error
   * marks the session unusable (the pool discards it). Never rejects.
   */
  send(envelope: { readonly from: string; readonly to: readonly string[] }, message: Buffer): Promise<Map<string, Classification>> {
    return new Promise((resolve) => {
      this.#failure = undefined;
      coalesceWrites(this.#conn);
      this.#conn.send({ from: envelope.from, to: [...envelope.to] }, message, (err, info) => {
        const results = new Map<string, Classification>();
        if (err) {
          this.#broken = true;
          const seen = this.#failure;
          // 'API': nodemailer refused to start (the socket was already gone),
          // so the transaction never began.
          const stage = err.command === 'API' ? 'mail' : seen && seen.error === err ? seen.stage : this.#stageOf(err);
          const all = classifyAttempt(stage ? { error: err, stage } : { error: err });
          for (const rcpt of envelope.to) {
            const own = err.rejectedErrors?.find((r) => r.recipient === rcpt);
            results.set(rcpt, own ? classifyAttempt({ error: own, stage: 'rcpt' }) : all);
          }
          return resolve(results);
        }
        const accepted = classifyAttempt({ reply: info.response, stage: 'dot' });
        for (const rcpt of envelope.to) {
          const own = info.rejectedErrors?.find((r) => r.recipient === rcpt);
          results.set(rcpt, own ? classifyAttempt({ error: own, stage: 'rcpt' }) : accepted);
        }
        resolve(results);
      });
    });
  }

  /** Calls `listener` once when the connection has ended (either side, or an error). */
  onEnd(listener: () => void): void {
    this.#conn.once('end', listener);
  }

  /** Polite end: QUIT, then nodemailer closes. */
  quit(): void {
    this.#broken = true;
    if (!this.#conn.destroyed) this.#conn.quit();
  }

  /** Immediate end. */
  close(): void {
    this.#broken = true;
    this.#conn.close();
  }

  /** Where a failure without a command of its own happened. */
  #stageOf(error: unknown): SmtpStage | undefined {
    const e = error as { command?: string; timeoutType?: string };
    // nodemailer names the command whose reply failed; classify maps those.
    if (e.command && e.command !== 'CONN') return undefined;
    if (e.timeoutType === 'CONNECT_TIMEOUT' || this.#conn.stage === 'init') return 'connect';
    if (e.timeoutType === 'GREETING_TIMEOUT') return 'greeting';
    if (e.timeoutType === 'UPGRADE_TIMEOUT' || this.#conn.upgrading) return 'starttls';
    const last = this.#conn.lastServerResponse;
    if (last === false) return 'greeting';
    // After 354 the message body is on its way: a drop now is a drop at the dot.
    if (/^354/.test(last)) return 'dot';
    return (this.#lastCommand && COMMAND_STAGE[this.#lastCommand]) || 'greeting';
  }

  /** A bunyan-style logger for nodemailer that also tracks the last command sent. */
  #nodemailerLogger(logger: Logger | undefined): NonNullable<SMTPConnectionOptions['logger']> {
    const log =
      (level: 'trace' | 'debug') =>
      (entry: Record<string, unknown> | undefined, message?: string, ...args: unknown[]): void => {
        if (entry?.tnx === 'client' && typeof message === 'string') {
          this.#lastCommand = /^[A-Za-z]+/.exec(message)?.[0]?.toUpperCase();
        }
        // nodemailer logs every 4xx as an error; to warmup it is data, recorded by the caller.
        // Several lines per message: the entry is copied only when the level is on.
        if (logger?.isLevelEnabled(level)) logger[level]({ ...entry, component: 'smtp' }, message ?? '', ...args);
      };
    return { trace: log('trace'), debug: log('trace'), info: log('debug'), warn: log('debug'), error: log('debug'), fatal: log('debug') };
  }
}

/** Sockets whose writes are already coalesced (see coalesceWrites). */
const coalesced = new WeakSet<Socket>();

/**
 * The message and its terminating `.` leave in one write: nodemailer pipes a
 * DataStream (dot-stuffing) into the socket, which writes the message when
 * it arrives and the `.` when the stream flushes a few ticks later, two
 * syscalls and two segments per message (the commands before them it
 * already corks). The socket is corked while a stream is piped into it and
 * uncorked when it is unpiped (the stream ended, after its last write): one
 * writev. The socket is nodemailer's (after STARTTLS the TLS one); when it
 * is not a net.Socket nothing changes.
 */
function coalesceWrites(conn: SMTPConnection): void {
  const socket = (conn as unknown as { _socket?: unknown })._socket;
  if (!(socket instanceof Socket) || coalesced.has(socket)) return;
  coalesced.add(socket);
  socket.on('pipe', () => socket.cork());
  socket.on('unpipe', () => socket.uncork());
}
