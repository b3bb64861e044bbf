import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { niceTicks } from '../../src/report/charts.js';
import { loadReportData, renderReport, type ReportData } from '../../src/report/index.js';
import type { OpenedSqlite } from '../../src/store/open.js';
import { NOW, PLAN_TEXT, buildFixture, fixturePlan } from '../ops/fixture.js';
import { ensureTool } from '../ops/tools.js';

const plan = fixturePlan();
const dir = mkdtempSync(join(tmpdir(), 'warmup-report-'));
let store: OpenedSqlite;
let dbPath: string;
let data: ReportData;
let html: string;

beforeAll(async () => {
  ({ store, path: dbPath } = await buildFixture(plan));
  data = await loadReportData(store.store, plan, NOW, NOW);
  html = renderReport(data);
}, 60_000);
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('loadReportData', () => {
  it('reads the lane-days, events, DNSBL days and a forecast as of now', () => {
    expect(data.today).toBe('2026-12-05');
    expect(data.laneDays).toHaveLength(20);
    expect(data.planned.at(-1)).toMatchObject({ day: '2026-12-12', launch: true });
    expect(data.dnsbl.filter((r) => r.status === 'listed')).toEqual([
      { day: '2026-12-03', ip: '127.0.0.64', zone: 'zen.dnsbl.test', status: 'listed' },
      { day: '2026-12-04', ip: '127.0.0.64', zone: 'zen.dnsbl.test', status: 'listed' },
    ]);
    expect(data.events.map((e) => e.kind)).toEqual(['hold', 'suspended', 'back_off', 'paused']);
    expect(data.events[1]).toMatchObject({ day: '2026-12-04', actor: 'rule:yahoo-ta21', reason: 'deferral storm' });
    expect(data.forecast.lanes.find((l) => l.ip === '127.0.0.63' && l.provider === 'gmail')?.verdict).toBe('paused');
    expect(data.forecast.lanes.find((l) => l.ip === '127.0.0.64' && l.provider === 'gmail')?.verdict).toBe('ready');
  });

  it('reads a database no daemon of a fleet ever wrote to as a single host', () => {
    expect(data.fleet).toMatchObject({ single: true, hosts: [], events: [] });
    expect(html).toContain('data-fleet="single">Single host: no fleet data');
  });
});

describe('renderReport', () => {
  it('escapes names from the plan and the database', () => {
    const page = renderReport({ ...data, plan: { ...data.plan, name: '<script>alert(1)</script>' } });
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('says so when nothing was recorded yet, and leaves placement out', () => {
    const page = renderReport({ ...data, laneDays: [], events: [], dnsbl: [] });
    expect(page).toContain('No DNSBL checks recorded yet.');
    expect(page).toContain('No events yet.');
    expect(page).not.toContain('data-chart="placement"');
  });

  it('forbids every fetch in its Content-Security-Policy', () => {
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    expect(html).not.toMatch(/<(script|link|img|iframe)\b/);
  });

  it.each([
    [0, [0, 1]], [4, [0, 1, 2, 3, 4]], [10, [0, 2.5, 5, 7.5, 10]], [37, [0, 10, 20, 30, 40]], [0.33, [0, 0.1, 0.2, 0.3, 0.4]], [1234, [0, 500, 1000, 1500]],
  ] as const)('puts y ticks for a maximum of %s at %j', (max, ticks) => {
    expect(niceTicks(max)).toEqual(ticks);
  });
});

describe('warmup report in headless Chromium', () => {
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  const requests: string[] = [];
  let file: string;

  beforeAll(async () => {
    await ensureTool('chromium', 'chromium');
    file = join(dir, 'report.html');
    const planFile = join(dir, 'plan.yaml');
    (await import('node:fs')).writeFileSync(planFile, PLAN_TEXT);
    const io = memoryIo({}, dir);
    expect(await main(['report', planFile, '--out', file, '--db', dbPath, '--at', new Date(NOW).toISOString()], io), io.stderr).toBe(0);
    expect(io.stdout).toContain(`wrote ${file}`);
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'warmup-chromium-')), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1100, height: 900 },
    });
    page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`failed request: ${r.url()}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  }, 600_000);
  afterAll(async () => { await context?.close(); });

  it('is the same page renderReport makes, and loads without errors or any other request', () => {
    expect(readFileSync(file, 'utf8')).toBe(html);
    expect(problems).toEqual([]);
    expect(requests).toEqual([pathToFileURL(file).href]);
  });

  it('draws a target-against-accepted chart per provider and per IP, with data', async () => {
    const ids = await page.$$eval('svg.chart', (els) => els.map((e) => e.getAttribute('data-chart')));
    expect(ids).toEqual(['volume-provider-gmail', 'stages-gmail', 'volume-provider-yahoo', 'stages-yahoo', 'deferrals', 'bounces', 'volume-ip-127.0.0.63', 'volume-ip-127.0.0.64', 'dnsbl', 'placement']);
    for (const id of ids.filter((i) => i!.startsWith('volume-'))) {
      const sel = `svg[data-chart="${id}"]`;
      // Five days of accepted bars, a target line over those days and a planned line over all twelve.
      expect(await page.$$eval(`${sel} [data-series="accepted"] rect`, (r) => r.length), id).toBe(5);
      expect(await page.$$eval(`${sel} [data-series="target"] circle`, (r) => r.length), id).toBe(5);
      expect(await page.$$eval(`${sel} [data-series="planned"] circle`, (r) => r.length), id).toBe(12);
      const box = await page.$eval(`${sel} [data-series="accepted"]`, (g) => ({ height: (g as unknown as { getBBox(): { height: number } }).getBBox().height }));
      expect(box.height, id).toBeGreaterThan(20);
    }
  });

  it('labels the axes with days and figures', async () => {
    const x = await page.$$eval('svg[data-chart="volume-provider-gmail"] .x-tick', (t) => t.map((e) => e.textContent));
    expect(x).toEqual(['12-01', '12-02', '12-03', '12-04', '12-05', '12-06', '12-07', '12-08', '12-09', '12-10', '12-11', '12-12']);
    expect(await page.$eval('svg[data-chart="volume-provider-gmail"] .axis-label', (e) => e.textContent)).toBe('messages');
    const y = await page.$$eval('svg[data-chart="deferrals"] .y-tick', (t) => t.map((e) => e.textContent));
    expect(y[0]).toBe('0%');
    expect(await page.$eval('svg[data-chart="volume-ip-127.0.0.63"] .launch-label', (e) => e.textContent)).toBe('launch');
  });

  it('draws the rates per provider, stage steps per provider with their event markers, DNSBL cells and placement stacks', async () => {
    for (const chart of ['deferrals', 'bounces']) {
      const lines = await page.$$eval(`svg[data-chart="${chart}"] .series`, (g) => g.map((e) => [e.getAttribute('data-series'), (e.querySelector('path')?.getAttribute('d') ?? '').match(/[ML]/g)?.length]));
      expect(lines).toEqual([['gmail', 5], ['yahoo', 5]]);
    }
    expect(await page.$$eval('svg[data-chart="stages-gmail"] .series path', (p) => p.length)).toBe(2);
    expect(await page.$$eval('svg[data-chart="stages-yahoo"] .marker', (p) => p.map((e) => e.querySelector('title')?.textContent ?? ''))).toEqual([
      expect.stringContaining('hold 127.0.0.64/yahoo by policy'),
      expect.stringContaining('suspended 127.0.0.64/yahoo by rule:yahoo-ta21: deferral storm'),
      expect.stringContaining('back_off 127.0.0.64/yahoo by policy'),
    ]);
    expect(await page.$$eval('svg[data-chart="stages-gmail"] .marker', (p) => p.map((e) => e.querySelector('title')?.textContent ?? ''))).toEqual([
      expect.stringContaining('paused 127.0.0.63/gmail by operator: operator check'),
    ]);
    expect(await page.$$eval('svg[data-chart="dnsbl"] rect.listed', (r) => r.length)).toBe(2);
    expect(await page.$$eval('svg[data-chart="dnsbl"] rect.clear', (r) => r.length)).toBe(18);
    expect(await page.$$eval('svg[data-chart="placement"] [data-series="spam"] rect', (r) => r.length)).toBe(3);
  });

  it('shows the launch readiness table for every lane', async () => {
    const rows = await page.$$eval('table[data-table="readiness"] tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows).toHaveLength(4);
    expect(rows.find((r) => r[0] === '127.0.0.63' && r[1] === 'gmail')?.[8]).toBe('paused');
    expect(rows.find((r) => r[0] === '127.0.0.64' && r[1] === 'gmail')?.[8]).toBe('ready');
  });

  it('renders legibly (screenshot for a human look)', async () => {
    const png = await page.screenshot({ path: '/tmp/warmup-report.png', fullPage: true });
    expect(png.length).toBeGreaterThan(50_000);
  });
});
