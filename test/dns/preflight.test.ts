import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSpf } from '../../src/dns/preflight-auth.js';
import { runPreflight, type PreflightItem } from '../../src/dns/preflight.js';
import { createDnsResolver, type Resolver } from '../../src/dns/resolver.js';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { dnsServer, listIp, removeDnsRecords, restartDnsmasq, unlistIp } from '../peers/peers.js';
import { preflightPlan, publishPreflightZones, type PreflightZones } from './preflight-fixture.js';

// This file's addresses: checked IPs 127.0.0.17-19 and 127.0.0.47-49, SMTP servers on 127.0.0.103-104.
const NOW = Date.parse('2026-11-30T12:00:00Z');
let z: PreflightZones;
let resolver: Resolver;

beforeAll(async () => {
  z = await publishPreflightZones('pf', { ptr48: true });
  resolver = createDnsResolver({ servers: [dnsServer], timeoutMs: 1000, tries: 2 });
  await listIp('zen.dnsbl.test', '127.0.0.49');
}, 30_000);
afterAll(async () => {
  await unlistIp('zen.dnsbl.test', '127.0.0.49');
  await removeDnsRecords('preflight-pf');
  await restartDnsmasq();
});

function plan(text: string): Plan {
  const r = loadPlan(text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.plan;
}
const find = (items: readonly PreflightItem[], id: string, subject: string) => {
  const it = items.find((i) => i.id === id && i.subject === subject);
  if (!it) throw new Error(`no item ${id} ${subject} in ${JSON.stringify(items.map((i) => `${i.id} ${i.subject}`))}`);
  return it;
};

describe('diagnoses that blame the right thing', () => {
  const good = () => preflightPlan(z, {
    name: 'pf-diag', from: `hello@${z.good}`, envelope: `bounces@em.${z.good}`, dkimDomain: z.good,
    ips: [['127.0.0.17', 'mta17.warmup.test']],
  });

  it('a dead resolver: says the resolver is broken once and marks every DNS check unknown, nothing about PTRs or domain lists', async () => {
    // Nothing listens on 127.0.0.57:53: every query is refused.
    const dead = createDnsResolver({ servers: ['127.0.0.57'], timeoutMs: 300, tries: 1 });
    const r = await runPreflight(plan(good()), { resolver: dead, connect: false, now: NOW });
    const fails = r.items.filter((i) => i.status === 'fail');
    expect(fails.map((i) => i.id)).toEqual(['dns.resolver']);
    expect(fails[0]!.message).toMatch(/the resolver is broken: no answer for names that must exist \(MX postfix\.test: /);
    expect(find(r.items, 'ip.bind', '127.0.0.17').status).toBe('pass');
    for (const [id, subject] of [['ip.ptr', '127.0.0.17'], ['ip.fcrdns', '127.0.0.17'], ['ip.dnsbl', '127.0.0.17'], ['mx', 'postfix'], ['spf', z.good]]) {
      expect(find(r.items, id!, subject!).status).toBe('unknown');
    }
    expect(JSON.stringify(r.items)).not.toMatch(/owner of the address block|domain list of providers/);
    expect(r.worst).toBe('fail');
  });

  it('every DNSBL zone broken: the IP is not "ok, not listed" but unknown', async () => {
    const r = await runPreflight(plan(good().replace('zones: [zen.dnsbl.test]', 'zones: [broken.dnsbl.test]')), { resolver, connect: false, now: NOW });
    expect(find(r.items, 'dnsbl.zone', 'broken.dnsbl.test').status).toBe('warn');
    expect(find(r.items, 'ip.dnsbl', '127.0.0.17')).toMatchObject({ status: 'unknown', message: expect.stringMatching(/^not known: no trusted DNSBL zone answered/) });
  });
});

describe('runPreflight against the loopback DNS', () => {
  it('checks the Ed25519 key of dual signing at its own selector, beside the RSA one', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { checkDkim } = await import('../../src/dns/preflight-auth.js');
    const p = plan(preflightPlan(z, { name: 'pf-dual', from: `hello@${z.good}`, envelope: `bounces@em.${z.good}`, dkimDomain: z.good, ips: [['127.0.0.17', 'mta17.warmup.test']] }));
    const edPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const dual: Plan = { ...p, sender: { ...p.sender, dkim: { ...p.sender.dkim!, ed25519: { selector: 'ed1', privateKeyPem: edPem } } } };
    const r = await checkDkim(dual, resolver);
    expect(find(r.items, 'dkim.key', `sel._domainkey.${z.good}`).status).toBe('pass');
    // Not published: a failure with the record to publish, while the RSA signature alone still satisfies DMARC.
    expect(find(r.items, 'dkim.record', `ed1._domainkey.${z.good}`)).toMatchObject({ status: 'fail', fix: expect.stringContaining('k=ed25519; p=') });
    expect(r.ok).toBe(true);
  });

  it('passes a sender whose PTR, SPF (ip4, include -> a, redirect), DKIM and DMARC are right', async () => {
    const p = plan(preflightPlan(z, {
      name: 'pf-good', from: `hello@${z.good}`, envelope: `bounces@em.${z.good}`, dkimDomain: z.good,
      ips: [['127.0.0.17', 'mta17.warmup.test'], ['127.0.0.18', 'mta18.warmup.test'], ['127.0.0.19', 'mta19.warmup.test']],
    }));
    const r = await runPreflight(p, { resolver, connect: false, now: NOW });
    expect(r.items.filter((i) => i.status !== 'pass')).toEqual([]);
    expect(r.worst).toBe('pass');
    expect(r.checkedAt).toBe(NOW);
    for (const ip of ['127.0.0.17', '127.0.0.18', '127.0.0.19']) {
      for (const id of ['ip.bind', 'ip.ptr', 'ip.fcrdns', 'ip.ehlo', 'ip.dnsbl', 'spf.ip']) expect(find(r.items, id, ip).status).toBe('pass');
    }
    expect(find(r.items, 'spf.lookups', `em.${z.good}`).message).toMatch(/^\d of 10 DNS lookups/);
    expect(find(r.items, 'dkim.key', `sel._domainkey.${z.good}`).status).toBe('pass');
    expect(find(r.items, 'dmarc.record', z.good).message).toMatch(/^p=quarantine/);
    expect(find(r.items, 'dmarc.alignment', z.good).message).toMatch(/SPF em\.pf-good\.test aligned, DKIM pf-good\.test aligned/);
    expect(find(r.items, 'mx', 'postfix').message).toBe('postfix.test -> mx.postfix.test:25');
  });

  it('fails a sender with broken PTR, SPF, DKIM, DMARC, MX and a listed IP, each with a fix', async () => {
    const p = plan(preflightPlan(z, {
      name: 'pf-bad', from: `hello@${z.bad}`, envelope: `bounces@${z.bad}`, dkimDomain: z.bad,
      ips: [['127.0.0.17', `wrong.${z.bad}`], ['127.0.0.47', `mta47.${z.bad}`], ['127.0.0.48', `mta48.${z.bad}`], ['127.0.0.49', 'mta49.warmup.test'], ['192.0.2.1', `x.${z.bad}`]],
      domains: ['postfix.test', 'nullmx.test'],
    }));
    const r = await runPreflight(p, { resolver, connect: false, now: NOW });
    expect(r.worst).toBe('fail');
    expect(find(r.items, 'ip.bind', '192.0.2.1')).toMatchObject({ status: 'fail', fix: expect.stringContaining('ip addr add 192.0.2.1/32') });
    expect(find(r.items, 'ip.bind', '127.0.0.47').status).toBe('pass');
    expect(find(r.items, 'ip.ptr', '127.0.0.47')).toMatchObject({ status: 'fail', fix: `ask the owner of the address block to set the PTR of 127.0.0.47 to mta47.${z.bad}` });
    expect(find(r.items, 'ip.ptr', '127.0.0.48').status).toBe('pass');
    expect(find(r.items, 'ip.fcrdns', '127.0.0.48')).toMatchObject({ status: 'fail', fix: `publish nowhere.${z.bad}. IN A 127.0.0.48` });
    expect(find(r.items, 'ip.ehlo', '127.0.0.17')).toMatchObject({ status: 'warn', fix: expect.stringContaining('mta17.warmup.test') });
    expect(find(r.items, 'ip.dnsbl', '127.0.0.49')).toMatchObject({ status: 'fail', message: expect.stringMatching(/listed in zen\.dnsbl\.test \(127\.0\.0\.2 SBL/) });
    expect(find(r.items, 'ip.dnsbl', '127.0.0.47').status).toBe('pass');
    expect(find(r.items, 'spf.ip', '127.0.0.17').status).toBe('pass');
    const spf47 = find(r.items, 'spf.ip', '127.0.0.47');
    expect(spf47).toMatchObject({ status: 'fail', message: expect.stringMatching(/^SPF softfail/) });
    expect(spf47.fix).toBe(`publish ${z.bad}. IN TXT "v=spf1 ip4:127.0.0.17 ip4:127.0.0.47 ip4:127.0.0.48 ip4:127.0.0.49 ip4:192.0.2.1 ~all"`);
    const dkim = find(r.items, 'dkim.key', `sel._domainkey.${z.bad}`);
    expect(dkim.status).toBe('fail');
    expect(dkim.fix!.replace(/" "/g, '')).toContain(`p=${/p=([^;"]+)/.exec((await import('../../src/dns/auth-records.js')).dkimRecordValue(z.pem))![1]}`);
    expect(find(r.items, 'dmarc.record', z.bad)).toMatchObject({ status: 'fail', fix: `publish _dmarc.${z.bad}. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@${z.bad}"` });
    expect(find(r.items, 'mx', 'postfix')).toMatchObject({ status: 'fail', message: expect.stringMatching(/nullmx\.test: NULL_MX/) });
  });

  it('warns when DMARC passes on DKIM alone because the envelope domain is not aligned', async () => {
    const p = plan(preflightPlan(z, {
      name: 'pf-weak', from: `hello@${z.weak}`, envelope: `bounces@${z.good}`, dkimDomain: z.weak, ips: [['127.0.0.17', 'mta17.warmup.test']],
    }));
    const r = await runPreflight(p, { resolver, connect: false, now: NOW });
    expect(find(r.items, 'dmarc.record', z.weak).message).toMatch(/^p=none \(monitoring only/);
    expect(find(r.items, 'dmarc.alignment', z.weak)).toMatchObject({ status: 'warn', message: expect.stringMatching(/passes on DKIM alone/), fix: `use an envelope sender at ${z.weak} (sender.envelope_from)` });
    expect(r.worst).toBe('warn');
  });

  it('fails SPF over the 10-lookup limit and when no DKIM key or DMARC alignment exists', async () => {
    const p = plan(preflightPlan(z, { name: 'pf-many', from: `hello@${z.many}`, envelope: `bounces@${z.many}`, ips: [['127.0.0.17', 'mta17.warmup.test']] }));
    const spf = await checkSpf(p, resolver);
    expect(spf.allPass).toBe(false);
    expect(spf.items.find((i) => i.id === 'spf.lookups')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/flatten/) });
    expect(spf.items.find((i) => i.id === 'spf.ip')).toMatchObject({ status: 'fail', message: expect.stringMatching(/permerror/) });
    const r = await runPreflight(p, { resolver, connect: false, now: NOW, skipDnsbl: true });
    expect(find(r.items, 'dkim.key', z.many)).toMatchObject({ status: 'warn', fix: expect.stringContaining('warmup keygen') });
    expect(r.items.some((i) => i.id === 'ip.dnsbl')).toBe(false);
  });
});

describe('runPreflight --connect', () => {
  const servers: SMTPServer[] = [];
  const ports: Record<string, number> = {};
  beforeAll(async () => {
    for (const [host, tls] of [['127.0.0.103', true], ['127.0.0.104', false]] as const) {
      const s = new SMTPServer({ authOptional: true, banner: tls ? 'tls-mx' : 'plain-mx', ...(tls ? {} : { disabledCommands: ['STARTTLS'] }), onData: (st, _s, cb) => { st.resume(); st.on('end', () => cb()); } });
      await new Promise<void>((r) => s.listen(0, host, r));
      servers.push(s);
      ports[host] = (s.server.address() as { port: number }).port;
    }
  });
  afterAll(async () => {
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  });

  const connectPlan = (route: string, tls = 'opportunistic') => plan(preflightPlan(z, {
    name: 'pf-connect', from: `hello@${z.good}`, envelope: `bounces@em.${z.good}`, dkimDomain: z.good, ips: [['127.0.0.18', 'mta18.warmup.test']],
    extra: `  tls: ${tls}\n  routes: { postfix: "${route}" }\n`,
  }));

  it.each([
    ['an MX offering STARTTLS passes', () => `127.0.0.103:${ports['127.0.0.103']}`, 'opportunistic', 'pass', /tls-mx.*STARTTLS offered/],
    ['an MX without STARTTLS warns', () => `127.0.0.104:${ports['127.0.0.104']}`, 'opportunistic', 'warn', /STARTTLS not offered/],
    ['an MX without STARTTLS fails when TLS is required', () => `127.0.0.104:${ports['127.0.0.104']}`, 'require', 'fail', /but delivery\.tls is require/],
    ['an MX that does not answer fails', () => '127.0.0.105:2', 'opportunistic', 'fail', /no MX answered: .*ECONNREFUSED/],
  ])('%s', async (_t, route, tls, status, message) => {
    const r = await runPreflight(connectPlan(route(), tls), { resolver, connect: true, now: NOW, skipDnsbl: true });
    expect(find(r.items, 'mx', 'postfix').message).toMatch(/\(delivery\.routes\)/);
    expect(find(r.items, 'smtp.connect', 'postfix')).toMatchObject({ status, message: expect.stringMatching(message) });
  });
});
