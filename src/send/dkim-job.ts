/**
 * What a signing worker does with one job (see signing-pool.ts), apart from
 * the thread plumbing so that it can be reused and tested. A key arrives as
 * PEM with the first job that names it and is parsed once (parsing costs as
 * much as signing); later jobs name it by its number.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { dkimSignatures } from './dkim-sign.js';
import type { JobKey, SignJob, SignReply } from './signing-pool.js';

const keys = new Map<number, KeyObject | Error>();

function key(k: JobKey): KeyObject {
  let parsed = keys.get(k.key);
  if (k.pem !== undefined) {
    // Kept even when unusable: later jobs naming it fail the same way.
    try {
      parsed = createPrivateKey(k.pem);
      if (parsed.type !== 'private') parsed = Object.assign(new Error('DKIM key is not a private key'), { code: 'EDKIM' });
    } catch (e) {
      parsed = e instanceof Error ? e : new Error(String(e));
    }
    keys.set(k.key, parsed);
  }
  if (parsed === undefined) throw Object.assign(new Error(`DKIM key ${k.key} was never sent to this worker`), { code: 'EDKIM' });
  if (parsed instanceof Error) throw parsed;
  return parsed;
}

/** Signs one job; never throws (a failure is a reply with a code). */
export function signJob(job: SignJob): SignReply {
  try {
    const message = Buffer.from(job.message, 'latin1');
    const signatures = dkimSignatures(message, job.keys.map((k) => ({ domain: k.domain, selector: k.selector, key: key(k) })), job.now);
    return { id: job.id, ok: true, signatures };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return { id: job.id, ok: false, code: (e as { code?: string }).code ?? 'EDKIM', message: e.message };
  }
}
