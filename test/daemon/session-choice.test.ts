import { generateKeyPairSync } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { sessionThreadPays } from '../../src/daemon/runtime.js';
import { load, writePlan } from './harness.js';

const parts = { ips: ['127.0.0.250'], ramp: '{ daily: [1] }', providers: { sink: { domains: ['sink.test'], seeds: ['s@sink.test'] } } };

describe('where the SMTP sessions run (sessionThreadPays)', () => {
  it('in the session thread on a machine with more than one core, whatever signs (RSA signing happens in the session thread too)', () => {
    const multi = availableParallelism() > 1;
    const unsigned = load(writePlan({ name: 'choice-unsigned', ...parts }).file);
    const rsa = load(writePlan({ name: 'choice-rsa', ...parts, dkim: true }).file);
    expect(sessionThreadPays(unsigned)).toBe(multi);
    expect(sessionThreadPays(rsa)).toBe(multi);
    const edPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ed = { ...rsa, sender: { ...rsa.sender, dkim: { ...rsa.sender.dkim!, privateKeyPem: edPem } } };
    expect(sessionThreadPays(ed)).toBe(multi);
  });
});
