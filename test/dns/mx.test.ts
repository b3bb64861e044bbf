import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHostPort, resolveRoute } from '../../src/dns/mx.js';
import { createDnsResolver, type Resolver } from '../../src/dns/resolver.js';
import { startDnsmasq, startFakeDns, type Dnsmasq, type FakeDns } from './servers.js';

// This file's own loopback addresses, so it never meets another test's servers.
const LISTEN = '127.0.0.71';

let dnsmasq: Dnsmasq;
let servfail: FakeDns;
let silent: FakeDns;
let resolver: Resolver;

beforeAll(async () => {
  dnsmasq = await startDnsmasq(
    LISTEN,
    5399,
    [
      'mx-host=multi.test,mx2.multi.test,20',
      'mx-host=multi.test,mx1.multi.test,10',
      'mx-host=multi.test,mx1b.multi.test,10',
      'host-record=mx1.multi.test,127.0.0.53',
      'host-record=mx1b.multi.test,127.0.0.54',
      'host-record=mx2.multi.test,127.0.0.55',
      'host-record=nomx.test,127.0.0.56',
      'mx-host=nullmx.test,.,0',
      'mx-host=dangling.test,gone.dangling.test,10',
      'mx-host=partly.test,gone.partly.test,5',
      'mx-host=partly.test,mx.partly.test,10',
      'host-record=mx.partly.test,127.0.0.57',
      'host-record=static-mx.test,127.0.0.58',
      'txt-record=sel._domainkey.example.test,"v=DKIM1; k=rsa; p=abc","def"',
      'ptr-record=53.0.0.127.in-addr.arpa,mx1.multi.test',
    ],
    'mx1.multi.test',
  );
  servfail = await startFakeDns(LISTEN, 'servfail');
  silent = await startFakeDns(LISTEN, 'silent');
  resolver = createDnsResolver({ servers: [dnsmasq.server], timeoutMs: 500, tries: 1 });
});

afterAll(async () => {
  await dnsmasq?.stop();
  await servfail?.stop();
  await silent?.stop();
});

describe('createDnsResolver', () => {
  it('answers MX, A, TXT and PTR questions from the configured server', async () => {
    expect(await resolver.resolve4('nomx.test')).toEqual(['127.0.0.56']);
    expect(await resolver.resolveTxt('sel._domainkey.example.test')).toEqual([['v=DKIM1; k=rsa; p=abc', 'def']]);
    expect(await resolver.reverse('127.0.0.53')).toEqual(['mx1.multi.test']);
    expect((await resolver.resolveMx('multi.test')).length).toBe(3);
  });

  it('returns no records for a name without records of that type', async () => {
    expect(await resolver.resolveMx('nomx.test')).toEqual([]);
  });

  it('reports NXDOMAIN as NO_SUCH_DOMAIN', async () => {
    await expect(resolver.resolve4('nothing-here.test')).rejects.toMatchObject({ code: 'NO_SUCH_DOMAIN' });
  });

  it('reports SERVFAIL as DNS_TEMPFAIL', async () => {
    const r = createDnsResolver({ servers: [servfail.server], timeoutMs: 300, tries: 1 });
    await expect(r.resolveMx('example.test')).rejects.toMatchObject({ code: 'DNS_TEMPFAIL', details: { dnsCode: 'ESERVFAIL' } });
    expect(servfail.queries()).toBeGreaterThan(0);
  });

  it('reports a server that never answers as DNS_TEMPFAIL within the configured timeout', async () => {
    const r = createDnsResolver({ servers: [silent.server], timeoutMs: 200, tries: 1 });
    const started = performance.now();
    await expect(r.resolveMx('example.test')).rejects.toMatchObject({ code: 'DNS_TEMPFAIL', details: { dnsCode: 'ETIMEOUT' } });
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it.each([['mx.example.com'], ['127.0.0.1:99999'], ['[::1'], ['']])('refuses the server entry %j', (entry) => {
    expect(() => createDnsResolver({ servers: [entry] })).toThrow(expect.objectContaining({ code: 'DNS_CONFIG' }));
  });

  it('accepts host, host:port and [v6]:port entries', () => {
    expect(() => createDnsResolver({ servers: ['127.0.0.60', '127.0.0.1:5353', '[::1]:53', '::1'] })).not.toThrow();
  });
});

describe('resolveRoute', () => {
  it('orders MX hosts by preference, equal preferences by name, with their addresses', async () => {
    const route = await resolveRoute('Multi.Test.', { resolver });
    expect(route).toEqual({
      domain: 'multi.test',
      source: 'mx',
      hosts: [
        { host: 'mx1.multi.test', preference: 10, addresses: ['127.0.0.53'], port: 25 },
        { host: 'mx1b.multi.test', preference: 10, addresses: ['127.0.0.54'], port: 25 },
        { host: 'mx2.multi.test', preference: 20, addresses: ['127.0.0.55'], port: 25 },
      ],
    });
  });

  it('shuffles equal preferences with the given random source only', async () => {
    const route = await resolveRoute('multi.test', { resolver, random: () => 0, port: 2525 });
    expect(route.hosts.map((h) => h.host)).toEqual(['mx1b.multi.test', 'mx1.multi.test', 'mx2.multi.test']);
    expect(route.hosts.every((h) => h.port === 2525)).toBe(true);
  });

  it('falls back to the A record when there is no MX (implicit MX)', async () => {
    expect(await resolveRoute('nomx.test', { resolver })).toEqual({
      domain: 'nomx.test',
      source: 'implicit',
      hosts: [{ host: 'nomx.test', preference: 0, addresses: ['127.0.0.56'], port: 25 }],
    });
  });

  it('refuses a null MX domain as NULL_MX', async () => {
    await expect(resolveRoute('nullmx.test', { resolver })).rejects.toMatchObject({ code: 'NULL_MX' });
  });

  it('reports a domain that does not exist as NO_SUCH_DOMAIN', async () => {
    await expect(resolveRoute('nothing-here.test', { resolver })).rejects.toMatchObject({ code: 'NO_SUCH_DOMAIN' });
  });

  it('reports an MX whose host does not resolve as NO_ADDRESS', async () => {
    await expect(resolveRoute('dangling.test', { resolver })).rejects.toMatchObject({ code: 'NO_ADDRESS' });
  });

  it('skips an MX host that does not resolve when another does', async () => {
    const route = await resolveRoute('partly.test', { resolver });
    expect(route.hosts.map((h) => h.host)).toEqual(['mx.partly.test']);
  });

  it('reports SERVFAIL and timeouts as DNS_TEMPFAIL', async () => {
    for (const server of [servfail.server, silent.server]) {
      const r = createDnsResolver({ servers: [server], timeoutMs: 200, tries: 1 });
      await expect(resolveRoute('example.test', { resolver: r })).rejects.toMatchObject({ code: 'DNS_TEMPFAIL' });
    }
  });

  it('uses a static route without any MX lookup', async () => {
    // The silent server would time out on any query: none is made for an IP.
    const r = createDnsResolver({ servers: [silent.server], timeoutMs: 200, tries: 1 });
    const before = silent.queries();
    const route = await resolveRoute('gmail.com', { resolver: r, staticRoutes: { 'gmail.com': ['127.0.0.53:2525', '127.0.0.54'] } });
    expect(route).toEqual({
      domain: 'gmail.com',
      source: 'static',
      hosts: [
        { host: '127.0.0.53', preference: 0, addresses: ['127.0.0.53'], port: 2525 },
        { host: '127.0.0.54', preference: 1, addresses: ['127.0.0.54'], port: 25 },
      ],
    });
    expect(silent.queries()).toBe(before);
  });

  it('keeps a plan route structured end to end: [::1]:2525 validates and routes to ::1 port 2525', async () => {
    const { RouteCache } = await import('../../src/daemon/deliver.js');
    const { load, writePlan } = await import('../daemon/harness.js');
    const { file } = writePlan({ name: 'v6route', ips: ['127.0.0.163'], providers: { sink: { domains: ['sink.test'], seeds: ['v6@sink.test'] } }, delivery: ['routes: { sink: "[::1]:2525" }'] });
    const plan = load(file);
    expect(plan.delivery.routes.get('sink')).toEqual({ host: '::1', port: 2525 });
    const route = await new RouteCache(plan, resolver).get('sink.test', 0);
    expect(route).toMatchObject({ source: 'static', hosts: [{ host: '::1', addresses: ['::1'], port: 2525 }] });
  });

  it('resolves the A record of a static route given by name', async () => {
    const route = await resolveRoute('example.org', { resolver, staticRoutes: { 'example.org': ['static-mx.test:2526'] } });
    expect(route.hosts).toEqual([{ host: 'static-mx.test', preference: 0, addresses: ['127.0.0.58'], port: 2526 }]);
  });
});

describe('parseHostPort', () => {
  it.each([
    ['mx.example.test', { host: 'mx.example.test', port: 25 }],
    ['MX.example.test:2525', { host: 'mx.example.test', port: 2525 }],
    ['127.0.0.53:26', { host: '127.0.0.53', port: 26 }],
    ['[::1]:2525', { host: '::1', port: 2525 }],
  ])('parses %j', (entry, expected) => {
    expect(parseHostPort(entry, 25)).toEqual(expected);
  });

  it.each([[''], ['host:0'], ['host:70000'], ['a b'], ['host:port']])('refuses %j', (entry) => {
    expect(() => parseHostPort(entry, 25)).toThrow(expect.objectContaining({ code: 'INVALID_ROUTE' }));
  });
});
