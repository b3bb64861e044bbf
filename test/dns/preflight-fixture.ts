/**
 * Test zones for the preflight: one set of sender domains per test file
 * (`<prefix>-good.test` etc.), published in the loopback dnsmasq through
 * addDnsRecords, and plan texts that use them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimRecordValue } from '../../src/dns/auth-records.js';
import { addDnsRecords, dnsServer, restartDnsmasq } from '../peers/peers.js';

export interface PreflightZones {
  readonly good: string;
  readonly bad: string;
  readonly weak: string;
  readonly many: string;
  readonly dir: string;
  /** The key the plans sign with, and the different key published for the bad domain. */
  readonly pem: string;
  readonly otherPem: string;
}

const newKey = () => generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

function txt(name: string, value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return `txt-record=${name},${parts.join(',')}`;
}

/** Publishes the zones (restarting dnsmasq) and writes the plans' key file. `ptr48`: give 127.0.0.48 a PTR that does not resolve back. */
export async function publishPreflightZones(prefix: string, opts: { ptr48?: boolean } = {}): Promise<PreflightZones> {
  const good = `${prefix}-good.test`;
  const bad = `${prefix}-bad.test`;
  const weak = `${prefix}-weak.test`;
  const many = `${prefix}-many.test`;
  const pem = newKey();
  const otherPem = newKey();
  const lines = [
    // 127.0.0.17 by ip4, .18 through include -> a, .19 through include -> redirect.
    txt(good, 'v=spf1 ip4:127.0.0.17 include:_spf.' + good + ' -all'),
    txt(`_spf.${good}`, `v=spf1 a:out.${good} redirect=_spf2.${good}`),
    `address=/out.${good}/127.0.0.18`,
    txt(`_spf2.${good}`, 'v=spf1 ip4:127.0.0.19 -all'),
    txt(`em.${good}`, `v=spf1 redirect=${good}`),
    txt(`sel._domainkey.${good}`, dkimRecordValue(pem)),
    txt(`_dmarc.${good}`, `v=DMARC1; p=quarantine; rua=mailto:dmarc@${good}`),
    txt(bad, 'v=spf1 ip4:127.0.0.17 ~all'),
    txt(`sel._domainkey.${bad}`, dkimRecordValue(otherPem)),
    txt(`sel._domainkey.${weak}`, dkimRecordValue(pem)),
    txt(`_dmarc.${weak}`, 'v=DMARC1; p=none'),
    // Eleven nested includes: over the RFC 7208 limit of 10 lookups.
    txt(many, `v=spf1 include:l1.${many} -all`),
    ...Array.from({ length: 11 }, (_, i) => txt(`l${i + 1}.${many}`, i === 10 ? 'v=spf1 ip4:127.0.0.17 -all' : `v=spf1 include:l${i + 2}.${many} -all`)),
    ...(opts.ptr48 ? [`ptr-record=48.0.0.127.in-addr.arpa,nowhere.${bad}`] : []),
  ];
  await addDnsRecords(`preflight-${prefix}`, lines.join('\n'));
  await restartDnsmasq();
  const dir = mkdtempSync(join(tmpdir(), `warmup-${prefix}-`));
  writeFileSync(join(dir, 'dkim.pem'), pem, { mode: 0o600 });
  return { good, bad, weak, many, dir, pem, otherPem };
}

/** A plan text for the fixture's domains. */
export function preflightPlan(z: PreflightZones, o: {
  name: string; from: string; envelope: string; dkimDomain?: string; ips: Array<[string, string]>;
  domains?: string[]; extra?: string;
}): string {
  return `name: ${o.name}
timezone: UTC
start: 2026-12-01
launch: 2026-12-10
sender:
  from: { address: ${o.from} }
  envelope_from: ${o.envelope}
${o.dkimDomain ? `  dkim: { domain: ${o.dkimDomain}, selector: sel, private_key_file: ${join(z.dir, 'dkim.pem')} }\n` : ''}  unsubscribe: { url: "https://example.test/u" }
ips:
${o.ips.map(([ip, ehlo]) => `  - { address: ${ip}, ehlo: ${ehlo} }`).join('\n')}
providers:
  postfix: { domains: [${(o.domains ?? ['postfix.test']).join(', ')}], seeds: [a@postfix.test] }
dnsbl:
  zones: [zen.dnsbl.test]
  queries_per_second: 500
delivery:
  dns_servers: ["${dnsServer}"]
${o.extra ?? ''}store: { path: ${join(z.dir, `${o.name}.db`)} }
`;
}
