// Smoke tests: one per real peer. Each test uses its own sending IP (127.0.0.N) and recipient so
// tests do not disturb each other (rate limits, greylisting and verdicts are per client IP).
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addDnsRecords,
  dnsServer,
  imapExchange,
  isListed,
  listIp,
  loadPeers,
  readMaildir,
  removeDnsRecords,
  restartDnsmasq,
  sendingHostname,
  sendingIp,
  setVerdicts,
  testResolver,
  unlistIp,
  waitForMail,
} from './peers.js';

const peers = loadPeers();

async function send(n: number, host: string, port: number, to: string, subject: string) {
  const transport = nodemailer.createTransport({
    host,
    port,
    secure: false,
    ignoreTLS: true,
    localAddress: sendingIp(n),
    name: sendingHostname(n),
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 10_000,
  });
  try {
    return await transport.sendMail({
      from: `sender${n}@warmup.test`,
      to,
      subject,
      text: `hello from ${sendingIp(n)}\n`,
    });
  } finally {
    transport.close();
  }
}

async function sendError(n: number, host: string, port: number, to: string, subject: string) {
  try {
    await send(n, host, port, to, subject);
  } catch (err) {
    return err as Error & { responseCode?: number; response?: string };
  }
  throw new Error(`expected ${sendingIp(n)} -> ${host}:${port} to be refused`);
}

describe('dnsmasq (127.0.0.60)', () => {
  const r = testResolver();

  it('answers MX, A, PTR and TXT for the test zones', async () => {
    expect(dnsServer).toBe('127.0.0.60');
    expect(await r.resolveMx('postfix.test')).toEqual([{ exchange: 'mx.postfix.test', priority: 10 }]);
    expect(await r.resolve4('mx.postfix.test')).toEqual(['127.0.0.53']);
    const multi = (await r.resolveMx('multi.test')).sort((a, b) => a.priority - b.priority);
    expect(multi).toEqual([
      { exchange: 'mx1.multi.test', priority: 10 },
      { exchange: 'mx2.multi.test', priority: 20 },
    ]);
    expect(await r.resolve4('mx1.multi.test')).toEqual(['127.0.0.57']);
    await expect(r.resolveMx('nomx.test')).rejects.toMatchObject({ code: 'ENODATA' });
    expect(await r.resolve4('nomx.test')).toEqual(['127.0.0.53']);
    expect(await r.resolveMx('nullmx.test')).toEqual([{ exchange: '', priority: 0 }]);
    expect(await r.reverse('127.0.0.5')).toEqual(['mta5.warmup.test']);
    expect(await r.resolve4('mta5.warmup.test')).toEqual(['127.0.0.5']);
    expect(await r.reverse('127.0.0.40')).toEqual(['mta40.warmup.test']);
    expect(await r.resolveTxt('warmup.test')).toEqual([['v=spf1 ip4:127.0.0.0/26 -all']]);
    await expect(r.resolve4('nothing-here.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('serves records added at runtime after a restart', async () => {
    const name = `smoke-${process.pid}`;
    await addDnsRecords(name, 'txt-record=added.smoke.test,"hello from dns.d"\nmx-host=added.smoke.test,mx.sink.test,5');
    try {
      await restartDnsmasq({ timeoutMs: 15_000 });
      expect(await r.resolveTxt('added.smoke.test')).toEqual([['hello from dns.d']]);
      expect(await r.resolveMx('added.smoke.test')).toEqual([{ exchange: 'mx.sink.test', priority: 5 }]);
    } finally {
      await removeDnsRecords(name);
      await restartDnsmasq({ timeoutMs: 15_000 });
    }
    await expect(r.resolveTxt('added.smoke.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('rbldnsd (127.0.0.61, via dnsmasq)', () => {
  const r = testResolver();

  it('lists the 127.0.0.2 test entry in zen, not 127.0.0.3', async () => {
    expect(await r.resolve4('2.0.0.127.zen.dnsbl.test')).toEqual(['127.0.0.2']);
    expect(await r.resolveTxt('2.0.0.127.zen.dnsbl.test')).toEqual([['Listed: 127.0.0.2']]);
    await expect(r.resolve4('3.0.0.127.zen.dnsbl.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(await isListed('broken.dnsbl.test', '127.0.0.2')).toBe(false);
    expect(await isListed('all.dnsbl.test', '127.0.0.3')).toBe(true);
  });

  it('lists and de-lists an IP at runtime', async () => {
    const ip = sendingIp(30);
    expect(await isListed('zen.dnsbl.test', ip)).toBe(false);
    await listIp('zen.dnsbl.test', ip, { timeoutMs: 10_000 });
    expect(await r.resolve4(`30.0.0.127.zen.dnsbl.test`)).toEqual(['127.0.0.2']);
    await unlistIp('zen.dnsbl.test', ip, { timeoutMs: 10_000 });
    expect(await isListed('zen.dnsbl.test', ip)).toBe(false);
    // an exclusion also de-lists an IP covered by a range
    await unlistIp('all.dnsbl.test', ip, { timeoutMs: 10_000 });
    expect(await isListed('all.dnsbl.test', ip)).toBe(false);
    await listIp('all.dnsbl.test', ip, { timeoutMs: 10_000 });
  });
});

describe('Postfix MX (127.0.0.53)', () => {
  afterAll(async () => {
    await setVerdicts([], { key: 'peers-smoke' });
  });

  it('delivers a message into the Maildir', async () => {
    const subject = `smoke ${randomUUID()}`;
    const info = await send(5, peers.mx.host, peers.mx.port, 'smoke-inbox@postfix.test', subject);
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued/);
    const [msg] = await waitForMail('postfix.test', 'smoke-inbox', {
      timeoutMs: 10_000,
      match: (m) => m.raw.includes(subject),
    });
    const raw = msg!.raw.toString('utf8');
    expect(raw).toMatch(/^Received: from mta5\.warmup\.test \(unknown \[127\.0\.0\.5\]\)/m);
    expect(raw).toContain('by mx.postfix.test (Postfix)');
    expect(raw).toMatch(/^Delivered-To: smoke-inbox@postfix\.test/m);
    expect(raw).toContain('hello from 127.0.0.5');
  });

  it('files mail from the junk client IP (127.0.0.39) into .Junk', async () => {
    expect(peers.postfix.junkClientIp).toBe('127.0.0.39');
    const subject = `junk ${randomUUID()}`;
    await send(39, peers.mx.host, peers.mx.port, 'smoke-junk@postfix.test', subject);
    await waitForMail('postfix.test', 'smoke-junk', { folder: 'Junk', timeoutMs: 10_000, match: (m) => m.raw.includes(subject) });
    expect(await readMaildir('postfix.test', 'smoke-junk')).toEqual([]);
  });

  it('applies a per-IP verdict after reload', async () => {
    await setVerdicts(['127.0.0.9/32 554 5.7.1 blocked by test verdict'], { key: 'peers-smoke', timeoutMs: 15_000 });
    const err = await sendError(9, peers.mx.host, peers.mx.port, 'smoke-verdict@postfix.test', 'blocked');
    expect(err.responseCode).toBe(554);
    expect(err.response).toContain('blocked by test verdict');
    // another IP still passes
    const subject = `allowed ${randomUUID()}`;
    await send(10, peers.mx.host, peers.mx.port, 'smoke-verdict@postfix.test', subject);
    await waitForMail('postfix.test', 'smoke-verdict', { timeoutMs: 10_000, match: (m) => m.raw.includes(subject) });
  });
});

describe('Postfix rate-limited MX (127.0.0.54)', () => {
  it('answers 450 after 5 messages per minute from one IP; another IP passes', async () => {
    const { host, port, domain, messagesPerMinute } = peers.ratelimit;
    expect(messagesPerMinute).toBe(5);
    const local = `rl-${randomUUID().slice(0, 8)}`; // this run's mail only
    for (let i = 0; i < messagesPerMinute; i++) {
      await send(12, host, port, `${local}@${domain}`, `rate ${i}`);
    }
    const err = await sendError(12, host, port, `${local}@${domain}`, 'rate over');
    expect(err.responseCode).toBe(450);
    expect(err.response).toMatch(/too much mail from 127\.0\.0\.12/);
    await send(13, host, port, `${local}@${domain}`, 'other ip');
    expect(await waitForMail(domain, local, { count: 6, timeoutMs: 10_000 })).toHaveLength(6);
  });
});

describe('Postfix greylisting MX (127.0.0.55) + postgrey', () => {
  it('answers 450 first, accepts a retry after the delay', async () => {
    const { host, port, domain, delaySeconds } = peers.grey;
    // postgrey remembers a (client, sender, recipient) triplet for days: a recipient of this run's
    // own, so the test also holds when re-run against the same peers
    const local = `grey-${randomUUID().slice(0, 8)}`;
    const err = await sendError(14, host, port, `${local}@${domain}`, 'grey 1');
    expect(err.responseCode).toBe(450);
    expect(err.response).toContain('Greylisted');
    await new Promise((r) => setTimeout(r, (delaySeconds + 1) * 1000));
    const info = await send(14, host, port, `${local}@${domain}`, 'grey 2');
    expect(info.response).toMatch(/^250 /);
    const [msg] = await waitForMail(domain, local, { timeoutMs: 10_000 });
    expect(msg!.raw.toString()).toContain('X-Greylist: delayed');
  });
});

describe('smtp-sink (127.0.0.56)', () => {
  it('accepts anything', async () => {
    const info = await send(15, peers.sink.host, peers.sink.port, 'anyone@sink.test', 'sink');
    expect(info.response).toMatch(/^250 /);
    expect(info.accepted).toEqual(['anyone@sink.test']);
  });

  it('nothing listens on the dead MX (127.0.0.57)', async () => {
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect({ host: peers.dead.host, port: peers.dead.port, localAddress: sendingIp(16) });
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('Dovecot IMAP (127.0.0.62)', () => {
  it('logs in and sees a message delivered by the Postfix MX, in INBOX and Junk', async () => {
    const subject = `imap ${randomUUID()}`;
    await send(11, peers.mx.host, peers.mx.port, 'seed2@postfix.test', subject);
    await send(39, peers.mx.host, peers.mx.port, 'seed2@postfix.test', `junk ${subject}`);
    await waitForMail('postfix.test', 'seed2', { timeoutMs: 10_000, match: (m) => m.raw.includes(subject) });
    await waitForMail('postfix.test', 'seed2', { folder: 'Junk', timeoutMs: 10_000, match: (m) => m.raw.includes(subject) });

    const { greeting, responses } = await imapExchange(
      'seed2@postfix.test',
      peers.imap.password,
      ['SELECT INBOX', 'SEARCH SUBJECT "imap"', 'EXAMINE Junk', 'SEARCH ALL'],
      { timeoutMs: 10_000 },
    );
    expect(greeting).toMatch(/^\* OK/);
    expect(responses[0]).toMatch(/^\* [1-9]\d* EXISTS/m);
    expect(responses[1]).toMatch(/^\* SEARCH \d+/m);
    expect(responses[2]).toMatch(/^\* [1-9]\d* EXISTS/m);
    expect(responses[3]).toMatch(/^\* SEARCH \d+/m);

    await expect(imapExchange('seed1@postfix.test', 'wrong', [], { timeoutMs: 5000 })).rejects.toThrow(
      /LOGIN failed/,
    );
  });
});
