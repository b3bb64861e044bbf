/**
 * The example plans work out of the box: on a fresh checkout there is no DKIM key and no
 * CREDENTIALS_DIRECTORY, and every command that does not sign must still work on every plan.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const plans = readdirSync(join(root, 'plans')).filter((f) => f.endsWith('.yaml'));
const dir = mkdtempSync(join(tmpdir(), 'warmup-examples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]) {
  const io = memoryIo({}, root); // no CREDENTIALS_DIRECTORY, no key env
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe.each(plans)('plans/%s without a DKIM key or CREDENTIALS_DIRECTORY', (name) => {
  const plan = `plans/${name}`;
  const db = join(dir, `${name}.db`);

  it('validates (exit 0) and warns what warmup start will need', async () => {
    const r = await run('validate', plan);
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    if (name !== 'small.yaml' || !existsSync(join(root, 'data/keys/small-dkim.pem'))) {
      expect(r.out + r.err).toMatch(/sender\.dkim\.private_key_file: warmup start will need (environment variable CREDENTIALS_DIRECTORY|the DKIM private key at)/);
    }
  });

  it('prints the plan and the systemd unit', async () => {
    expect((await run('plan', plan)).code).toBe(0);
    const unit = await run('systemd', plan);
    expect(unit.err).not.toMatch(/error/);
    expect(unit.code).toBe(0);
    expect(unit.out).toMatch(/\[Service\]/);
  });

  it('simulates a day, then status and report read the simulated database', async () => {
    const sim = await run('simulate', plan, '--days', '1', '--db', db);
    expect(sim.code).toBe(0);
    expect((await run('status', plan, '--db', db)).code).toBe(0);
    const html = join(dir, `${name}.html`);
    expect((await run('report', plan, '--db', db, '--out', html)).code).toBe(0);
    expect(existsSync(html)).toBe(true);
  }, 90_000);

  it.skipIf(existsSync(join(root, 'data/keys/small-dkim.pem')))('start refuses without the key (exit 2) and names it', async () => {
    const r = await run('start', plan, '--db', join(dir, `${name}.start.db`));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/sender\.dkim\.private_key_file/);
  });
});
