import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DnsblChecker } from '../../src/dns/dnsbl-check.js';
import { DnsblMonitor } from '../../src/dns/dnsbl-monitor.js';
import { createDnsResolver } from '../../src/dns/resolver.js';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { openSqlite, type OpenedSqlite } from '../../src/store/open.js';
import * as q from '../../src/store/queries.js';
import { manualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { dnsServer, listIp, unlistIp } from '../peers/peers.js';
import { startFakeDns, type FakeDns } from './servers.js';

// This file's own addresses: checked IPs 127.0.0.41-46, fake DNS servers on 127.0.0.101.
const ZEN = 'zen.dnsbl.test';
const T0 = Date.parse('2026-12-01T10:00:00Z');
const MIN = 60_000;

const dirs: string[] = [];
const stores: OpenedSqlite[] = [];
const touched: string[] = [];

function planFor(name: string, ips: string[], extra: { zones?: string[]; autoResume?: string; dns?: string } = {}): Plan {
  const text = `name: ${name}
timezone: UTC
start: 2026-12-01
launch: 2026-12-10
sender:
  from: { address: hello@news.warmup.test }
  unsubscribe: { url: "https://news.warmup.test/u" }
ips:
${ips.map((ip) => `  - { address: ${ip}, ehlo: mta${ip.split('.')[3]}.warmup.test }`).join('\n')}
providers:
  postfix: { domains: [postfix.test], seeds: [a@postfix.test] }
  sink: { domains: [sink.test], seeds: [b@sink.test] }
dnsbl:
  zones: [${(extra.zones ?? [ZEN]).join(', ')}]
  interval: 15m
  queries_per_second: 500
${extra.autoResume ? `  auto_resume_after: ${extra.autoResume}\n` : ''}delivery:
  dns_servers: ["${extra.dns ?? dnsServer}"]
`;
  const r = loadPlan(text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.plan;
}

async function setup(name: string, ips: string[], extra: Parameters<typeof planFor>[2] = {}) {
  const plan = planFor(name, ips, extra);
  const dir = mkdtempSync(join(tmpdir(), 'warmup-dnsbl-'));
  dirs.push(dir);
  const store = await openSqlite(join(dir, 'db.sqlite'));
  stores.push(store);
  const clock = manualClock(T0);
  await q.ensureLanes(store.db, plan.name, plan.ips.flatMap((i) => plan.providers.map((p) => ({ ip: i.address, provider: p.name }))), T0);
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: 'debug', destination: new Writable({ write(c, _e, cb) { lines.push(JSON.parse(String(c))); cb(); } }) });
  const resolver = createDnsResolver({ servers: plan.delivery.dnsServers, timeoutMs: 300, tries: 1 });
  const monitor = new DnsblMonitor({ plan, store: store.store, resolver, clock, log });
  const lanes = async (ip: string) => (await q.loadLanes(store.db, plan.name)).filter((l) => l.ip === ip);
  const events = () => store.db.selectFrom('events').selectAll().orderBy('id').execute();
  return { plan, db: store.db, clock, log, lines, monitor, lanes, events };
}

async function list(ip: string, answer?: { a: string; txt?: string }) {
  touched.push(ip);
  await listIp(ZEN, ip, answer ? { answer } : {});
}

afterEach(async () => {
  for (const ip of touched.splice(0)) await unlistIp(ZEN, ip);
});

afterAll(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('DnsblMonitor against rbldnsd', () => {
  it('pauses an IP listed at start at every provider before anything sends, with zone, answer, meaning and reason', async () => {
    const t = await setup('bl-start', ['127.0.0.41', '127.0.0.42']);
    await list('127.0.0.41', { a: '127.0.0.4', txt: 'exploited host, see https://check.test/$' });
    const pass = await t.monitor.checkAll();
    expect(pass.listed).toEqual(['127.0.0.41']);
    expect(pass.paused).toEqual(['127.0.0.41']);
    expect((await t.lanes('127.0.0.41')).map((l) => l.state)).toEqual(['paused', 'paused']);
    expect((await t.lanes('127.0.0.42')).map((l) => l.state)).toEqual(['active', 'active']);
    const ev = (await t.events()).filter((e) => e.kind === 'dnsbl_listed');
    expect(ev.map((e) => [e.ip, e.provider, e.actor, e.to_state])).toEqual([
      ['127.0.0.41', 'postfix', 'dnsbl', 'paused'], ['127.0.0.41', 'sink', 'dnsbl', 'paused'],
    ]);
    expect(JSON.parse(ev[0]!.cause)).toMatchObject({ zone: ZEN, answer: '127.0.0.4', meaning: expect.stringMatching(/^XBL/), txt: 'exploited host, see https://check.test/127.0.0.41' });
    const rows = await t.db.selectFrom('dnsbl_results').selectAll().orderBy('ip').execute();
    expect(rows.map((r) => [r.ip, r.zone, r.status, r.answer])).toEqual([
      ['127.0.0.41', ZEN, 'listed', '127.0.0.4'], ['127.0.0.42', ZEN, 'clear', null],
    ]);
    // Checked again while still listed: no new pause event.
    const again = await t.monitor.checkAll();
    expect(again.paused).toEqual([]);
    expect((await t.events()).filter((e) => e.kind === 'dnsbl_listed')).toHaveLength(2);
  });

  it('pauses within one interval when an IP is listed at runtime, and keeps it paused after de-listing', async () => {
    const t = await setup('bl-runtime', ['127.0.0.43']);
    t.monitor.start(t.plan.dnsbl.intervalMs);
    try {
      await waitFor(async () => (await t.db.selectFrom('dnsbl_results').selectAll().execute()).length === 1);
      await list('127.0.0.43');
      expect((await t.lanes('127.0.0.43')).every((l) => l.state === 'active')).toBe(true);
      t.clock.advance(t.plan.dnsbl.intervalMs);
      await waitFor(async () => (await t.lanes('127.0.0.43')).every((l) => l.state === 'paused'));
      await unlistIp(ZEN, '127.0.0.43');
      t.clock.advance(t.plan.dnsbl.intervalMs);
      await waitFor(async () => (await t.events()).some((e) => e.kind === 'dnsbl_clear'));
    } finally {
      await t.monitor.stop();
    }
    expect((await t.lanes('127.0.0.43')).map((l) => l.state)).toEqual(['paused', 'paused']);
    // Much later, still paused: without auto_resume_after only `warmup resume` brings it back.
    t.clock.advance(30 * 24 * 60 * MIN);
    const later = await t.monitor.checkAll();
    expect(later.resumed).toEqual([]);
    expect((await t.lanes('127.0.0.43')).map((l) => l.state)).toEqual(['paused', 'paused']);
    expect(t.lines.some((l) => l.level === 40 && /de-listed; it stays paused/.test(String(l.msg)))).toBe(true);
  });

  it('resumes only its own pauses after the cool-down when auto_resume_after is set', async () => {
    const t = await setup('bl-auto', ['127.0.0.44'], { autoResume: '2h' });
    await list('127.0.0.44');
    await t.monitor.checkAll();
    // The operator also pauses one lane by hand afterwards: that one must stay paused.
    await q.addHold(t.db, t.plan.name, { ip: '127.0.0.44', provider: 'sink' }, { kind: 'operator', actor: 'operator', reason: 'by hand', until: null, eventKind: 'operator_pause' }, T0 + 1);
    await unlistIp(ZEN, '127.0.0.44');
    t.clock.advance(15 * MIN);
    const cleared = await t.monitor.checkAll();
    expect(cleared.cleared).toEqual(['127.0.0.44']);
    expect(cleared.resumed).toEqual([]);
    t.clock.advance(60 * MIN);
    expect((await t.monitor.checkAll()).resumed).toEqual([]);
    t.clock.advance(61 * MIN);
    expect((await t.monitor.checkAll()).resumed).toEqual(['127.0.0.44']);
    expect((await t.lanes('127.0.0.44')).map((l) => [l.provider, l.state])).toEqual([['postfix', 'active'], ['sink', 'paused']]);
    const resume = (await t.events()).find((e) => e.kind === 'dnsbl_resume');
    expect(resume).toMatchObject({ ip: '127.0.0.44', provider: 'postfix', actor: 'dnsbl', from_state: 'paused', to_state: 'active' });
  });

  it.each([
    ['127.255.255.254', /public\/open resolver/],
    ['127.255.255.255', /rate-limited/],
  ])('records the error answer %s as a monitor error and never pauses', async (a, meaning) => {
    const t = await setup(`bl-err-${a.split('.')[3]}`, ['127.0.0.45']);
    await list('127.0.0.45', { a, txt: 'error' });
    const pass = await t.monitor.checkAll();
    expect(pass.listed).toEqual([]);
    expect((await t.lanes('127.0.0.45')).every((l) => l.state === 'active')).toBe(true);
    const [row] = await t.db.selectFrom('dnsbl_results').selectAll().execute();
    expect(row).toMatchObject({ ip: '127.0.0.45', status: 'error', answer: a });
    expect(row!.meaning).toMatch(meaning);
  });

  it.each([
    ['broken.dnsbl.test', /test entry 127\.0\.0\.2 is not listed/],
    ['all.dnsbl.test', /lists 127\.0\.0\.1/],
  ])('trusts nothing from %s, whose RFC 5782 test entries are wrong', async (zone, reason) => {
    const t = await setup(`bl-${zone.split('.')[0]}`, ['127.0.0.46'], { zones: [zone] });
    const pass = await t.monitor.checkAll();
    expect(pass.untrustedZones).toEqual([zone]);
    expect(pass.report.zones[0]!.health).toMatchObject({ status: 'broken', reason: expect.stringMatching(reason) });
    expect(pass.listed).toEqual([]);
    expect((await t.lanes('127.0.0.46')).every((l) => l.state === 'active')).toBe(true);
    const [row] = await t.db.selectFrom('dnsbl_results').selectAll().execute();
    expect(row).toMatchObject({ ip: '127.0.0.46', zone, status: 'error' });
    expect(t.lines.some((l) => l.level === 40 && l.zone === zone)).toBe(true);
  });
});

describe('DnsblMonitor when DNS fails', () => {
  let servfail: FakeDns;
  let silent: FakeDns;
  beforeAll(async () => {
    servfail = await startFakeDns('127.0.0.101', 'servfail');
    silent = await startFakeDns('127.0.0.101', 'silent');
  });
  afterAll(async () => {
    await servfail.stop();
    await silent.stop();
  });

  it.each([['SERVFAIL', () => servfail], ['a timeout', () => silent]])('treats %s as unknown, retries, and never pauses', async (_what, server) => {
    const t = await setup(`bl-${_what.length}`, ['127.0.0.41'], { dns: server().server });
    const before = server().queries();
    const pass = await t.monitor.checkAll();
    expect(pass.report.zones[0]!.health.status).toBe('unknown');
    expect(pass.listed).toEqual([]);
    expect((await t.lanes('127.0.0.41')).every((l) => l.state === 'active')).toBe(true);
    const [row] = await t.db.selectFrom('dnsbl_results').selectAll().execute();
    expect(row).toMatchObject({ status: 'unknown' });
    // Two test-entry names, each asked twice (the default attempts).
    expect(server().queries() - before).toBe(4);
  });

  it('asks an IP again after SERVFAIL and reports unknown with the reason', async () => {
    const checker = new DnsblChecker({ resolver: createDnsResolver({ servers: [servfail.server], timeoutMs: 300, tries: 1 }), queriesPerSecond: 500, attempts: 3 });
    const before = servfail.queries();
    const r = await checker.checkOne('127.0.0.42', ZEN);
    expect(r).toMatchObject({ status: 'unknown', meaning: expect.stringMatching(/ESERVFAIL/) });
    expect(servfail.queries() - before).toBe(3);
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
