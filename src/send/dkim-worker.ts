/** Worker-thread entry of the signing pool (signing-pool.ts): one reply per job, in order. */
import { parentPort } from 'node:worker_threads';
import { signJob } from './dkim-job.js';
import type { SignJob } from './signing-pool.js';

parentPort!.on('message', (job: SignJob) => parentPort!.postMessage(signJob(job)));
