import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { fixtureDir, validText } from '../plan/helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'warmup-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the valid fixture whose store lives in the temp dir (absolute), with its seed file. */
function writePlan(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(join(dir, 'seeds.txt'), 'x@yahoo.com\ny@yahoo.com\n');
  writeFileSync(path, `${text}store: { path: ${join(dir, `${name}.db`)} }\n`);
  return path;
}

async function run(...argv: string[]) {
  const io = memoryIo({}, root);
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe('warmup validate', () => {
  it('prints a summary and exits 0 for a valid plan, writing no database', async () => {
    const plan = writePlan('ok.yaml', validText);
    const r = await run('validate', plan);
    expect(r.code).toBe(0);
    expect(r.out).toContain('valid plan "fixture"');
    expect(r.out).toMatch(/IPs +4 \(127\.0\.0\.2, 127\.0\.0\.10, 127\.0\.0\.11, 127\.0\.0\.12\)/);
    expect(r.out).toMatch(/lanes +8 \(IP x provider\)/);
    expect(r.out).toMatch(/peak day 2026-12-05: 240/);
    expect(existsSync(`${plan}.db`)).toBe(false);
  });

  it('lists every error with file:line:column and key path and exits 2', async () => {
    const plan = writePlan('bad.yaml', validText.replace('growth: 1.5', 'growth: 0.8').replace('Europe/Paris', 'Nowhere/City'));
    const r = await run('validate', plan);
    expect(r.code).toBe(2);
    expect(r.err).toContain('bad.yaml: 2 errors');
    expect(r.err).toContain('bad.yaml:2:11 timezone: unknown time zone "Nowhere/City"');
    expect(r.err).toContain('bad.yaml:16:33 ramps.default.growth: must be greater than 1 (got 0.8)');
    expect(existsSync(`${plan}.db`)).toBe(false);
  });

  it('gives the summary as JSON with --json', async () => {
    const r = await run('validate', writePlan('json.yaml', validText), '--json');
    const parsed = JSON.parse(r.out);
    expect(parsed.valid).toBe(true);
    expect(parsed.summary).toMatchObject({ lanes: 8, rampDays: 7, sendingDays: 6 });
  });

  it('says plainly that a plan file does not exist', async () => {
    const r = await run('validate', join(dir, 'absent.yaml'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('plan file not found');
  });
});

describe('warmup plan', () => {
  it('prints day by day with the launch day marked', async () => {
    const r = await run('plan', writePlan('p.yaml', validText));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/2026-12-06 sun +skip/);
    expect(r.out).toMatch(/2026-12-08 tue +LAUNCH/);
  });

  it('narrows to one lane and gives JSON', async () => {
    const r = await run('plan', writePlan('p2.yaml', validText), '--ip', '127.0.0.2', '--provider', 'gmail', '--json');
    const days = JSON.parse(r.out).days as Array<{ lanes: Array<{ volume: number }> }>;
    expect(days.map((d) => d.lanes[0]!.volume)).toEqual([5, 10, 20, 20, 20, 0, 20, 20]);
  });

  it('refuses an IP that is not in the plan with exit 2', async () => {
    const r = await run('plan', writePlan('p3.yaml', validText), '--ip', '10.9.9.9');
    expect(r.code).toBe(2);
    expect(r.err).toContain('10.9.9.9 is not one of the plan');
  });
});

describe('the warmup command', () => {
  it('answers --help for the tool and each command, and --version', async () => {
    expect((await run('--help')).out).toMatch(/Commands:[\s\S]*validate[\s\S]*plan/);
    for (const c of ['validate', 'plan', 'keygen', 'demo']) {
      const r = await run(c, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Usage: warmup ${c}`));
    }
    expect((await run('--version')).out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('exits 2 on an unknown command or option', async () => {
    expect((await run('frobnicate')).code).toBe(2);
    const r = await run('validate', '--bogus', 'x.yaml');
    expect(r.code).toBe(2);
    expect(r.err).toContain("Unknown option '--bogus'");
  });

  it('keygen writes a 0600 key, prints its DKIM record and never overwrites', async () => {
    const out = join(dir, 'keys', 'k.pem');
    const r = await run('keygen', '--out', out, '--selector', 's1', '--domain', 'example.com', '--bits', '1024');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/s1\._domainkey\.example\.com\. IN TXT \( "v=DKIM1; k=rsa; p=/);
    const { statSync } = await import('node:fs');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect((await run('keygen', '--out', out)).code).toBe(2);
    expect((await run('keygen', '--out', out, '--if-missing')).code).toBe(0);
  });

  it('keygen --type ed25519 writes an Ed25519 key and prints its RFC 8463 record (the raw 32-byte key)', async () => {
    const out = join(dir, 'keys', 'ed.pem');
    const r = await run('keygen', '--out', out, '--selector', 'e1', '--domain', 'example.com', '--type', 'ed25519');
    expect(r.code).toBe(0);
    const p = r.out.match(/e1\._domainkey\.example\.com\. IN TXT \( "v=DKIM1; k=ed25519; p=([A-Za-z0-9+/=]+)"/)![1]!;
    expect(Buffer.from(p, 'base64')).toHaveLength(32);
    const { readFileSync } = await import('node:fs');
    const { createPrivateKey } = await import('node:crypto');
    expect(createPrivateKey(readFileSync(out, 'utf8')).asymmetricKeyType).toBe('ed25519');
    expect((await run('keygen', '--out', join(dir, 'keys', 'ed2.pem'), '--type', 'ed25519', '--bits', '2048')).code).toBe(2);
    expect((await run('keygen', '--out', join(dir, 'keys', 'dsa.pem'), '--type', 'dsa')).code).toBe(2);
  });

  it('runs as a real process through its bin entry', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'validate', join(fixtureDir, 'valid.yaml')], { cwd: root });
    expect(stdout).toContain('valid plan "fixture"');
  });

  it('exits 2 from a real process for a broken plan', async () => {
    const bad = writePlan('proc.yaml', validText.replace('launch: 2026-12-08', 'launch: 2026-11-01'));
    const err = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'validate', bad]).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toContain('proc.yaml:4:9 launch: must be after start (2026-12-01), got 2026-11-01');
  });
});
