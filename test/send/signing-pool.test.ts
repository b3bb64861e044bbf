import { generateKeyPairSync } from 'node:crypto';
import { dkimVerify } from 'mailauth';
import { afterAll, describe, expect, it } from 'vitest';
import { dkimRecordValue } from '../../src/dns/auth-records.js';
import { signBatch } from '../../src/send/dkim-job.js';
import { createSigningPool, type SigningKey } from '../../src/send/signing-pool.js';

const T0 = Date.parse('2026-12-01T08:00:00Z');
const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const edPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const keys: SigningKey[] = [{ domain: 'example.test', selector: 'r1', pem: rsaPem }, { domain: 'example.test', selector: 'e1', pem: edPem }];
const records = new Map([[`r1._domainkey.example.test`, dkimRecordValue(rsaPem)], [`r2._domainkey.example.test`, dkimRecordValue(rsaPem)], [`e1._domainkey.example.test`, dkimRecordValue(edPem)]]);
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

  it('jobs given in one turn, with mixed keys and a bad key, each get their own answer', async () => {
    const pool = createSigningPool({ size: 2 });
    pools.push(pool);
    const bad: SigningKey = { domain: 'example.test', selector: 'x', pem: 'not a key' };
    const sets: SigningKey[][] = [[keys[0]!], [bad], [keys[1]!], keys, [keys[0]!, bad], [{ ...keys[0]!, selector: 'r2' }]];
    const settled = await Promise.allSettled(Array.from({ length: 24 }, (_, i) => pool.signatures(message(i), sets[i % sets.length]!, T0)));
    expect(settled.map((r) => r.status)).toEqual(Array.from({ length: 24 }, (_, i) => ([1, 4].includes(i % 6) ? 'rejected' : 'fulfilled')));
    expect(settled.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.code === 'DKIM_SIGN')).toBe(true);
    const sig = (i: number) => (settled[i] as PromiseFulfilledResult<string>).value;
    expect(await results(Buffer.concat([Buffer.from(sig(12), 'latin1'), message(12)]))).toEqual(['r1:pass']);
    expect(await results(Buffer.concat([Buffer.from(sig(14), 'latin1'), message(14)]))).toEqual(['e1:pass']);
    expect(await results(Buffer.concat([Buffer.from(sig(21), 'latin1'), message(21)]))).toEqual(['r1:pass', 'e1:pass']);
    // The same PEM under another selector: a key of its own for the worker.
    expect(await results(Buffer.concat([Buffer.from(sig(23), 'latin1'), message(23)]))).toEqual(['r2:pass']);
  });

  it('a worker dying on a batch: each of its jobs is retried once, alone; only the poisoned one fails', async () => {
    // One worker: the jobs of this turn are one batch.
    const pool = createSigningPool({ size: 1, script: crashing });
    pools.push(pool);
    const jobs = Array.from({ length: 6 }, (_, i) => pool.signatures(message(i, i === 3 ? 'X-Crash: yes\r\n' : ''), keys, T0));
    const settled = await Promise.allSettled(jobs);
    expect(settled.map((r) => (r.status === 'fulfilled' ? 'signed' : (r.reason as { code: string }).code))).toEqual(['signed', 'signed', 'signed', 'SIGNER_CRASHED', 'signed', 'signed']);
    const sig = (settled[5] as PromiseFulfilledResult<string>).value;
    expect(await results(Buffer.concat([Buffer.from(sig, 'latin1'), message(5)]))).toEqual(['r1:pass', 'e1:pass']);
  });

  it('rejects jobs after close', async () => {
    const pool = createSigningPool({ size: 1 });
    await pool.signatures(message(1), keys, T0);
    await pool.close();
    await expect(pool.signatures(message(2), keys, T0)).rejects.toMatchObject({ code: 'SIGNER_CLOSED' });
  });
});

describe('a signing worker batch (dkim-job.ts)', () => {
  it('parses a key from the first batch that defines it and signs later jobs that only name it; 8-bit bytes survive', async () => {
    const raw = Buffer.from('From: news@example.test\r\nTo: seed@seeds.test\r\nSubject: caf\xc3\xa9\r\n\r\nbytes \xff\r\n', 'latin1');
    const first = signBatch({ id: 1, defs: [{ key: 901, domain: 'example.test', selector: 'r1', pem: rsaPem }], jobs: [{ message: raw.toString('latin1'), keys: [901], now: T0 }] });
    const later = signBatch({ id: 2, defs: [], jobs: [{ message: raw.toString('latin1'), keys: [901], now: T0 }] });
    expect(first.id).toBe(1);
    expect(later.results).toHaveLength(1);
    const sig = later.results[0]!;
    if (typeof sig !== 'string') throw new Error(sig.message);
    expect(await results(Buffer.concat([Buffer.from(sig, 'latin1'), raw]))).toEqual(['r1:pass']);
    expect(signBatch({ id: 3, defs: [], jobs: [{ message: 'x', keys: [902], now: T0 }] }).results).toEqual([{ code: 'EDKIM', message: 'DKIM key 902 was never sent to this worker' }]);
  });

  it('answers each job of a batch with mixed keys and failures on its own, in order', async () => {
    const defs = [
      { key: 911, domain: 'example.test', selector: 'r1', pem: rsaPem },
      { key: 912, domain: 'example.test', selector: 'e1', pem: edPem },
      { key: 913, domain: 'example.test', selector: 'x', pem: 'not a key' },
    ];
    const jobs = [[911], [913], [912], [911, 912], [911, 913], [914]].map((keys, i) => ({ message: message(i).toString('latin1'), keys, now: T0 }));
    const reply = signBatch({ id: 7, defs, jobs });
    expect(reply.id).toBe(7);
    expect(reply.results.map((r) => (typeof r === 'string' ? 'ok' : 'failed'))).toEqual(['ok', 'failed', 'ok', 'ok', 'failed', 'failed']);
    expect(reply.results[5]).toEqual({ code: 'EDKIM', message: 'DKIM key 914 was never sent to this worker' });
    const verified = await Promise.all([0, 2, 3].map((i) => results(Buffer.concat([Buffer.from(reply.results[i] as string, 'latin1'), message(i)]))));
    expect(verified).toEqual([['r1:pass'], ['e1:pass'], ['r1:pass', 'e1:pass']]);
  });
});
