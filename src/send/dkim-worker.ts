/** Worker-thread entry of the signing pool (signing-pool.ts): one reply per batch of jobs, in order. */
import { parentPort } from 'node:worker_threads';
import { signBatch } from './dkim-job.js';
import type { SignBatch } from './signing-pool.js';

parentPort!.on('message', (batch: SignBatch) => parentPort!.postMessage(signBatch(batch)));
