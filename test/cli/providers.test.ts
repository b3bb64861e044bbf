import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The built CLI, as a user runs it (`npm run build` first).
const bundle = fileURLToPath(new URL('../../dist/bundle/main.js', import.meta.url));
const warmup = (...argv: string[]) => promisify(execFile)(process.execPath, [bundle, ...argv]).catch((e: { code: number; stdout: string; stderr: string }) => e);

describe('warmup providers', () => {
  it('lists the catalogue: one row per provider with domains, MX suffixes, profile and limits', async () => {
    const r = await warmup('providers');
    expect('code' in r && r.code).toBeFalsy();
    expect(r.stdout).toMatch(/^provider\s+domains\s+MX suffixes\s+profile/);
    expect(r.stdout).toMatch(/\ngmail\s+gmail\.com googlemail\.com\s+\.google\.com \.googlemail\.com\s+gmail\s+10\.\.500\s+60\s+5\n/);
    expect(r.stdout).toMatch(/\nau\s+ezweb\.ne\.jp au\.com biz\.ezweb\.ne\.jp\s+\.ezweb\.ne\.jp\s+au\s+8\.\.400\s+30\s+1\n/);
    expect(r.stdout).toContain('guesses: no provider publishes them');
  });

  it('shows one provider by alias, and the whole catalogue as JSON', async () => {
    const one = await warmup('providers', 'hotmail');
    expect(one.stdout).toMatch(/^outlook: Microsoft consumer/);
    expect(one.stdout).toMatch(/rules +microsoft-ip-reputation, /);
    const json = JSON.parse((await warmup('providers', '--json')).stdout) as { providers: Array<{ id: string; limits: { guess: boolean } }> };
    expect(json.providers.map((p) => p.id)).toContain('softbank');
    expect(json.providers.every((p) => p.limits.guess)).toBe(true);
  });

  it('exits 2 on an unknown provider, naming the known ones', async () => {
    const r = await warmup('providers', 'gmial');
    expect('code' in r && r.code).toBe(2);
    expect(r.stderr).toMatch(/no provider "gmial" in the catalogue \(known: gmail, yahoo/);
  });
});
