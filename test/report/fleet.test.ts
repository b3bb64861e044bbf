/**
 * The report's fleet section over each real store (SQLite, its read-only
 * reader, memory, PostgreSQL on the test peers): leases and the events they
 * write made through the store's own fleet operations, as the daemons make
 * them, and volume through its message and attempt operations.
 */
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { loadReportData, renderReport } from '../../src/report/index.js';
import type { Store } from '../../src/store/store.js';
import { attempt, deferral, DAY, openDay, PLAN, withStore } from '../store/conformance/fixture.js';
import { STORES } from '../store/conformance/stores.js';

const plan: Plan = (() => {
  const r = loadPlan(`name: ${PLAN}
timezone: UTC
start: ${DAY}
launch: 2026-12-10
sender:
  from: { address: hello@news.example.com }
  unsubscribe: { url: "https://news.example.com/u" }
ips:
  - { address: 127.0.0.2, ehlo: mta2.warmup.test, host: a }
  - { address: 127.0.0.3, ehlo: mta3.warmup.test }
  - { address: 127.0.0.4, ehlo: mta4.warmup.test }
  - { address: 127.0.0.5, ehlo: mta5.warmup.test }
providers:
  gmail: { domains: [gmail.com], seeds: [a@gmail.com] }
`, { cwd: tmpdir(), env: {} });
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  return r.plan;
})();

/** Plan clock (the events' `at`) and wall clock (the leases'). */
const CLOCK = Date.parse(`${DAY}T10:00:00Z`);
const REAL = CLOCK + 60_000; // a minute after the plan clock: the two are apart in a rehearsal
const claim = (host: string, pid: number, token: string, real: number, alive: (pid: number) => boolean = () => true) =>
  ({ host, pid, token, now: real, staleMs: 1500, alive, clockNow: CLOCK + real - REAL });

/** `accepted` accepted first tries and `deferred` deferred ones on the gmail lane of `ip`. */
async function sendOn(s: Store, laneId: number, accepted: number, deferred: number): Promise<void> {
  await openDay(s, laneId);
  const ms = await s.createMessages(Array.from({ length: accepted + deferred }, (_, i) => ({ laneId, day: DAY, recipient: `r${i}@gmail.com`, messageId: `m${laneId}-${i}@x.test` })), 5);
  for (const [i, m] of ms.entries()) {
    if (i < accepted) await s.recordAttempt(attempt(m.id, laneId), { status: 'accepted', at: 11 });
    else await s.recordAttempt(deferral(m.id, laneId), { status: 'deferred', nextAttemptAt: 300 });
  }
}

describe.each(STORES)('the report\'s fleet section on a $name store', ({ open }) => {
  it('shows who sends from which IP now, the IPs unattended and taken back or over, and the volume per host', () => withStore(open, async (s) => {
    const lanes = await s.ensureLanes(PLAN, plan.ips.map((i) => ({ ip: i.address, provider: 'gmail' })), 1);
    const lane = (ip: string) => lanes.find((l) => l.ip === ip)!.id;
    // a holds its pinned .2, c the floating .3, b the floating .4; nobody ever held .5.
    await s.acquireIpLeases(PLAN, ['127.0.0.2'], claim('a', 10, 'ta', REAL));
    await s.acquireIpLeases(PLAN, ['127.0.0.3'], claim('c', 30, 'tc', REAL));
    await s.acquireIpLeases(PLAN, ['127.0.0.4'], claim('b', 20, 'tb', REAL));
    await sendOn(s, lane('127.0.0.2'), 3, 0);
    await sendOn(s, lane('127.0.0.3'), 2, 1);
    await sendOn(s, lane('127.0.0.4'), 4, 0);
    await sendOn(s, lane('127.0.0.5'), 1, 0);
    // b falls silent: a reports it, then takes .4 over; a restarted (a new pid) takes its .2 back.
    await s.renewIpLeases(PLAN, 'ta', REAL + 2000);
    await s.renewIpLeases(PLAN, 'tc', REAL + 2000);
    expect(await s.reportUnattended(PLAN, REAL + 2000, 1500, CLOCK + 2000, 'a')).toEqual(['127.0.0.4']);
    await s.acquireIpLeases(PLAN, ['127.0.0.4'], claim('a', 10, 'ta', REAL + 2100));
    await s.acquireIpLeases(PLAN, ['127.0.0.2'], claim('a', 11, 'ta2', REAL + 2200, (pid) => pid !== 10));

    const data = await loadReportData(s, plan, CLOCK + 3000, REAL + 4200);
    const f = data.fleet;
    expect(f.single).toBe(false);
    expect(f.hosts).toEqual(['a', 'b', 'c']);
    expect(f.now.daemons.map((d) => [d.host, d.pid, d.ips, d.heartbeatAgoMs, d.unattended])).toEqual([
      ['a', 10, ['127.0.0.4'], 2100, []], ['a', 11, ['127.0.0.2'], 2000, []], ['c', 30, ['127.0.0.3'], 2200, []],
    ]);
    expect(f.now.ips.filter((i) => i.host === null).map((i) => i.ip)).toEqual(['127.0.0.5']);
    expect(f.events.map((e) => [e.kind, e.host, e.ips, e.from, e.by, e.day])).toEqual([
      ['unattended', 'b', ['127.0.0.4'], [], 'a', DAY],
      ['taken over', 'a', ['127.0.0.4'], ['b'], 'a', DAY],
      ['taken back', 'a', ['127.0.0.2'], ['a'], 'a', DAY],
    ]);
    expect(f.perHost.map((h) => [h.host, h.ips.map((i) => `${i.ip} ${i.basis}`), h.sent, h.attempts, h.accepted])).toEqual([
      ['a', ['127.0.0.2 pinned', '127.0.0.4 holder now, moved'], 7, 7, 7],
      ['c', ['127.0.0.3 holder now'], 3, 3, 2],
      [null, ['127.0.0.5 null'], 1, 1, 1],
    ]);

    const html = renderReport(data);
    const section = html.slice(html.indexOf('<h2>Fleet</h2>'), html.indexOf('<h2>Launch readiness</h2>'));
    expect(section).toContain('3 hosts (a, b, c); now 3 daemons, 3 of 4 IPs attended; held by no daemon: 127.0.0.5.');
    expect(section).toContain('1 time unattended (1 IP), 1 time taken back (1 IP), 1 time taken over (1 IP).');
    expect(section).toMatch(/<tr class="ready"><td>a<\/td><td class="num">10<\/td><td>127\.0\.0\.4<\/td><td>2026-12-01 10:01 \(2s ago\)<\/td><td><span class="badge ready">attended<\/span><\/td><\/tr>/);
    expect(section).toContain('<td>taken over</td><td>a (pid 10)</td><td>127.0.0.4</td><td>b</td><td>a</td>');
    expect(section).toContain('<tr><td>a</td><td>127.0.0.2 127.0.0.4 ‡</td><td class="num">7</td><td class="num">7</td><td class="num">7</td><td class="num">100.0%</td></tr>');
    expect(section).toContain('<tr><td><i>no host known</i></td><td>127.0.0.5</td>');
  }));

  it('is one line when the plan\'s one host sends from every IP and none was ever taken over', () => withStore(open, async (s) => {
    await s.ensureLanes(PLAN, plan.ips.map((i) => ({ ip: i.address, provider: 'gmail' })), 1);
    await s.acquireIpLeases(PLAN, plan.ips.map((i) => i.address), claim('a', 7, 't', REAL));
    const data = await loadReportData(s, plan, CLOCK, REAL + 3000);
    expect(data.fleet).toMatchObject({ single: true, hosts: ['a'], events: [] });
    const html = renderReport(data);
    expect(html).toContain('<p class="note" data-fleet="single">Single host: a (pid 7) holds 4 of 4 IPs, last heartbeat 2026-12-01 10:01 (3s ago).</p>');
    expect(html).not.toContain('data-table="fleet-');
  }));

  it('is one line when the database has no fleet data at all', () => withStore(open, async (s) => {
    const unpinned = { ...plan, ips: plan.ips.map((i) => ({ ...i, hosts: null })) };
    await s.ensureLanes(PLAN, plan.ips.map((i) => ({ ip: i.address, provider: 'gmail' })), 1);
    const html = renderReport(await loadReportData(s, unpinned, CLOCK, REAL));
    expect(html).toContain('data-fleet="single">Single host: no fleet data');
    expect(html).not.toContain('data-table="fleet-');
  }));
});
