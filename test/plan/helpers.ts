import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const fixtureDir = fileURLToPath(new URL('../fixtures/plans/', import.meta.url));
export const validText = readFileSync(`${fixtureDir}valid.yaml`, 'utf8');

let pem: string | null = null;
/** A DKIM key generated for this test run (never a committed key). */
export function testKeyPem(): string {
  pem ??= generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return pem;
}

/** Replaces one exact snippet of the valid fixture, failing loudly if it is not there. */
export function mutate(from: string, to: string): string {
  if (!validText.includes(from)) throw new Error(`fixture has no "${from}"`);
  return validText.replace(from, to);
}
