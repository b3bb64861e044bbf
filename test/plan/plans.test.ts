import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { diskFiles, formatIssue, loadPlanFile } from '../../src/plan/load.js';
import { testKeyPem } from './helpers.js';

const plansDir = fileURLToPath(new URL('../../plans/', import.meta.url));
const planFiles = readdirSync(plansDir).filter((f) => /\.ya?ml$/.test(f));

describe('every example plan in plans/', () => {
  it('ships the small, launch and Japanese plans', () => {
    expect(planFiles).toEqual(expect.arrayContaining(['small.yaml', 'launch.yaml', 'japan.yaml']));
  });

  // DKIM keys are never committed: give every *.pem the plans name a key made for this run.
  const files = { read: (p: string) => (p.endsWith('.pem') ? testKeyPem() : diskFiles.read(p)) };

  it.each(planFiles)('%s validates without errors or warnings', (name) => {
    const r = loadPlanFile(`${plansDir}${name}`, { env: { CREDENTIALS_DIRECTORY: '/run/credentials/warmup.service' }, files });
    const issues = [...(r.ok ? [] : r.errors), ...r.warnings].map((i) => formatIssue(name, i));
    expect(issues).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('launch.yaml gives IPs from a range and a late joiner with its own launch volume', () => {
    const r = loadPlanFile(`${plansDir}launch.yaml`, { env: { CREDENTIALS_DIRECTORY: '/x' }, files });
    expect(r.ok && r.plan.ips.map((i) => i.address)).toEqual(['203.0.113.11', '203.0.113.12', '203.0.113.50']);
    expect(r.ok && r.plan.ips.at(-1)).toMatchObject({ address: '203.0.113.50', start: '2026-12-04', launchVolume: 1500 });
  });

  it('japan.yaml covers docomo, au, SoftBank and Yahoo! JAPAN domains', () => {
    const r = loadPlanFile(`${plansDir}japan.yaml`, { env: { CREDENTIALS_DIRECTORY: '/x' }, files });
    const domains = r.ok ? r.plan.providers.flatMap((p) => p.domains) : [];
    expect(domains).toEqual(expect.arrayContaining(['docomo.ne.jp', 'au.com', 'ezweb.ne.jp', 'softbank.ne.jp', 'i.softbank.jp', 'yahoo.co.jp']));
  });
});
