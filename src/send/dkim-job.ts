/**
 * What a signing worker does with a batch of jobs (see signing-pool.ts), apart
 * from the thread plumbing so that it can be reused and tested. A key arrives
 * as PEM in the first batch that names it and is parsed once (parsing costs as
 * much as signing); jobs name it by its number.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { dkimSignatures, type DkimKey } from './dkim-sign.js';
import type { KeyDef, SignBatch, SignBatchReply, SignJob, SignResult } from './signing-pool.js';

/** The keys by the pool's number: usable, or why not (kept: later jobs naming it fail the same way). */
const keys = new Map<number, DkimKey | Error>();
/** Parsed keys by PEM: the same key under another d= or s= is not parsed again. */
const parsed = new Map<string, KeyObject | Error>();

function define(def: KeyDef): void {
  let key = parsed.get(def.pem);
  if (key === undefined) {
    try {
      key = createPrivateKey(def.pem);
      if (key.type !== 'private') key = Object.assign(new Error('DKIM key is not a private key'), { code: 'EDKIM' });
    } catch (e) {
      key = e instanceof Error ? e : new Error(String(e));
    }
    parsed.set(def.pem, key);
  }
  keys.set(def.key, key instanceof Error ? key : { domain: def.domain, selector: def.selector, key });
}

function key(n: number): DkimKey {
  const k = keys.get(n);
  if (k === undefined) throw Object.assign(new Error(`DKIM key ${n} was never sent to this worker`), { code: 'EDKIM' });
  if (k instanceof Error) throw k;
  return k;
}

/** Signs a batch: one result per job, in order; a job's failure (a bad key) is its own. Never throws. */
export function signBatch(batch: SignBatch): SignBatchReply {
  for (const def of batch.defs) define(def);
  return { id: batch.id, results: batch.jobs.map(signJob) };
}

/** Signs one job (its keys defined earlier); never throws (a failure is a result with a code). */
export function signJob(job: SignJob): SignResult {
  try {
    return dkimSignatures(job.message, job.keys.map(key), job.now);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return { code: (e as { code?: string }).code ?? 'EDKIM', message: e.message };
  }
}
