import { generateKeyPairSync } from 'node:crypto';
import { dkimVerify } from 'mailauth';
import { afterAll, describe, expect, it } from 'vitest';
import { dkimRecordValue } from '../../src/dns/auth-records.js';
import { signJob } from '../../src/send/dkim-job.js';
import { createSigningPool, type SigningKey } from '../../src/send/signing-pool.js';

const T0 = Date.parse('2026-12-01T08:00:00Z');
const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const edPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const keys: SigningKey[] = [{ domain: 'example.test', selector: 'r1', pem: rsaPem }, { domain: 'example.test', selector: 'e1', pem: edPem }];
const records = new Map([[`r1._domainkey.example.test`, dkimRecordValue(rsaPem)], [`e1._domainkey.example.test`, dkimRecordValue(edPem)]]);
const crashing = new URL('./fixtures/crashing-dkim-worker.ts', import.meta.url);

function message(i: number, extra = ''): Buffer {
  return Buffer.from(`From: news@example.test\r\nTo: seed${i}@seeds.test\r\nSubject: message ${i}\r\n${extra}\r\nBody of message ${i}\r\n`);
}

async function results(raw: Buffer): Promise<string[]> {
  const res = await dkimVerify(raw, {
    curTime: new Date(T0 + 60_000),
    resolver: async (name: string) => [[records.get(name)!]],
  });
  return res.results.map((r) => `${r.selector}:${r.status.result}`);
}

const pools: { close(): Promise<void> }[] = [];
afterAll(async () => { await Promise.all(pools.map((p) => p.close())); });

describe('the signing pool', () => {
  it('signs many messages at once on its workers, each with its own verifying signatures', async () => {
    const pool = createSigningPool({ size: 2 });
    pools.push(pool);
    const msgs = Array.from({ length: 60 }, (_, i) => message(i));
    const sigs = await Promise.all(msgs.map((m) => pool.signatures(m, keys, T0)));
    for (const i of [0, 17, 59]) {
      expect(await results(Buffer.concat([Buffer.from(sigs[i]!, 'latin1'), msgs[i]!]))).toEqual(['r1:pass', 'e1:pass']);
    }
    // A signature belongs to its message: a swapped one fails.
    expect(await results(Buffer.concat([Buffer.from(sigs[1]!, 'latin1'), msgs[2]!]))).not.toContain('r1:pass');
  });

  it('rejects with a code when a key is unusable, and keeps signing', async () => {
    const pool = createSigningPool({ size: 1 });
    pools.push(pool);
    await expect(pool.signatures(message(1), [{ domain: 'example.test', selector: 'x', pem: 'not a key' }], T0)).rejects.toMatchObject({ code: 'DKIM_SIGN' });
    expect(await pool.signatures(message(2), keys, T0)).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256/);
  });

  it('survives a worker crash: the other jobs finish, the poisoned one fails with SIGNER_CRASHED, new jobs are signed', async () => {
    const pool = createSigningPool({ size: 2, script: crashing });
    pools.push(pool);
    const good = Array.from({ length: 20 }, (_, i) => pool.signatures(message(i), keys, T0));
    const poisoned = pool.signatures(message(99, 'X-Crash: yes\r\n'), keys, T0);
    const more = Array.from({ length: 20 }, (_, i) => pool.signatures(message(100 + i), keys, T0));
    await expect(poisoned).rejects.toMatchObject({ code: 'SIGNER_CRASHED' });
    const sigs = await Promise.all([...good, ...more]);
    expect(sigs.every((s) => s.startsWith('DKIM-Signature:'))).toBe(true);
    expect(await results(Buffer.concat([Buffer.from(sigs[25]!, 'latin1'), message(105)]))).toEqual(['r1:pass', 'e1:pass']);
    expect(await pool.signatures(message(200), keys, T0)).toMatch(/^DKIM-Signature:/);
  });

  it('rejects jobs after close', async () => {
    const pool = createSigningPool({ size: 1 });
    await pool.signatures(message(1), keys, T0);
    await pool.close();
    await expect(pool.signatures(message(2), keys, T0)).rejects.toMatchObject({ code: 'SIGNER_CLOSED' });
  });
});

describe('a signing worker job (dkim-job.ts)', () => {
  it('parses a key from the first job that carries its PEM and signs later jobs that only name it; 8-bit bytes survive', async () => {
    const raw = Buffer.from('From: news@example.test\r\nTo: seed@seeds.test\r\nSubject: caf\xc3\xa9\r\n\r\nbytes \xff\r\n', 'latin1');
    const first = signJob({ id: 1, message: raw.toString('latin1'), keys: [{ domain: 'example.test', selector: 'r1', key: 901, pem: rsaPem }], now: T0 });
    const later = signJob({ id: 2, message: raw.toString('latin1'), keys: [{ domain: 'example.test', selector: 'r1', key: 901 }], now: T0 });
    expect(first.ok && later.ok).toBe(true);
    if (!later.ok) return;
    expect(await results(Buffer.concat([Buffer.from(later.signatures, 'latin1'), raw]))).toEqual(['r1:pass']);
    expect(signJob({ id: 3, message: 'x', keys: [{ domain: 'example.test', selector: 'r1', key: 902 }], now: T0 })).toMatchObject({ ok: false, code: 'EDKIM' });
  });
});
