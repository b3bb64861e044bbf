/**
 * What a signing worker does with one job (see signing-pool.ts), apart from
 * the thread plumbing so that it can be reused and tested. Keys arrive as PEM
 * and are parsed once per worker: parsing costs as much as signing.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { dkimSignatures } from './dkim-sign.js';
import type { SignJob, SignReply } from './signing-pool.js';

const keys = new Map<string, KeyObject>();

function key(pem: string): KeyObject {
  let k = keys.get(pem);
  if (!k) {
    k = createPrivateKey(pem);
    if (k.type !== 'private') throw Object.assign(new Error('DKIM key is not a private key'), { code: 'EDKIM' });
    if (keys.size < 16) keys.set(pem, k);
  }
  return k;
}

/** Signs one job; never throws (a failure is a reply with a code). */
export function signJob(job: SignJob): SignReply {
  try {
    const message = Buffer.from(job.message.buffer, job.message.byteOffset, job.message.byteLength);
    const signatures = dkimSignatures(message, job.keys.map((k) => ({ domain: k.domain, selector: k.selector, key: key(k.pem) })), job.now);
    return { id: job.id, ok: true, signatures };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return { id: job.id, ok: false, code: (e as { code?: string }).code ?? 'EDKIM', message: e.message };
  }
}
