import { generateKeyPairSync } from 'node:crypto';
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRoute, type Route } from '../../src/dns/mx.js';
import { createDnsResolver, type Resolver } from '../../src/dns/resolver.js';
import { createSmtpMailer, type Mailer } from '../../src/send/mailer.js';
import { buildMessage } from '../../src/send/message.js';
import { deliverToRoute, isConnectFailure } from '../../src/send/route.js';
import type { Clock } from '../../src/util/clock.js';
import { startDnsmasq, type Dnsmasq } from '../dns/servers.js';
import { startRaw, startSink, type RawServer, type Sink } from './servers.js';

// This file's own loopback addresses.
const DNS_LISTEN = '127.0.0.72';
const MX_A = '127.0.0.83';
const MX_B = '127.0.0.84';
const NOBODY = '127.0.0.85'; // nothing listens here: connections are refused
const T0 = Date.parse('2026-12-01T08:00:00Z');
const clock: Clock = { now: () => T0, realDelay: (ms) => ms };

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const dkim = { domainName: 'example.test', keySelector: 'wu2026', privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };

/** The DKIM TXT record, split into <=255-octet strings as DNS requires. */
function dkimTxt(): string {
  const p = (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
  const value = `v=DKIM1; k=rsa; p=${p}`;
  const parts = value.match(/.{1,255}/g) ?? [];
  return `txt-record=wu2026._domainkey.example.test,${parts.map((s) => `"${s}"`).join(',')}`;
}

let dns: Dnsmasq;
let resolver: Resolver;
let sink: Sink;
let mailer: Mailer;

beforeAll(async () => {
  sink = await startSink(MX_A);
  dns = await startDnsmasq(
    DNS_LISTEN,
    5399,
    [
      dkimTxt(),
      'mx-host=seeds.test,mx1.seeds.test,10',
      'mx-host=seeds.test,mx2.seeds.test,20',
      `host-record=mx1.seeds.test,${NOBODY}`,
      `host-record=mx2.seeds.test,${MX_A}`,
    ],
    'mx2.seeds.test',
  );
  resolver = createDnsResolver({ servers: [dns.server], timeoutMs: 500, tries: 1 });
  mailer = createSmtpMailer({ clock, timeouts: { connect: 2000, greeting: 2000, socket: 2000 } });
});

afterAll(async () => {
  await mailer?.close();
  await sink?.stop();
  await dns?.stop();
});

function message(to: string) {
  return buildMessage(
    {
      from: { name: 'Example', address: 'news@example.test' },
      envelopeFrom: 'bounces@example.test',
      to,
      subject: 'Warm-up {{seq}} for {{provider}}',
      text: 'Hello {{local_part}}, sent from {{ip}}.',
      html: '<p>Hello {{local_part}}</p>',
      unsubscribe: { url: 'https://example.test/u/{{warmup_id}}', mailto: 'mailto:unsubscribe@example.test?subject={{warmup_id}}' },
      provider: 'seeds',
      ip: '127.0.0.5',
      seq: 1,
    },
    { now: T0, newId: () => `wu-${to.split('@')[0]}` },
  );
}

describe('delivery of a built message', () => {
  it('arrives over STARTTLS from the bound source IP, DKIM-signed and verifiable', async () => {
    const msg = message('seed-01@seeds.test');
    const records = await mailer.send({
      envelope: msg.envelope,
      message: { fields: msg.fields },
      localAddress: '127.0.0.5',
      ehloName: 'mta5.warmup.test',
      host: 'mx2.seeds.test',
      address: MX_A,
      port: sink.port,
      tls: 'require',
      dkim,
    });
    expect(records).toEqual([
      expect.objectContaining({ recipient: 'seed-01@seeds.test', outcome: 'accepted', code: 250, stage: 'dot', tls: true, startedAt: T0 }),
    ]);

    const got = sink.received.find((r) => r.to.includes('seed-01@seeds.test'))!;
    expect(got).toMatchObject({ remoteAddress: '127.0.0.5', ehlo: 'mta5.warmup.test', secure: true, from: 'bounces@example.test' });

    const verified = await dkimVerify(got.raw, {
      sender: 'bounces@example.test',
      curTime: new Date(T0 + 60_000),
      resolver: async (name: string, rrtype: string) => {
        if (rrtype !== 'TXT') throw Object.assign(new Error(`unexpected ${rrtype} query`), { code: 'ENOTFOUND' });
        return resolver.resolveTxt(name);
      },
    });
    expect(verified.results).toHaveLength(1);
    expect(verified.results[0]!.status.result).toBe('pass');
    expect(verified.results[0]!.signingDomain).toBe('example.test');
    const tampered = Buffer.from(got.raw.toString('latin1').replace('Hello seed-01', 'Hello seed-99'), 'latin1');
    const rejected = await dkimVerify(tampered, {
      curTime: new Date(T0 + 60_000),
      resolver: async (name: string) => resolver.resolveTxt(name),
    });
    expect(rejected.results[0]!.status.result).not.toBe('pass');
    // RFC 8058: the one-click headers must be covered by the signature.
    const header = got.raw.toString('latin1').match(/^DKIM-Signature:[\s\S]*?(?=\r\n\S)/m)![0].replace(/\r\n\s+/g, '');
    expect(header).toMatch(/h=[^;]*List-Unsubscribe:List-Unsubscribe-Post/i);
  });
});

describe('deliverToRoute', () => {
  let raw421: RawServer;
  beforeAll(async () => {
    raw421 = await startRaw(MX_B, { greeting: '421 4.7.0 mx.raw.test Too many connections, slow down' });
  });
  afterAll(async () => raw421?.stop());

  it('moves to the next MX when the preferred one refuses the connection', async () => {
    const route = await resolveRoute('seeds.test', { resolver, port: sink.port });
    expect(route.hosts.map((h) => h.addresses[0])).toEqual([NOBODY, MX_A]);
    const msg = message('seed-02@seeds.test');
    const records = await deliverToRoute(mailer, route, {
      envelope: msg.envelope,
      message: { fields: msg.fields },
      localAddress: '127.0.0.6',
      ehloName: 'mta6.warmup.test',
      tls: 'opportunistic',
    });
    expect(records.map((r) => [r.mx.host, r.outcome, r.stage])).toEqual([
      ['mx1.seeds.test', 'network', 'connect'],
      ['mx2.seeds.test', 'accepted', 'dot'],
    ]);
    expect(isConnectFailure(records[0]!)).toBe(true);
    expect(sink.received.some((r) => r.to.includes('seed-02@seeds.test') && r.remoteAddress === '127.0.0.6')).toBe(true);
  });

  it('does not move on after an SMTP reply, even a 421 greeting', async () => {
    const route: Route = {
      domain: 'static.test',
      source: 'static',
      hosts: [
        { host: 'mx-b', preference: 0, addresses: [MX_B], port: raw421.port },
        { host: 'mx-a', preference: 1, addresses: [MX_A], port: sink.port },
      ],
    };
    const msg = message('seed-03@seeds.test');
    const records = await deliverToRoute(mailer, route, {
      envelope: msg.envelope,
      message: { fields: msg.fields },
      localAddress: '127.0.0.7',
      ehloName: 'mta7.warmup.test',
      tls: 'opportunistic',
    });
    expect(records.map((r) => [r.mx.host, r.outcome, r.code])).toEqual([['mx-b', 'deferred', 421]]);
    expect(sink.received.some((r) => r.to.includes('seed-03@seeds.test'))).toBe(false);
  });

  it('returns every failed try when no host can be reached', async () => {
    const route: Route = {
      domain: 'dead.test',
      source: 'static',
      hosts: [
        { host: 'd1', preference: 0, addresses: [NOBODY, '127.0.0.86'], port: 1 },
        { host: 'd2', preference: 1, addresses: ['127.0.0.87'], port: 1 },
      ],
    };
    const msg = message('seed-04@seeds.test');
    const records = await deliverToRoute(mailer, route, {
      envelope: msg.envelope,
      message: { fields: msg.fields },
      ehloName: 'mta.warmup.test',
      tls: 'none',
    });
    expect(records.map((r) => [r.mx.address, r.outcome])).toEqual([
      [NOBODY, 'network'],
      ['127.0.0.86', 'network'],
      ['127.0.0.87', 'network'],
    ]);
  });
});
