import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { dkimVerify } from 'mailauth';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpMailer, type Mailer, type SendRequest, type SmtpMailerOptions } from '../../src/send/mailer.js';
import { buildMessage } from '../../src/send/message.js';
import { composeText } from '../../src/send/compose.js';
import { dkimSignatures } from '../../src/send/dkim-sign.js';
import { SessionThread, type RemoteSession } from '../../src/send/session-thread.js';
import type { Clock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { WarmupError } from '../../src/util/errors.js';
import { dkimRecordValue } from '../../src/dns/auth-records.js';
import { startRaw, startSink } from './servers.js';

// This file's server address; clients bind 127.0.0.10-11.
const SERVER = '127.0.0.83';
const T0 = Date.parse('2026-12-01T08:00:00Z');
const clock: Clock = { now: () => T0, realDelay: (ms) => ms };
const dying = new URL('./fixtures/dying-session-worker.ts', import.meta.url);
const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const edPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const dkim = [{ domainName: 'example.com', keySelector: 'r1', privateKey: rsaPem }, { domainName: 'example.com', keySelector: 'e1', privateKey: edPem }];
const signingKeys = [{ domain: 'example.com', selector: 'r1', pem: rsaPem }, { domain: 'example.com', selector: 'e1', pem: edPem }];
const records = new Map([['r1._domainkey.example.com', dkimRecordValue(rsaPem)], ['e1._domainkey.example.com', dkimRecordValue(edPem)]]);

/** mailauth's verdict per signature, with the two keys' records as its DNS. */
async function verified(raw: Buffer): Promise<string[]> {
  const res = await dkimVerify(raw, { curTime: new Date(T0 + 60_000), resolver: async (name: string) => [[records.get(name)!]] });
  return res.results.map((r) => `${r.selector}:${r.status.result}`);
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function mailer(options: Partial<SmtpMailerOptions> = {}): Mailer {
  const m = createSmtpMailer({ clock, timeouts: { connect: 2000, greeting: 2000, socket: 2000 }, sessionThread: true, ...options });
  cleanups.push(() => m.close());
  return m;
}

async function sink() {
  const s = await startSink(SERVER);
  cleanups.push(() => s.stop());
  return s;
}

function fields(subject: string, html: string | null = '<p>Hello</p>', to = 'seed-01@mx.test') {
  return buildMessage({
    from: { address: 'hello@example.com', name: 'Example' }, envelopeFrom: 'bounces@example.com', to,
    subject, text: 'Hello {{recipient}},\n\n.a line with a leading dot\nand a long line ' + 'x'.repeat(200), ...(html === null ? {} : { html }),
    unsubscribe: { url: 'https://example.com/u?r={{recipient}}', mailto: 'mailto:unsub@example.com?subject=u' },
    provider: 'mx', ip: '127.0.0.10', seq: 7,
  }, { now: T0, newId: () => 'wu-thread-1' }).fields;
}

function request(port: number, patch: Partial<SendRequest> = {}): SendRequest {
  return {
    envelope: { from: 'bounces@example.com', to: ['seed-01@mx.test'] }, message: { fields: fields('Hi') }, localAddress: '127.0.0.10',
    ehloName: 'mta10.example.com', host: 'mx.test', address: SERVER, port, tls: 'opportunistic', ...patch,
  };
}

/** The MIME boundary is random per composition: the same placeholder on both sides. */
const sameBoundary = (raw: Buffer) => raw.toString('latin1').replace(/_NmP-[0-9a-f]+-Part/g, '_NmP-X-Part');

describe('SMTP sessions in the session thread', () => {
  it('delivers the bytes the in-thread mailer delivers, composed in the worker (lean and MailComposer shapes)', async () => {
    const s = await sink();
    const inThread = mailer({ sessionThread: false });
    const threaded = mailer();
    // A plain subject takes compose.ts's lean path, a non-ASCII one nodemailer's MailComposer.
    for (const subject of ['Hi there', 'Grüße aus Köln, ünïcödé']) {
      for (const m of [inThread, threaded]) {
        const [r] = await m.send(request(s.port, { message: { fields: fields(subject) } }));
        expect(r!.outcome).toBe('accepted');
      }
    }
    expect(s.received).toHaveLength(4);
    expect(sameBoundary(s.received[1]!.raw)).toBe(sameBoundary(s.received[0]!.raw));
    expect(sameBoundary(s.received[3]!.raw)).toBe(sameBoundary(s.received[2]!.raw));
    expect(s.received[0]!.raw.toString('latin1')).toContain('\r\n.a line with a leading dot\r\n'); // dot-stuffed on the wire, unstuffed by the sink
    // A ready message (raw bytes, including 8-bit ones) crosses the thread unchanged.
    const raw = Buffer.from('From: a@example.com\r\nSubject: caf\xc3\xa9\r\n\r\nbytes \xff\xfe\r\n', 'latin1');
    await threaded.send(request(s.port, { message: { raw } }));
    expect(s.received[4]!.raw.equals(raw)).toBe(true);
  });

  it('asks mayStart in the calling thread once a slot is free: false sends nothing (NOT_SENT)', async () => {
    const s = await sink();
    const m = mailer();
    await expect(m.send(request(s.port, { mayStart: () => false }))).rejects.toSatisfy((e) => e instanceof WarmupError && e.code === 'NOT_SENT');
    expect(s.connections().total).toBe(0);
    const [r] = await m.send(request(s.port, { mayStart: () => true }));
    expect(r).toMatchObject({ outcome: 'accepted', startedAt: T0, finishedAt: T0, localAddress: '127.0.0.10', reused: false });
  });

  it('forwards nodemailer protocol lines to the logger when its level is trace', async () => {
    const s = await sink();
    const lines: Array<{ component?: string; msg?: string }> = [];
    const destination = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString())); cb(); } });
    const m = mailer({ logger: createLogger({ level: 'trace', destination }) });
    await m.send(request(s.port));
    const smtp = lines.filter((l) => l.component === 'smtp').map((l) => l.msg ?? '');
    expect(smtp.some((l) => l.startsWith('MAIL FROM:<bounces@example.com>'))).toBe(true);
  });

  it('a worker that dies fails the sends under way as drops at the dot (retried), and the next open starts a new worker', async () => {
    const s = await sink();
    const thread = new SessionThread({ script: dying });
    cleanups.push(() => thread.close());
    const timeouts = { connect: 2000, greeting: 2000, socket: 2000 };
    const opened = await thread.open({ host: 'mx.test', address: SERVER, port: s.port, localAddress: '127.0.0.11', ehloName: 'mta11.example.com', tls: 'none', timeouts });
    if (!opened.ok) throw new Error(opened.failure.text);
    const results = await opened.session.send({ from: 'b@example.com', to: ['die@mx.test'] }, Buffer.from('Subject: x\r\n\r\nx\r\n'));
    expect(results.get('die@mx.test')).toMatchObject({ outcome: 'network', stage: 'dot', final: false });
    expect(opened.session.usable).toBe(false);
    const again = await thread.open({ host: 'mx.test', address: SERVER, port: s.port, localAddress: '127.0.0.11', ehloName: 'mta11.example.com', tls: 'none', timeouts });
    if (!again.ok) throw new Error(again.failure.text);
    const ok = await again.session.send({ from: 'b@example.com', to: ['seed@mx.test'] }, Buffer.from('Subject: y\r\n\r\ny\r\n'));
    expect(ok.get('seed@mx.test')).toMatchObject({ outcome: 'accepted' });
    again.session.quit();
  });

  it('composes and signs in the worker (its own signing pool): the bytes the in-thread mailer sends, signatures that verify', async () => {
    const s = await sink();
    const inThread = mailer({ sessionThread: false });
    const threaded = mailer();
    // Text only: no MIME boundary (random per composition), so the signed bytes must be equal, signatures included.
    for (const m of [inThread, threaded]) {
      const records = await m.send(request(s.port, { message: { fields: fields('Signed', null) }, dkim }));
      expect(records[0]!.outcome).toBe('accepted');
    }
    const [a, b] = [s.received[0]!.raw, s.received[1]!.raw];
    expect(b.toString('latin1')).toBe(a.toString('latin1'));
    expect(await verified(b)).toEqual(['r1:pass', 'e1:pass']);
    // With an HTML part (MailComposer's multipart shape), signed in the worker: verifies.
    await threaded.send(request(s.port, { message: { fields: fields('Signed with HTML') }, dkim }));
    expect(await verified(s.received[2]!.raw)).toEqual(['r1:pass', 'e1:pass']);
  });

  it('a worker that dies while a send waits for its prepared message fails that send as a drop at the dot (retried); a prepared message survives a death before its send and is dropped after it', async () => {
    const s = await sink();
    const thread = new SessionThread({ script: dying });
    cleanups.push(() => thread.close());
    const timeouts = { connect: 2000, greeting: 2000, socket: 2000 };
    const open = async () => {
      const o = await thread.open({ host: 'mx.test', address: SERVER, port: s.port, localAddress: '127.0.0.11', ehloName: 'mta11.example.com', tls: 'none', timeouts });
      if (!o.ok) throw new Error(o.failure.text);
      return o.session as RemoteSession;
    };
    // The prepare and the send naming it go in one batch; the worker dies while preparing: as any send under way.
    const first = await open();
    const lost = await first.sendComposing({ from: 'bounces@example.com', to: ['die@mx.test'] }, thread.prepare(fields('x', null, 'die@mx.test'), signingKeys, T0));
    expect(lost instanceof Map && lost.get('die@mx.test')).toMatchObject({ outcome: 'network', stage: 'dot', final: false });
    expect(first.usable).toBe(false);
    // Prepared on one worker; that worker dies (a send under way kills it); the next worker prepares it again for its send.
    const second = await open();
    const prepared = thread.prepare(fields('Kept', null), signingKeys, T0);
    const killed = await second.send({ from: 'b@example.com', to: ['die@mx.test'] }, Buffer.from('Subject: x\r\n\r\nx\r\n'));
    expect(killed.get('die@mx.test')).toMatchObject({ outcome: 'network', stage: 'dot' });
    const third = await open();
    const sent = await third.sendComposing({ from: 'bounces@example.com', to: ['seed-01@mx.test'] }, prepared);
    expect(sent instanceof Map && sent.get('seed-01@mx.test')).toMatchObject({ outcome: 'accepted' });
    expect(await verified(s.received.at(-1)!.raw)).toEqual(['r1:pass', 'e1:pass']);
    // Dropped after its last send: naming it again sends nothing.
    const again = await third.sendComposing({ from: 'bounces@example.com', to: ['seed-01@mx.test'] }, prepared);
    expect(again).toBeInstanceOf(Error);
    expect((again as Error & { code?: string }).code).toBe('EPREPARED');
    expect(third.usable).toBe(true);
    third.quit();
    expect(s.received).toHaveLength(1);
  });

  it('a signed message whose pooled connection was dropped before MAIL FROM was answered goes out once on a fresh one (the worker keeps it for that retry)', async () => {
    let n = 0;
    const s = await startRaw(SERVER, { mail: () => (n++ === 1 ? 'drop' : '250 2.1.0 Ok') });
    cleanups.push(() => s.stop());
    const m = mailer();
    const signed = () => m.send(request(s.port, { message: { fields: fields('Signed', null) }, dkim, tls: 'none' }));
    const [first] = await signed();
    const [second] = await signed();
    expect([first!.outcome, second!.outcome]).toEqual(['accepted', 'accepted']);
    expect(second!.reused).toBe(false);
    expect(s.clients.length).toBe(2);
    expect(s.commands.filter((c) => c.startsWith('MAIL')).length).toBe(3);
  });

  it('records a latency that leaves out the time a send waited in the worker for its signatures', async () => {
    const s = await sink();
    const m = mailer({ pool: { maxConnections: 1 } });
    const [warm] = await m.send(request(s.port));
    expect(warm!.outcome).toBe('accepted');
    // 24 RSA signatures: tens of milliseconds of signing, waited for on the open pooled connection.
    const many = Array.from({ length: 24 }, (_, i) => ({ domainName: 'example.com', keySelector: `r${i}`, privateKey: rsaPem }));
    const key = { domain: 'example.com', selector: 'r0', key: createPrivateKey(rsaPem) };
    const t = performance.now();
    dkimSignatures(composeText(fields('Slow', null)) as string, many.map(() => key), T0);
    const signingMs = performance.now() - t;
    const started = performance.now();
    const [slow] = await m.send(request(s.port, { message: { fields: fields('Slow', null) }, dkim: many }));
    const elapsedMs = performance.now() - started;
    expect(slow).toMatchObject({ outcome: 'accepted', reused: true });
    expect(elapsedMs - slow!.latencyMs).toBeGreaterThanOrEqual(signingMs / 2);
  });

  it('a signing failure, with the prepare unanswered, gives the in-thread record (nothing sent) and leaves the pooled connection usable', async () => {
    const s = await sink();
    // A private key that parses (as the mailer checks before taking a connection) but cannot sign: the signing worker fails.
    const x25519 = generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const bad = { domainName: 'example.com', keySelector: 'x1', privateKey: x25519 };
    const inThread = mailer({ sessionThread: false });
    const threaded = mailer({ pool: { maxConnections: 1 } });
    const signed = (m: Mailer, d: SendRequest['dkim']) => m.send(request(s.port, { message: { fields: fields('Signed', null) }, dkim: d }));
    const [expected] = await signed(inThread, bad);
    expect(expected).toMatchObject({ outcome: 'protocol', final: true, stage: 'connect', reused: false, tls: false });
    const [first] = await signed(threaded, dkim);
    expect(first).toMatchObject({ outcome: 'accepted', reused: false });
    const [failed] = await signed(threaded, bad);
    expect(failed).toEqual(expected);
    // The connection the failed message held goes on: the next message reuses it.
    const [next] = await signed(threaded, dkim);
    expect(next).toMatchObject({ outcome: 'accepted', reused: true });
    expect(s.received).toHaveLength(2);
    expect(s.connections().total).toBe(1);
    // A key that is no private key fails before any connection opens, as in-thread.
    const fresh = mailer();
    const [unusable] = await fresh.send(request(s.port, { localAddress: '127.0.0.11', message: { fields: fields('x', null) }, dkim: { domainName: 'example.com', keySelector: 's1', privateKey: 'not a key' } }));
    expect(unusable).toMatchObject({ outcome: 'protocol', final: true, stage: 'connect' });
    expect(s.connections().total).toBe(1);
  });
});
