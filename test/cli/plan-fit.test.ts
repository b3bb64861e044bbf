import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// The built CLI, as a user runs it (`npm run build` first).
const bundle = fileURLToPath(new URL('../../dist/bundle/main.js', import.meta.url));
const warmup = (...argv: string[]) => promisify(execFile)(process.execPath, [bundle, ...argv]).catch((e: { code: number; stdout: string; stderr: string }) => e);
const dir = mkdtempSync(join(tmpdir(), 'warmup-cli-fit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const seeds = (domain: string) => `[${Array.from({ length: 20 }, (_, i) => `s${i}@${domain}`).join(', ')}]`;
function planFile(name: string, volume: number): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, `name: ${name}
timezone: Asia/Tokyo
start: 2026-12-01
launch: 2026-12-15
sender:
  from: { address: hello@news.example.com }
  unsubscribe: { url: "https://news.example.com/u" }
ips:
  - range: 127.0.0.2-127.0.0.5
    ehlo: "mta{octet}.example.com"
launch_volume: ${volume}
share: { gmail: 0.5, docomo: 0.5 }
providers:
  gmail: { seeds: ${seeds('gmail.com')} }
  docomo: { seeds: ${seeds('docomo.ne.jp')} }
store: { path: ${join(dir, `${name}.db`)} }
`);
  return path;
}

describe('warmup plan --fit', () => {
  it('prints each lane (identical IPs on one row), the verdict and what to change', async () => {
    const r = await warmup('plan', planFile('busy', 8000), '--fit');
    expect('code' in r && r.code).toBeFalsy();
    expect(r.stdout).toMatch(/^Fit of plan "busy" for launch 2026-12-15 \(12-hour window, provider limits of the default model\): NOT READY, 0 of 8 lanes ready/);
    expect(r.stdout).toMatch(/\n127\.0\.0\.2 \+3\s+gmail\s+4,000\s+[\d,]+\s+\d+\s+-\s+20\/\d+\s+NOT READY\s+on 2026-12-\d\d it needs \d+\/h, more than 80% of the \d+\/h gmail is modelled to take from this IP then/);
    expect(r.stdout).toMatch(/\n127\.0\.0\.2 \+3\s+docomo\s+4,000 /);
    expect(r.stdout).toMatch(/\nearliest start: (\d{4}-\d\d-\d\d \(start on or before it; the plan starts 2026-12-01: \d+ days too late\)|none within 180 days)/);
    expect(r.stdout).toMatch(/To make it ready:\n  - /);
  });

  it('prints ready, earliest_start and one object per lane with --json', async () => {
    const r = await warmup('plan', planFile('calm', 300), '--fit', '--json');
    const j = JSON.parse(r.stdout) as { ready: boolean; earliest_start: string; lanes: Array<Record<string, unknown>> };
    expect(j.ready).toBe(true);
    expect(j.earliest_start >= '2026-12-01').toBe(true);
    expect(j.lanes).toHaveLength(8);
    expect(j.lanes[0]).toMatchObject({ ip: '127.0.0.2', provider: 'gmail', ready: true, launch_target: 150, reachable: 150, slack_days: 3 });
    const busy = JSON.parse((await warmup('plan', planFile('busy2', 8000), '--fit', '--json')).stdout) as { ready: boolean; lanes: Array<{ ready: boolean }> };
    expect(busy.ready).toBe(false);
    expect(busy.lanes.some((l) => !l.ready)).toBe(true);
  });

  it('plans with the limits of a model file given with --model, as simulate does', async () => {
    const model = join(dir, 'model-roomy.yaml');
    writeFileSync(model, 'default:\n  hourly_limit: { start: 5000, max: 5000 }\n  mailbox_per_hour: 5000\n');
    const r = await warmup('plan', planFile('roomy', 8000), '--fit', '--model', model);
    expect(r.stdout).toMatch(/^Fit of plan "roomy" for launch 2026-12-15 \(12-hour window, provider limits of .*model-roomy\.yaml\): READY, 8 of 8 lanes ready/);
    const bad = await warmup('plan', planFile('roomy2', 8000), '--model', model);
    expect('code' in bad && bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--model goes with --fit/);
  });

  it('refuses --fit with --adapted (exit 2)', async () => {
    const r = await warmup('plan', planFile('x', 600), '--fit', '--adapted');
    expect('code' in r && r.code).toBe(2);
    expect(r.stderr).toMatch(/--fit plans before day 1/);
  });
});
