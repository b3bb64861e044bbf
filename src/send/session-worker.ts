/**
 * Worker-thread entry of the session thread (session-thread.ts): holds the
 * SMTP sessions (nodemailer's SMTPConnection, its streams and sockets) and
 * runs the main thread's open/send/quit requests on them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serveSessions } from './session-host.js';

serveSessions(parentPort!, workerData as { trace: boolean; debug: boolean });
