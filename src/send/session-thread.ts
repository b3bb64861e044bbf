/**
 * SMTP sessions in a worker thread: the main thread keeps the daemon (ticks,
 * SQL, policy) and the mailer's bookkeeping (the connection pool, the drain's
 * "may start" question, the clock); the worker runs nodemailer's sessions,
 * their streams and their sockets on the second core. A `RemoteSession`
 * stands for one session of the worker and offers what SmtpSession offers
 * in-thread, so the mailer uses either the same way.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../util/log.js';
import { classifyAttempt, type Classification } from './classify.js';
import { batcher, type SessionReply, type SessionRequest } from './session-host.js';
import type { MessageFields } from './message.js';
import type { OpenResult, Session, SessionOptions } from './session.js';
import type { JobKey, SigningKey } from './signing-pool.js';

/**
 * A message composed and signed in the worker ahead of its send ({@link SessionThread.prepare}). It keeps
 * what it was made from: a worker that replaced a dead one prepares it again before its send.
 */
export interface Prepared {
  readonly pid: number;
  readonly message: MessageFields;
  readonly keys: readonly SigningKey[];
  readonly now: number;
  /** The worker (its generation) that holds it. */
  gen: number;
}

/** A reply, or the worker died before it answered. */
type Reply = SessionReply | { readonly t: 'lost'; readonly id: number; readonly failure: Classification };

interface Pending {
  readonly resolve: (reply: Reply) => void;
  /** The session the request is about (a dying worker fails it). */
  readonly sid: number;
}

/** One session of the worker, as the main thread's pool holds it. */
export class RemoteSession implements Session {
  #usable = true;
  #secure: boolean;
  constructor(private readonly thread: SessionThread, readonly sid: number, readonly address: string, secure: boolean) {
    this.#secure = secure;
  }
  #waitedMs = 0;
  get usable(): boolean { return this.#usable; }
  /** How long (ms) the last send waited in the worker for its prepared message's bytes (signing): not network time. */
  get waitedMs(): number { return this.#waitedMs; }
  get secure(): boolean { return this.#secure; }
  /** The worker's session ended (the server closed it, an error, the worker died). */
  ended(): void { this.#usable = false; }
  async send(envelope: { readonly from: string; readonly to: readonly string[] }, message: Buffer): Promise<Map<string, Classification>> {
    const sent = await this.sendComposing(envelope, message.toString('latin1'));
    if (sent instanceof Map) return sent;
    throw sent;
  }
  /**
   * `send`, with the message as fields the worker composes (composeMessage,
   * the same bytes as in-thread), as latin1 bytes, or prepared in the worker.
   * Resolves to the error when composing failed (nothing was sent). The worker
   * drops a prepared message after this send, unless `mayRetry` (the caller
   * sends it again when every recipient got a stale connection's failure,
   * see isStaleConnection) and that is what they got.
   */
  async sendComposing(envelope: { readonly from: string; readonly to: readonly string[] }, message: string | MessageFields | Prepared, mayRetry = false): Promise<Map<string, Classification> | Error> {
    const body = typeof message === 'object' && 'pid' in message ? this.thread.held(message) : message;
    this.#waitedMs = 0;
    const reply = await this.thread.request(this.sid, (id) => ({ t: 'send', id, sid: this.sid, envelope: { from: envelope.from, to: [...envelope.to] }, message: body, ...(mayRetry ? { mayRetry } : {}) }));
    if (reply.t === 'uncomposed') return Object.assign(new Error(reply.message), reply.code ? { code: reply.code } : {});
    if (reply.t === 'lost') {
      this.#usable = false;
      return new Map(envelope.to.map((r) => [r, reply.failure]));
    }
    if (reply.t !== 'sent') throw new Error(`session thread: unexpected reply ${reply.t}`);
    this.#usable &&= reply.usable;
    this.#secure = reply.secure;
    this.#waitedMs = reply.waitedMs ?? 0;
    return new Map(reply.results);
  }
  quit(): void {
    this.#usable = false;
    this.thread.post({ t: 'quit', sid: this.sid });
  }
}

/**
 * The worker and its sessions. The worker starts on the first open and keeps
 * the process alive only while a request is under way (idle pooled
 * connections do not, as in-thread). When it dies, every request under way
 * gets a network failure (the message may or may not have gone out: it is
 * retried, as after a dropped connection) and a new worker starts on the next open.
 */
export class SessionThread {
  readonly #logger: Logger | undefined;
  readonly #script: URL | undefined;
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  readonly #sessions = new Map<number, RemoteSession>();
  #nextId = 1;
  #nextSid = 1;
  #nextPid = 1;
  /** The worker's generation: one more for each worker started. */
  #gen = 0;
  /** DKIM keys by PEM, numbered so that the PEM crosses to a worker once; the numbers the current worker has. */
  readonly #keyIds = new Map<string, number>();
  #knownKeys = new Set<number>();
  #closed = false;
  #ready: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(options: { logger?: Logger; script?: URL } = {}) {
    this.#logger = options.logger;
    this.#script = options.script;
  }

  /**
   * Starts the worker now (it would start on the first open) and resolves
   * once it serves requests: a daemon on an accelerated clock starts it before
   * its clock, so that the worker's start-up is not taken from plan time.
   */
  ready(): Promise<void> {
    this.#ensure();
    return this.#ready!.promise;
  }

  /** Opens a session in the worker: connect, greet, EHLO, STARTTLS as asked. Never rejects. */
  async open(options: SessionOptions): Promise<OpenResult<Session>> {
    const { logger: _l, ...rest } = options;
    const sid = this.#nextSid++;
    const reply = await this.request(sid, (id) => ({ t: 'open', id, sid, options: rest }));
    if (reply.t === 'lost') return { ok: false, failure: reply.failure };
    if (reply.t !== 'opened') throw new Error(`session thread: unexpected reply ${reply.t}`);
    if (!reply.ok) return { ok: false, failure: reply.failure };
    const session = new RemoteSession(this, sid, options.address ?? options.host, reply.secure);
    this.#sessions.set(sid, session);
    return { ok: true, session };
  }

  /**
   * Composes and DKIM-signs a message in the worker (on its own signing pool), ahead of its send: the main
   * thread does neither, and the bytes do not cross back. Nothing waits for it: the prepare goes to the worker
   * with the next batch of requests, unanswered; the send that names the handle (a session's `sendComposing`)
   * waits there for the bytes, and a compose or signing failure (a bad key, fields outside what can be composed,
   * SIGNER_CRASHED) comes back as that send's error: nothing sent, the session as it was. A worker that replaced
   * the one holding it prepares it again before its send ({@link held}); a worker that dies while the send waits
   * fails that send as any send under way (a drop at the dot, retried). The worker drops it after its last send;
   * the caller calls `forget` when no send took it.
   */
  prepare(message: MessageFields, keys: readonly SigningKey[], now: number): Prepared {
    const prepared: Prepared = { pid: this.#nextPid++, message, keys, now, gen: 0 };
    this.held(prepared);
    return prepared;
  }

  /** What a send names a prepared message by; a worker that did not prepare it (it replaced the one that did) prepares it first. */
  held(prepared: Prepared): { readonly pid: number } {
    this.#ensure();
    if (prepared.gen !== this.#gen) {
      prepared.gen = this.#gen;
      this.#post({ t: 'prepare', pid: prepared.pid, message: prepared.message, keys: this.#jobKeys(prepared.keys), now: prepared.now });
    }
    return { pid: prepared.pid };
  }

  /** The worker drops a prepared message that no send took (a send drops it, see sendComposing). */
  forget(prepared: Prepared): void {
    if (this.#worker && prepared.gen === this.#gen) this.#post({ t: 'forget', pid: prepared.pid });
  }

  /** Keys as the current worker takes them: by number, with the PEM the first time. */
  #jobKeys(keys: readonly SigningKey[]): JobKey[] {
    return keys.map<JobKey>((k) => {
      let key = this.#keyIds.get(k.pem);
      if (key === undefined) this.#keyIds.set(k.pem, (key = this.#keyIds.size + 1));
      if (this.#knownKeys.has(key)) return { domain: k.domain, selector: k.selector, key };
      this.#knownKeys.add(key);
      return { domain: k.domain, selector: k.selector, key, pem: k.pem };
    });
  }

  /** Sends a request and resolves with its reply (a network failure when the worker dies first). */
  request(sid: number, make: (id: number) => SessionRequest): Promise<Reply> {
    const id = this.#nextId++;
    const worker = this.#ensure();
    const message = make(id);
    return new Promise<Reply>((resolve) => {
      if (this.#pending.size === 0) worker.ref();
      this.#pending.set(id, { resolve, sid });
      this.#post(message);
    });
  }

  /** A message that needs no answer (quit, close). */
  post(message: SessionRequest): void {
    if (this.#worker) this.#post(message);
  }

  /** Requests go to the worker in batches, once per turn of this thread's event loop. */
  readonly #post = batcher<SessionRequest>((batch) => this.#worker?.postMessage(batch));

  /** Ends the worker once its sessions are done: idle ones quit now, those sending after their send. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (!worker) return;
    if (this.#pending.size === 0 && this.#sessions.size === 0) {
      this.#worker = null;
      await worker.terminate();
    }
  }

  #ensure(): Worker {
    if (this.#worker) return this.#worker;
    const levels = { trace: this.#logger?.isLevelEnabled('trace') ?? false, debug: this.#logger?.isLevelEnabled('debug') ?? false };
    const worker = startWorker(this.#script, levels);
    this.#worker = worker;
    this.#gen++;
    this.#knownKeys = new Set();
    let resolveReady!: () => void;
    this.#ready = { promise: new Promise<void>((r) => (resolveReady = r)), resolve: resolveReady };
    worker.unref();
    worker.on('message', (batch: SessionReply[]) => {
      for (const reply of batch) this.#onReply(reply);
    });
    const died = (error: Error | null): void => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      this.#ready?.resolve(); // ready() waiters learn of the death from their next request
      if (!this.#closed || this.#pending.size > 0) this.#logger?.error({ err: error?.message, requests: this.#pending.size }, 'the SMTP session thread died; its sessions are lost');
      for (const s of this.#sessions.values()) s.ended();
      this.#sessions.clear();
      // A send under way may have reached the receiver: recorded as a drop at the dot, and retried.
      const failure = classifyAttempt({ error: Object.assign(new Error(`the SMTP session thread died${error ? `: ${error.message}` : ''}`), { code: 'ECONNECTION' }), stage: 'dot' });
      for (const [id, p] of [...this.#pending]) {
        this.#pending.delete(id);
        p.resolve({ t: 'lost', id, failure });
      }
    };
    worker.on('error', (e) => died(e));
    worker.on('exit', (code) => died(code === 0 ? null : new Error(`exit code ${code}`)));
    return worker;
  }

  #onReply(reply: SessionReply): void {
    if (reply.t === 'ready') {
      this.#ready?.resolve();
      return;
    }
    if (reply.t === 'log') {
      const entry = { component: 'smtp', ...reply.entry };
      this.#logger?.[reply.level](entry, reply.message);
      return;
    }
    if (reply.t === 'ended') {
      this.#sessions.get(reply.sid)?.ended();
      this.#sessions.delete(reply.sid);
      this.#maybeExit();
      return;
    }
    const p = this.#pending.get(reply.id);
    if (!p) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    p.resolve(reply);
    this.#maybeExit();
  }

  /** After close(): the worker ends with its last session. */
  #maybeExit(): void {
    if (this.#closed && this.#pending.size === 0 && this.#sessions.size === 0 && this.#worker) {
      const w = this.#worker;
      this.#worker = null;
      void w.terminate();
    }
  }
}

/** session-worker.js beside the built module; under the TypeScript sources the .ts file through tsx. */
function startWorker(script: URL | undefined, workerData: { trace: boolean; debug: boolean }): Worker {
  const here = import.meta.url;
  const target = script ?? new URL(here.endsWith('.ts') ? './session-worker.ts' : './session-worker.js', here);
  if (!target.pathname.endsWith('.ts')) return new Worker(target, { workerData });
  return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(target.href)}); })`, { eval: true, workerData });
}
