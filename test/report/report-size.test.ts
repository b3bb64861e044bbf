/**
 * The report at the size of a real launch: rendered for 6 and for 300 lanes (14 days, thousands of
 * events) and opened in headless Chromium (the Debian package test/peers/install.sh installs): no
 * chart element leaves its chart's box, problems come before the long tables and charts, events
 * are grouped by day and folded, deferrals are drawn per provider.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LaneForecast } from '../../src/policy/forecast.js';
import type { Plan } from '../../src/plan/types.js';
import { reportFleet } from '../../src/report/fleet.js';
import { renderReport, type ReportData } from '../../src/report/index.js';
import { fleetView } from '../../src/store/fleet-view.js';
import { addDays, zonedInstant } from '../../src/schedule/calendar.js';
import { ensureTool } from '../ops/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'warmup-report-size-'));
let context: BrowserContext;

/** A deterministic launch-shaped data set: `ips` x `providers` lanes over 14 days, `events` events. */
function synthetic(ipCount: number, providers: string[], events: number): ReportData {
  const start = '2026-12-01';
  const launch = '2026-12-15';
  const zone = 'America/New_York';
  const ips = Array.from({ length: ipCount }, (_, i) => `203.0.${113 + Math.floor(i / 200)}.${10 + (i % 200)}`);
  const days = Array.from({ length: 14 }, (_, i) => addDays(start, i));
  const done = days.slice(0, 10);
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const laneDays: ReportData['laneDays'][number][] = [];
  const lanes: ReportData['lanes'][number][] = [];
  const fl: LaneForecast[] = [];
  for (const ip of ips) {
    for (const provider of providers) {
      let stage = 0;
      for (const [i, day] of done.entries()) {
        const hold = rnd() < 0.15;
        stage += hold ? 0 : 1;
        const target = 50 * 2 ** Math.min(stage, 8);
        const deferred = Math.round(target * rnd() * (hold ? 0.3 : 0.03));
        laneDays.push({
          day, ip, provider, stage, target, sent: target, routed: 0, routedAccepted: 0, accepted: target - deferred, deferred, mailboxDeferred: Math.round(rnd() * 5), bounced: rnd() < 0.05 ? 2 : 0,
          failed: 0, expired: i === 9 && hold ? 3 : 0, attempts: target + deferred, inbox: 0, spam: 0, missing: 0, decision: hold ? 'hold' : 'advance',
        });
      }
      const state = rnd() < 0.03 ? 'paused' : rnd() < 0.05 ? 'suspended' : 'active';
      lanes.push({ ip, provider, stage, state, reason: state === 'active' ? null : 'deferral storm' });
      const behind = stage < 9;
      fl.push({
        ip, provider, state: state as LaneForecast['state'], stage, launchTarget: 12_800, pace: stage / 10, projectedStage: stage + 4,
        projectedVolume: behind ? 6_400 : 12_800, verdict: state === 'paused' ? 'paused' : behind ? 'behind' : 'ready', readyOn: behind ? '2026-12-17' : '2026-12-12',
      });
    }
  }
  const kinds = ['day_hold', 'rule_cut_rate', 'rule_suspend', 'shaping_lapsed', 'behind_for_launch', 'dnsbl_listed'];
  const ev: ReportData['events'][number][] = Array.from({ length: events }, (_, i) => {
    const day = done[Math.floor((i / events) * done.length)]!;
    return {
      at: zonedInstant(day, 8 * 60 + (i % 700), zone), day, ip: ips[i % ips.length]!, provider: providers[i % providers.length]!,
      kind: kinds[i % kinds.length]!, actor: i % 2 ? 'policy' : 'rule:gmail-rate-limited', to: null, reason: '421 4.7.28 Our system has detected an unusual rate of unsolicited mail',
    };
  });
  // A fleet of three hosts, the IPs dealt round; mta2 went silent on day 9 and mta3 took its IPs over.
  const realNow = zonedInstant(done.at(-1)!, 23 * 60, zone);
  const hostOf = (k: number) => (k % 3 === 1 ? 'mta3' : `mta${(k % 3) + 1}`);
  const leases = ips.map((ip, k) => ({ ip, host: hostOf(k), pid: hostOf(k) === 'mta1' ? 100 : 102, acquiredAt: realNow - 86_400_000, heartbeatAt: realNow - 2_000, unattendedAt: null, staleMs: 7_500 }));
  const moved = ips.filter((_, k) => k % 3 === 1);
  const at = zonedInstant(done[8]!, 11 * 60, zone);
  const fleetEvents = [
    { at, ip: null, provider: null, kind: 'ips_unattended', from_state: 'attended', to_state: 'unattended', actor: 'fleet:mta1', cause: JSON.stringify({ ips: moved, host: 'mta2', pid: 101 }) },
    { at: at + 5_000, ip: null, provider: null, kind: 'ips_attended', from_state: 'unattended', to_state: 'attended', actor: 'fleet:mta3', cause: JSON.stringify({ ips: moved, host: 'mta3', pid: 102, from: moved.map((ip) => ({ ip, host: 'mta2', pid: 101 })) }) },
  ];
  const planIps = { ips: ips.map((address) => ({ address, hosts: null })) } as unknown as Plan;
  const fleet = reportFleet(planIps, fleetView(planIps, leases, realNow), fleetEvents, laneDays, realNow, () => done[8]!);
  const capacity: Record<string, number> = {};
  for (const l of fl) capacity[l.provider] = (capacity[l.provider] ?? 0) + l.projectedVolume;
  return {
    plan: { name: `launch-${ipCount * providers.length}`, timezone: zone, start, launch, ips, providers, zones: ['zen.dnsbl.test', 'bl.dnsbl.test'] },
    generatedAt: zonedInstant(done.at(-1)!, 23 * 60, zone),
    today: done.at(-1)!,
    planned: [...days, launch].map((day) => ({ day, launch: day === launch, perProvider: Object.fromEntries(providers.map((p) => [p, 60_000])), perIp: Object.fromEntries(ips.map((ip) => [ip, 3_000])) })),
    laneDays, lanes, events: ev,
    dnsbl: ips.flatMap((ip, k) => done.map((day) => ({ day, ip, zone: 'zen.dnsbl.test', status: (k === 3 && day > '2026-12-05' ? 'listed' : 'clear') as 'listed' | 'clear' }))),
    forecast: { asOf: addDays(done.at(-1)!, 1), launch, lanes: fl, ips: ips.map((ip) => ({ ip, verdict: fl.some((l) => l.ip === ip && l.verdict !== 'ready') ? 'behind' : 'ready', capacity: {} })), capacity },
    fleet,
  };
}

beforeAll(async () => {
  await ensureTool('chromium', 'chromium');
  context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'warmup-chromium-')), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 900 },
  });
}, 120_000);
afterAll(async () => {
  await context?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['6 lanes', 2, ['gmail', 'yahoo', 'outlook'], 40],
  ['300 lanes', 60, ['gmail', 'yahoo', 'outlook', 'icloud', 'gmx'], 3000],
] as const)('the report with %s', (_name, ipCount, providers, events) => {
  const data = synthetic(ipCount, [...providers], events);
  const html = renderReport(data);
  const file = join(dir, `${data.plan.name}.html`);
  writeFileSync(file, html);

  it('puts the problems first, then totals per provider, then the readiness table and the charts', () => {
    const at = (marker: string) => html.indexOf(marker);
    expect(at('<h2>Needs attention</h2>')).toBeGreaterThan(0);
    expect(at('<h2>Needs attention</h2>')).toBeLessThan(at('data-table="providers"'));
    expect(at('data-table="providers"')).toBeLessThan(at('<h2>Fleet</h2>'));
    expect(at('<h2>Fleet</h2>')).toBeLessThan(at('data-table="readiness"'));
    expect(html).toContain('3 hosts (mta1, mta2, mta3); now 2 daemons');
    expect(at('data-table="readiness"')).toBeLessThan(at('<svg'));
    expect(html).toMatch(/<th>sent<\/th><th>accepted<\/th><th>deferred<\/th><th>mbox-def<\/th><th>bounced<\/th><th>expired<\/th>/);
  });

  it('groups the events by day, folded, with counts per kind; deferrals are drawn per provider', () => {
    const groups = [...html.matchAll(/<details class="events-day" data-day="([\d-]+)"( open)?><summary>([^<]*)<\/summary>/g)];
    expect(groups.length).toBe(10);
    expect(groups.filter((g) => g[2]).length).toBeLessThanOrEqual(1);
    expect(groups[0]![3]).toMatch(/^2026-12-10: \d+ events \(\d+ day_hold, /);
    expect(html.match(/<svg class="chart" data-chart="deferrals"[\s\S]*?<\/svg>/)![0].match(/data-series=/g)).toHaveLength(providers.length);
    for (const p of providers) expect(html).toContain(`data-chart="stages-${p}"`);
  });

  it('opens in Chromium with no chart element outside its chart box, and a page of reasonable height', async () => {
    const page = await context.newPage();
    try {
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      const folded = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollHeight: number } } }).document.documentElement.scrollHeight);
      expect(folded).toBeLessThan(ipCount > 10 ? 20_000 : 12_000);
      await page.$$eval('details', (ds) => ds.forEach((d) => d.setAttribute('open', '')));
      const outside = await page.$$eval('svg.chart', (svgs) => svgs.flatMap((svg) => {
        const box = svg.getBoundingClientRect();
        return [...svg.querySelectorAll('*')].filter((e) => e.tagName !== 'title').flatMap((e) => {
          const r = e.getBoundingClientRect();
          if (r.width === 0 && r.height === 0) return [];
          const out = r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1;
          return out ? [`${svg.getAttribute('data-chart')} ${e.tagName}.${e.getAttribute('class') ?? ''} ${JSON.stringify([r.left, r.top, r.right, r.bottom].map(Math.round))} outside ${JSON.stringify([box.left, box.top, box.right, box.bottom].map(Math.round))}`] : [];
        });
      }));
      expect(outside.slice(0, 10)).toEqual([]);
      await page.screenshot({ path: `/tmp/warmup-report-${ipCount * providers.length}.png`, fullPage: false });
    } finally {
      await page.close();
    }
  }, 120_000);
});
