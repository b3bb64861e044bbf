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

/** A key as a job names it: by the pool's number for it, with the PEM only the first time a worker gets it. */
export interface JobKey {
  readonly domain: string;
  readonly selector: string;
  readonly key: number;
  readonly pem?: string;
}

/** Message to a worker. */
export interface SignJob {
  readonly id: number;
  /** The message's bytes as a latin1 string (one byte per character): copied between threads as one block. */
  readonly message: string;
  readonly keys: readonly JobKey[];
  /** Epoch ms for the signatures' t= tag. */
  readonly now: number;
}

/** A worker's answer. */
export type SignReply =
  | { readonly id: number; readonly ok: true; readonly signatures: string }
  | { readonly id: number; readonly ok: false; readonly code: string; readonly message: string };

/** What the mailer needs from a signer. */
export interface Signer {
  /** The `DKIM-Signature:` lines for `message` (CRLF-terminated, one per key). Rejects with a `code`. */
  signatures(message: Buffer, keys: readonly SigningKey[], now: number): Promise<string>;
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
  readonly id: number;
  readonly message: Buffer;
  readonly keys: readonly SigningKey[];
  readonly now: number;
  readonly resolve: (signatures: string) => void;
  readonly reject: (error: Error) => void;
  /** Was being signed when its worker died: a second death fails the job instead of retrying it. */
  retried: boolean;
}

interface Slot {
  readonly worker: Worker;
  readonly jobs: Map<number, Job>;
  /** Keys (the pool's numbers) this worker has been sent the PEM of: parsed there once. */
  readonly known: Set<number>;
  dead: boolean;
}

/**
 * A pool of signing workers. Workers start on first use; a job goes to the
 * worker with the fewest jobs (several may be queued on one, which hides the
 * message round trip). A worker that dies is replaced; its jobs are retried
 * once on another worker and then fail with `SIGNER_CRASHED`, so a poisoned
 * message cannot take the pool down with it.
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
  /** A number per key (PEM), so that a job names a key a worker already has instead of sending it again. */
  const keyIds = new Map<string, number>();
  let nextId = 1;
  let closed = false;

  function spawn(): Slot {
    const worker = startWorker(options.script);
    const slot: Slot = { worker, jobs: new Map(), known: new Set(), dead: false };
    worker.unref(); // referenced only while it has jobs (see dispatch)
    worker.on('message', (reply: SignReply) => {
      const job = slot.jobs.get(reply.id);
      if (!job) return;
      slot.jobs.delete(reply.id);
      if (slot.jobs.size === 0) worker.unref();
      if (reply.ok) job.resolve(reply.signatures);
      else job.reject(new WarmupError('DKIM_SIGN', reply.message, { details: { cause: reply.code } }));
    });
    const died = (error: Error | null) => {
      if (slot.dead) return;
      slot.dead = true;
      slots.splice(slots.indexOf(slot), 1);
      const jobs = [...slot.jobs.values()];
      slot.jobs.clear();
      if (!closed) logger?.warn({ err: error?.message, jobs: jobs.length }, 'signing worker died; replacing it');
      // A worker signs its jobs in order: the first unanswered one was being signed when it died,
      // the others were only waiting behind it and go elsewhere as if nothing happened.
      jobs.forEach((job, i) => {
        if (closed) job.reject(new WarmupError('SIGNER_CLOSED', 'the signing pool was closed'));
        else if (i === 0 && job.retried) job.reject(new WarmupError('SIGNER_CRASHED', `the signing worker died twice on this message${error ? `: ${error.message}` : ''}`));
        else {
          if (i === 0) job.retried = true;
          dispatch(job);
        }
      });
    };
    worker.on('error', (error) => died(error));
    worker.on('exit', (code) => died(code === 0 ? null : new Error(`exit code ${code}`)));
    slots.push(slot);
    return slot;
  }

  function dispatch(job: Job): void {
    let slot = slots.reduce<Slot | null>((best, s) => (best === null || s.jobs.size < best.jobs.size ? s : best), null);
    if (slot === null || (slot.jobs.size > 0 && slots.length < size)) slot = spawn();
    if (slot.jobs.size === 0) slot.worker.ref();
    slot.jobs.set(job.id, job);
    const keys = job.keys.map<JobKey>((k) => {
      let key = keyIds.get(k.pem);
      if (key === undefined) keyIds.set(k.pem, (key = keyIds.size + 1));
      if (slot.known.has(key)) return { domain: k.domain, selector: k.selector, key };
      slot.known.add(key);
      return { domain: k.domain, selector: k.selector, key, pem: k.pem };
    });
    const message: SignJob = { id: job.id, message: job.message.toString('latin1'), keys, now: job.now };
    slot.worker.postMessage(message);
  }

  return Object.freeze({
    signatures(message: Buffer, keys: readonly SigningKey[], now: number): Promise<string> {
      if (closed) return Promise.reject(new WarmupError('SIGNER_CLOSED', 'the signing pool was closed'));
      if (keys.length === 0) return Promise.resolve('');
      return new Promise<string>((resolve, reject) => dispatch({ id: nextId++, message, keys, now, resolve, reject, retried: false }));
    },
    async close(): Promise<void> {
      closed = true;
      await Promise.all([...slots].map((s) => s.worker.terminate()));
    },
  });
}

/**
 * `raw` with its DKIM-Signature lines in front (signed on `signer`); rejects
 * with a `code` (EDKIM when the signer gave no signature).
 */
export async function signMessage(signer: Signer, raw: Buffer, keys: readonly SigningKey[], now: number): Promise<Buffer> {
  const signatures = await signer.signatures(raw, keys, now);
  if (!signatures.startsWith('DKIM-Signature:')) throw Object.assign(new Error('DKIM signing produced no signature'), { code: 'EDKIM' });
  return Buffer.concat([Buffer.from(signatures, 'latin1'), raw]);
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
