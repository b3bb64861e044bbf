import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from '../args.js';
import type { CliIo } from '../io.js';
import { ExitError } from '../../util/errors.js';
import { dkimRecordValue } from '../../dns/auth-records.js';

export const usage = `Usage: warmup keygen --out FILE [--selector NAME] [--domain DOMAIN] [--type rsa|ed25519] [--bits 2048] [--if-missing]

Creates a DKIM private key (PEM, mode 0600) and prints the TXT record to
publish at SELECTOR._domainkey.DOMAIN. --type ed25519 makes an Ed25519 key
(RFC 8463) for sender.dkim.ed25519 (dual signing beside the RSA key; --bits
does not apply). With --if-missing an existing key is kept and only its record
is printed. Refuses to overwrite a key otherwise.`;

/** The DKIM TXT record value for a private key (RSA or Ed25519), split into strings of at most 255 characters. */
export function dkimRecord(privatePem: string): string[] {
  const value = dkimRecordValue(privatePem);
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(value.slice(i, i + 255));
  return parts;
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    out: { type: 'string' }, selector: { type: 'string' }, domain: { type: 'string' },
    bits: { type: 'string' }, type: { type: 'string' }, 'if-missing': { type: 'boolean' },
  }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  if (!values.out || positionals.length) { io.err(`warmup keygen: --out FILE is required\n\n${usage}`); throw new ExitError(2); }
  const type = values.type ?? 'rsa';
  if (type !== 'rsa' && type !== 'ed25519') { io.err('warmup keygen: --type must be rsa or ed25519'); throw new ExitError(2); }
  if (type === 'ed25519' && values.bits !== undefined) { io.err('warmup keygen: --bits applies to RSA keys only'); throw new ExitError(2); }
  const bits = Number(values.bits ?? 2048);
  if (![1024, 2048, 3072, 4096].includes(bits)) { io.err('warmup keygen: --bits must be 1024, 2048, 3072 or 4096'); throw new ExitError(2); }
  const out = resolve(io.cwd, values.out);
  let pem: string;
  if (existsSync(out)) {
    if (!values['if-missing']) { io.err(`warmup keygen: ${out} exists; not overwriting a key (use --if-missing to keep it)`); throw new ExitError(2); }
    const { readFileSync } = await import('node:fs');
    pem = readFileSync(out, 'utf8');
  } else {
    const pair = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: bits });
    pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, pem, { mode: 0o600 });
    io.out(`wrote ${out}`);
  }
  const name = `${values.selector ?? 'SELECTOR'}._domainkey.${values.domain ?? 'DOMAIN'}`;
  io.out(`Publish this TXT record:\n${name}. IN TXT ( ${dkimRecord(pem).map((p) => `"${p}"`).join('\n    ')} )`);
  return 0;
}
