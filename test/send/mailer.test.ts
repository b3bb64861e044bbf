import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSmtpMailer, type Mailer, type SendRequest, type SmtpMailerOptions } from '../../src/send/mailer.js';
import type { Clock } from '../../src/util/clock.js';
import { startRaw, startSink, type Dialog } from './servers.js';

// This file's server addresses; clients bind 127.0.0.5-9.
const SERVER = '127.0.0.81';
const T0 = Date.parse('2026-12-01T08:00:00Z');
const fixedClock: Clock = { now: () => T0, realDelay: (ms) => ms };
const RAW_MESSAGE = 'From: a@example.com\r\nTo: seed@mx.test\r\nSubject: hi\r\nMessage-ID: <1@example.com>\r\n\r\nhello\r\n';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Every case runs twice: sessions in this thread, and in the session thread (sessionThread: true). */
let sessionThread = false;

function mailer(options: Partial<SmtpMailerOptions> = {}): Mailer {
  const m = createSmtpMailer({ clock: fixedClock, timeouts: { connect: 2000, greeting: 2000, socket: 2000 }, sessionThread, ...options });
  cleanups.push(() => m.close());
  return m;
}

async function raw(dialog: Dialog) {
  const s = await startRaw(SERVER, dialog);
  cleanups.push(() => s.stop());
  return s;
}

async function sink(options: Parameters<typeof startSink>[1] = {}) {
  const s = await startSink(SERVER, options);
  cleanups.push(() => s.stop());
  return s;
}

function request(port: number, patch: Partial<SendRequest> = {}): SendRequest {
  return {
    envelope: { from: 'bounces@example.com', to: ['seed-01@mx.test'] },
    message: { raw: RAW_MESSAGE },
    localAddress: '127.0.0.5',
    ehloName: 'mta5.example.com',
    host: 'mx.test',
    address: SERVER,
    port,
    tls: 'opportunistic',
    ...patch,
  };
}

describe.each([['in this thread', false], ['in the session thread', true]] as const)('sessions %s', (_where, threaded) => {
  beforeAll(() => {
    sessionThread = threaded;
  });

  describe('SMTP mailer against a raw server', () => {
    it('records a 421 at the greeting as a retryable deferral at stage greeting', async () => {
      const s = await raw({ greeting: '421 4.7.0 mx.raw.test Service not available, closing transmission channel' });
      const [r] = await mailer().send(request(s.port));
      expect(r).toMatchObject({
        outcome: 'deferred',
        code: 421,
        enhanced: '4.7.0',
        stage: 'greeting',
        final: false,
        text: '421 4.7.0 mx.raw.test Service not available, closing transmission channel',
        recipient: 'seed-01@mx.test',
        mx: { host: 'mx.test', address: SERVER, port: s.port },
        localAddress: '127.0.0.5',
        startedAt: T0,
        finishedAt: T0,
      });
      expect(s.commands).toEqual([]);
    });

    it('records a connection dropped after DATA as a network failure at the dot', async () => {
      const s = await raw({ dot: 'drop' });
      const [r] = await mailer().send(request(s.port));
      expect(r).toMatchObject({ outcome: 'network', code: null, stage: 'dot', final: false });
      expect(s.commands.map((c) => c.split(/[ :]/)[0])).toEqual(['EHLO', 'MAIL', 'RCPT', 'DATA']);
    });

    it('times out on a server that never greets, within the greeting timeout', async () => {
      const s = await raw({ greeting: 'hang' });
      const started = performance.now();
      const [r] = await mailer({ timeouts: { connect: 3000, greeting: 300, socket: 3000 } }).send(request(s.port));
      expect(r).toMatchObject({ outcome: 'timeout', stage: 'greeting', errorCode: 'ETIMEDOUT', final: false });
      expect(performance.now() - started).toBeLessThan(2000);
      expect(r!.latencyMs).toBeGreaterThanOrEqual(250);
    });

    it('times out at the stage where the server went silent', async () => {
      const s = await raw({ rcpt: 'hang' });
      const [r] = await mailer({ timeouts: { connect: 2000, greeting: 2000, socket: 300 } }).send(request(s.port));
      expect(r).toMatchObject({ outcome: 'timeout', stage: 'rcpt', final: false });
    });

    it('reports a failed STARTTLS handshake as a tls outcome and sends nothing', async () => {
      const s = await raw({ ehlo: '250-mx.raw.test\r\n250-STARTTLS\r\n250 8BITMIME', starttls: 'garbage' });
      const [r] = await mailer().send(request(s.port));
      expect(r).toMatchObject({ outcome: 'tls', stage: 'starttls', final: false, tls: false });
      expect(s.commands.some((c) => c.startsWith('MAIL'))).toBe(false);
    });

    it("in 'require' mode, a server without STARTTLS gets no message", async () => {
      const s = await raw({});
      const [r] = await mailer().send(request(s.port, { tls: 'require' }));
      expect(r).toMatchObject({ outcome: 'tls', stage: 'starttls', final: false });
      expect(s.commands.some((c) => c.startsWith('MAIL'))).toBe(false);
    });

    it("in 'none' mode, STARTTLS is not used even when offered", async () => {
      const s = await raw({ ehlo: '250-mx.raw.test\r\n250 STARTTLS', starttls: 'garbage' });
      const [r] = await mailer().send(request(s.port, { tls: 'none' }));
      expect(r).toMatchObject({ outcome: 'accepted', tls: false });
      expect(s.commands.includes('STARTTLS')).toBe(false);
    });

    it('records a 450 at MAIL FROM (Postfix rate limit) for every recipient', async () => {
      const s = await raw({ mail: '450 4.7.0 Error: too much mail from 127.0.0.5' });
      const records = await mailer().send(request(s.port, { envelope: { from: 'b@example.com', to: ['a@mx.test', 'b@mx.test'] } }));
      expect(records.map((r) => [r.recipient, r.outcome, r.code, r.stage])).toEqual([
        ['a@mx.test', 'deferred', 450, 'mail'],
        ['b@mx.test', 'deferred', 450, 'mail'],
      ]);
      expect(records[0]!.text).toBe('450 4.7.0 Error: too much mail from 127.0.0.5');
    });

    it('records 450 and 550 at RCPT per recipient and delivers to the rest', async () => {
      const s = await raw({
        rcpt: (addr) =>
          addr.startsWith('busy')
            ? '450-4.2.1 The user you are trying to contact is receiving mail at a rate that\r\n450 4.2.1 prevents additional messages from being delivered. - gsmtp'
            : addr.startsWith('gone')
              ? '550 5.1.1 <gone@mx.test>: Recipient address rejected: User unknown in virtual mailbox table'
              : '250 2.1.5 Ok',
      });
      const records = await mailer().send(request(s.port, { envelope: { from: 'b@example.com', to: ['busy@mx.test', 'gone@mx.test', 'ok@mx.test'] } }));
      expect(records.map((r) => [r.recipient, r.outcome, r.code, r.enhanced, r.stage, r.final, r.mailboxSignal])).toEqual([
        ['busy@mx.test', 'deferred', 450, '4.2.1', 'rcpt', false, true],
        ['gone@mx.test', 'bounced', 550, '5.1.1', 'rcpt', true, true],
        ['ok@mx.test', 'accepted', 250, '2.0.0', 'dot', true, false],
      ]);
      expect(records[0]!.text).toBe(
        '450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. - gsmtp',
      );
    });

    it('records a 550 at RCPT for a single recipient as a final bounce', async () => {
      const s = await raw({ rcpt: '550 5.7.1 Service unavailable, Client host [127.0.0.5] blocked using zen.dnsbl.test' });
      const [r] = await mailer().send(request(s.port));
      expect(r).toMatchObject({ outcome: 'bounced', code: 550, enhanced: '5.7.1', stage: 'rcpt', final: true, mailboxSignal: false });
      expect(s.commands.some((c) => c === 'DATA')).toBe(false);
    });

    it('records a reject after the dot', async () => {
      const s = await raw({ dot: '554 5.7.1 Message rejected as spam' });
      const [r] = await mailer().send(request(s.port));
      expect(r).toMatchObject({ outcome: 'bounced', code: 554, stage: 'dot', final: true });
    });

    it('records a refused connection at stage connect', async () => {
      const [r] = await mailer().send(request(1, { address: '127.0.0.82' }));
      expect(r).toMatchObject({ outcome: 'network', stage: 'connect', errorCode: 'ECONNREFUSED', final: false });
    });
  });

  describe('SMTP mailer connection reuse and bounds', () => {
    it('sends several messages over one connection, bound to the source IP', async () => {
      const s = await sink();
      const m = mailer();
      const records = [];
      for (let i = 0; i < 4; i++) records.push(...(await m.send(request(s.port, { localAddress: '127.0.0.6' }))));
      expect(records.map((r) => r.outcome)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
      expect(records.map((r) => r.reused)).toEqual([false, true, true, true]);
      expect(s.connections().total).toBe(1);
      expect(s.received.map((r) => r.remoteAddress)).toEqual(['127.0.0.6', '127.0.0.6', '127.0.0.6', '127.0.0.6']);
      expect(s.received[0]!.ehlo).toBe('mta5.example.com');
    });

    it('opens a new connection after maxMessagesPerConnection', async () => {
      const s = await sink();
      const m = mailer({ pool: { maxMessagesPerConnection: 2 } });
      for (let i = 0; i < 5; i++) await m.send(request(s.port));
      expect(s.connections().total).toBe(3);
    });

    it('never opens more than maxConnections to one (source IP, MX) at once', async () => {
      const s = await sink({ dataDelayMs: 50 });
      const m = mailer({ pool: { maxConnections: 2 } });
      const all = await Promise.all(Array.from({ length: 10 }, () => m.send(request(s.port, { localAddress: '127.0.0.7' }))));
      expect(all.flat().every((r) => r.outcome === 'accepted')).toBe(true);
      expect(s.connections().maxConcurrent).toBe(2);
      expect(s.connections().total).toBe(2);
    });

    it('keeps separate bounds per source IP', async () => {
      const s = await sink({ dataDelayMs: 50 });
      const m = mailer({ pool: { maxConnections: 1 } });
      await Promise.all(['127.0.0.8', '127.0.0.9', '127.0.0.8', '127.0.0.9'].map((ip) => m.send(request(s.port, { localAddress: ip }))));
      expect(s.connections().total).toBe(2);
      expect(new Set(s.received.map((r) => r.remoteAddress))).toEqual(new Set(['127.0.0.8', '127.0.0.9']));
    });

    it('discards a connection after an error and opens a fresh one', async () => {
      let n = 0;
      const s = await raw({ rcpt: () => (n++ === 0 ? '451 4.3.0 Temporary lookup failure' : '250 2.1.5 Ok') });
      const m = mailer();
      const [first] = await m.send(request(s.port));
      const [second] = await m.send(request(s.port));
      expect([first!.outcome, second!.outcome]).toEqual(['deferred', 'accepted']);
      expect(second!.reused).toBe(false);
      expect(s.clients.length).toBe(2);
    });

    it('retries once on a fresh connection when a pooled one was dropped before MAIL FROM was answered', async () => {
      let n = 0;
      const s = await raw({ mail: () => (n++ === 1 ? 'drop' : '250 2.1.0 Ok') });
      const m = mailer();
      const [first] = await m.send(request(s.port));
      const [second] = await m.send(request(s.port));
      expect([first!.outcome, second!.outcome]).toEqual(['accepted', 'accepted']);
      expect(second!.reused).toBe(false);
      expect(s.clients.length).toBe(2);
      // The second message did go out on the pooled connection first.
      expect(s.commands.filter((c) => c.startsWith('MAIL')).length).toBe(3);
    });

    it('a dead destination does not delay sends to another', async () => {
      const hanging = await raw({ greeting: 'hang' });
      const live = await sink();
      const warm = await sink();
      const m = mailer({ pool: { maxConnections: 1 }, timeouts: { connect: 2000, greeting: 2000, socket: 2000 } });
      // The mailer is ready (its session thread started) before the race: a loaded machine's start-up is not what this measures.
      expect((await m.send(request(warm.port)))[0]!.outcome).toBe('accepted');
      const started = performance.now();
      let hangingSettled = 0;
      const dead = Promise.all([
        m.send(request(hanging.port)).finally(() => hangingSettled++),
        m.send(request(hanging.port)).finally(() => hangingSettled++),
        m.send(request(1, { address: '127.0.0.82' })), // refused
      ]);
      const [ok] = await m.send(request(live.port));
      // The reference is the dead MX's own greeting timeout: the live send was done before either send to it gave up
      // (had it waited behind them, it would have finished after the first timeout at the earliest).
      expect(ok!.outcome).toBe('accepted');
      expect(hangingSettled).toBe(0);
      expect(ok!.reused).toBe(false);
      const outcomes = (await dead).flat().map((r) => r.outcome);
      expect(outcomes).toEqual(['timeout', 'timeout', 'network']);
      // The two sends to the hanging MX waited for each other (one connection), not for anyone else.
      expect(hanging.clients.length).toBe(2);
      expect(performance.now() - started).toBeGreaterThanOrEqual(3900);
    });
  });

  describe('SMTP mailer message preparation', () => {
    it('records an unusable DKIM key as a final local failure without connecting', async () => {
      const s = await raw({});
      const [r] = await mailer().send(request(s.port, { dkim: { domainName: 'example.com', keySelector: 's1', privateKey: 'not a key' } }));
      expect(r).toMatchObject({ outcome: 'protocol', final: true });
      expect(s.clients).toEqual([]);
    });
  });
});
