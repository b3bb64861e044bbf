import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { writePlan } from '../daemon/harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('warmup start refuses', () => {
  it('a failed preflight without --force: exit 2, the checklist on stderr, and no database written', async () => {
    // news.warmup.test publishes no SPF or DMARC record in the test DNS.
    const { file, dir } = writePlan({ name: 'refused', ips: ['127.0.0.23'], providers: { sink: { domains: ['sink.test'], seeds: ['r@sink.test'] } } });
    const err = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', file], { cwd: root })
      .then(() => null, (e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect(err!.stderr).toMatch(/FAIL\s+spf\.record/);
    expect(err!.stderr).toContain('warmup start: refused: the preflight failed (fix the items above, or start with --force)');
    expect(existsSync(join(dir, 'warmup.db'))).toBe(false);
  }, 30_000);

  it('a broken plan: exit 2 with the error, and no database written', async () => {
    const { file, dir } = writePlan({ name: 'broken', ips: ['127.0.0.23'], ramp: '{ daily: [5, 3] }', providers: { sink: { domains: ['sink.test'], seeds: ['r@sink.test'] } } });
    const err = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', file, '--force'], { cwd: root })
      .then(() => null, (e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect(err!.stderr).toMatch(/plan\.yaml:\d+:\d+ ramps\.default\.daily\[1\]: must not decrease/);
    expect(existsSync(join(dir, 'warmup.db'))).toBe(false);
  }, 30_000);

  it('a heartbeat over 30 s: exit 2 naming the limit, and no database written (store copy reads a lease older than 60 s as a stopped daemon)', async () => {
    const { file, dir } = writePlan({ name: 'slow-beat', ips: ['127.0.0.23'], providers: { sink: { domains: ['sink.test'], seeds: ['r@sink.test'] } } });
    const run = (beat: string) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', file, '--force', '--heartbeat', beat], { cwd: root })
      .then(() => null, (e: { code: number; stderr: string }) => e);
    for (const beat of ['30001', '60000', '99']) {
      const err = await run(beat);
      expect(err).toMatchObject({ code: 2 });
      expect(err!.stderr).toContain(`warmup start: --heartbeat must be between 100 and 30000 (ms; got ${beat})`);
    }
    expect(existsSync(join(dir, 'warmup.db'))).toBe(false);
  }, 60_000);
});
