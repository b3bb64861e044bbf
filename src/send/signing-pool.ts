/**
 * DKIM signing off the event loop: a pool of worker threads, one per core by
 * default, each signing with dkim-sign.ts. An RSA-2048 signature costs about
 * half a millisecond of CPU; on the event loop that time was taken from every
 * socket the daemon serves.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../util/log.js';
import { WarmupError } from '../util/errors.js';

/** One key as sent to a worker: PEM, parsed there once. */
export interface SigningKey {
  readonly domain: string;
  readonly selector: string;
  readonly pem: string;
}

/** A key as the main thread names it to the session thread (session-thread.ts): by number, with the PEM only the first time that thread gets it. */
export interface JobKey {
  readonly domain: string;
  readonly selector: string;
  readonly key: number;
  readonly pem?: string;
}

/** A key as a worker first gets it: its number for the pool, d=, s= and the PEM (parsed there once). */
export interface KeyDef {
  readonly key: number;
  readonly domain: string;
  readonly selector: string;
  readonly pem: string;
}

/** One message to sign. */
export interface SignJob {
  /** The message's bytes as a latin1 string (one byte per character): copied between threads as one block. */
  readonly message: string;
  /** The pool's numbers of its keys (see {@link KeyDef}). */
  readonly keys: readonly number[];
  /** Epoch ms for the signatures' t= tag. */
  readonly now: number;
}

/** Message to a worker: the jobs given to it in one turn of the pool's thread, and the keys it gets for the first time. */
export interface SignBatch {
  readonly id: number;
  readonly defs: readonly KeyDef[];
  readonly jobs: readonly SignJob[];
}

/** A job's answer: its `DKIM-Signature:` lines, or why it failed. */
export type SignResult = string | { readonly code: string; readonly message: string };

/** A worker's answer to a batch: one result per job, in the batch's order. */
export interface SignBatchReply {
  readonly id: number;
  readonly results: readonly SignResult[];
}

/** What the mailer needs from a signer. */
export interface Signer {
  /**
   * The `DKIM-Signature:` lines for `message` (bytes, or a latin1 string of them; CRLF-terminated, one per key).
   * Rejects with a `code`.
   */
  signatures(message: Buffer | string, keys: readonly SigningKey[], now: number): Promise<string>;
  /** Stop the workers; jobs still queued reject with `SIGNER_CLOSED`. */
  close(): Promise<void>;
}

/** Options for {@link createSigningPool}. */
export interface SigningPoolOptions {
  /** Number of worker threads (default: the cores, `os.availableParallelism()`). */
  readonly size?: number;
  /** Worker script; tests pass one that crashes. Default: dkim-worker next to this module. */
  readonly script?: URL;
  readonly logger?: Logger;
}

interface Job {
  readonly message: string;
  readonly keys: readonly SigningKey[];
  readonly now: number;
  readonly resolve: (signatures: string) => void;
  readonly reject: (error: Error) => void;
  /** Was in the batch being signed when its worker died: from then on it goes alone, and a second death fails it. */
  retried: boolean;
}

interface Slot {
  readonly worker: Worker;
  /** Batches sent and not answered, in the order sent (a worker answers them in that order). */
  readonly batches: Map<number, Job[]>;
  /** Jobs given to this worker in the current turn, sent together at its end. */
  outbox: Job[];
  /** Jobs given to this worker and not answered (sent or in the outbox). */
  load: number;
  /** Keys (the pool's numbers) this worker has been sent: parsed there once. */
  readonly known: Set<number>;
  dead: boolean;
}

/**
 * A pool of signing workers. Workers start on first use; a job goes to the
 * worker with the fewest jobs (several may be queued on one, which hides the
 * message round trip). The jobs given to a worker in one turn of the event
 * loop go to it as one message (sent at the end of the turn's synchronous
 * work: a lone job waits for nothing), and it answers them with one message:
 * a message between threads, and the wake-up of the thread it goes to, cost
 * about as much as canonicalising and hashing a message. A worker that dies
 * is replaced; the jobs of the batch it was signing are retried once, each
 * alone, on another worker and then fail with `SIGNER_CRASHED` (the jobs
 * queued behind that batch are simply sent again), so a poisoned message
 * cannot take the pool down with it, nor the messages batched with it.
 *
 * @example
 * const pool = createSigningPool();
 * const lines = await pool.signatures(raw, [{ domain: 'example.com', selector: 's1', pem }], Date.now());
 * await pool.close();
 */
export function createSigningPool(options: SigningPoolOptions = {}): Signer {
  const size = Math.max(1, options.size ?? availableParallelism());
  const logger = options.logger?.child({ component: 'signing-pool' });
  const slots: Slot[] = [];
  /** A number per key (PEM, d=, s=), so that a job names a key its worker already has instead of sending it again. */
  const keyIds = new Map<string, Map<string, number>>();
  let keyCount = 0;
  let nextBatch = 1;
  let flushing = false;
  let closed = false;

  function spawn(): Slot {
    const worker = startWorker(options.script);
    const slot: Slot = { worker, batches: new Map(), outbox: [], load: 0, known: new Set(), dead: false };
    worker.unref(); // referenced only while it has jobs (see dispatch)
    worker.on('message', (reply: SignBatchReply) => {
      const jobs = slot.batches.get(reply.id);
      if (!jobs) return;
      slot.batches.delete(reply.id);
      slot.load -= jobs.length;
      if (slot.load === 0) worker.unref();
      jobs.forEach((job, i) => {
        const result = reply.results[i];
        if (typeof result === 'string') job.resolve(result);
        else job.reject(new WarmupError('DKIM_SIGN', result?.message ?? 'the signing worker gave no answer', { details: { cause: result?.code ?? 'EDKIM' } }));
      });
    });
    const died = (error: Error | null) => {
      if (slot.dead) return;
      slot.dead = true;
      slots.splice(slots.indexOf(slot), 1);
      const batches = [...slot.batches.values()];
      const queued = slot.outbox;
      slot.batches.clear();
      slot.outbox = [];
      if (!closed) logger?.warn({ err: error?.message, jobs: slot.load }, 'signing worker died; replacing it');
      // A worker signs its batches in order: one of the first unanswered batch's jobs was being signed when it
      // died (which one is not known), the later batches were only waiting behind it and go elsewhere as if
      // nothing happened.
      batches.forEach((jobs, b) => jobs.forEach((job) => {
        if (closed) job.reject(new WarmupError('SIGNER_CLOSED', 'the signing pool was closed'));
        else if (b === 0 && job.retried) job.reject(new WarmupError('SIGNER_CRASHED', `the signing worker died twice on this message${error ? `: ${error.message}` : ''}`));
        else {
          if (b === 0) job.retried = true;
          dispatch(job);
        }
      }));
      for (const job of queued) {
        if (closed) job.reject(new WarmupError('SIGNER_CLOSED', 'the signing pool was closed'));
        else dispatch(job);
      }
    };
    worker.on('error', (error) => died(error));
    worker.on('exit', (code) => died(code === 0 ? null : new Error(`exit code ${code}`)));
    slots.push(slot);
    return slot;
  }

  function dispatch(job: Job): void {
    let slot = slots.reduce<Slot | null>((best, s) => (best === null || s.load < best.load ? s : best), null);
    if (slot === null || (slot.load > 0 && slots.length < size)) slot = spawn();
    if (slot.load === 0) slot.worker.ref();
    slot.load++;
    // A job retried after a death goes alone: a second death is then its own.
    if (job.retried) return send(slot, [job]);
    slot.outbox.push(job);
    if (!flushing) {
      flushing = true;
      queueMicrotask(flush);
    }
  }

  function flush(): void {
    flushing = false;
    for (const slot of slots) {
      if (slot.outbox.length === 0) continue;
      const jobs = slot.outbox;
      slot.outbox = [];
      send(slot, jobs);
    }
  }

  function send(slot: Slot, jobs: Job[]): void {
    const defs: KeyDef[] = [];
    const batch: SignBatch = { id: nextBatch++, defs, jobs: jobs.map<SignJob>((job) => ({ message: job.message, keys: job.keys.map((k) => keyNumber(slot, k, defs)), now: job.now })) };
    slot.batches.set(batch.id, jobs);
    slot.worker.postMessage(batch);
  }

  /** The pool's number for a key; its definition goes into `defs` when the slot's worker does not have it yet. */
  function keyNumber(slot: Slot, k: SigningKey, defs: KeyDef[]): number {
    let byName = keyIds.get(k.pem);
    if (byName === undefined) keyIds.set(k.pem, (byName = new Map()));
    const name = `${k.domain}\n${k.selector}`;
    let key = byName.get(name);
    if (key === undefined) byName.set(name, (key = ++keyCount));
    if (!slot.known.has(key)) {
      slot.known.add(key);
      defs.push({ key, domain: k.domain, selector: k.selector, pem: k.pem });
    }
    return key;
  }

  return Object.freeze({
    signatures(message: Buffer | string, keys: readonly SigningKey[], now: number): Promise<string> {
      if (closed) return Promise.reject(new WarmupError('SIGNER_CLOSED', 'the signing pool was closed'));
      if (keys.length === 0) return Promise.resolve('');
      const text = typeof message === 'string' ? message : message.toString('latin1');
      return new Promise<string>((resolve, reject) => dispatch({ message: text, keys, now, resolve, reject, retried: false }));
    },
    async close(): Promise<void> {
      closed = true;
      await Promise.all([...slots].map((s) => s.worker.terminate()));
    },
  });
}

/**
 * `raw` with its DKIM-Signature lines in front (signed on `signer`), as bytes; `raw` may be a latin1 string of
 * the bytes (what compose.ts builds: no copy to a Buffer and back for the signer). Rejects with a `code` (EDKIM
 * when the signer gave no signature).
 */
export async function signMessage(signer: Signer, raw: Buffer | string, keys: readonly SigningKey[], now: number): Promise<Buffer> {
  const signatures = await signer.signatures(raw, keys, now);
  if (!signatures.startsWith('DKIM-Signature:')) throw Object.assign(new Error('DKIM signing produced no signature'), { code: 'EDKIM' });
  if (typeof raw !== 'string') return Buffer.concat([Buffer.from(signatures, 'latin1'), raw]);
  const out = Buffer.allocUnsafe(signatures.length + raw.length);
  out.write(signatures, 0, 'latin1');
  out.write(raw, signatures.length, 'latin1');
  return out;
}

/**
 * The worker script: dkim-worker.js beside the built module (dist/ and the
 * bundle); under the TypeScript sources (tests, benches) the .ts file through
 * tsx's loader.
 */
function startWorker(script: URL | undefined): Worker {
  const here = import.meta.url;
  const target = script ?? new URL(here.endsWith('.ts') ? './dkim-worker.ts' : './dkim-worker.js', here);
  if (!target.pathname.endsWith('.ts')) return new Worker(target);
  return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(target.href)}); })`, { eval: true });
}
