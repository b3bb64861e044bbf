import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { openSqlite } from '../../src/store/open.js';
import { listIp, removeDnsRecords, restartDnsmasq, unlistIp } from '../peers/peers.js';
import { preflightPlan, publishPreflightZones, type PreflightZones } from '../dns/preflight-fixture.js';

// This file's addresses: checked IPs 127.0.0.17-19 and 127.0.0.47 (PTR-less), 127.0.0.42 listed.
let z: PreflightZones;
beforeAll(async () => {
  z = await publishPreflightZones('clipf');
  await listIp('zen.dnsbl.test', '127.0.0.42', { answer: { a: '127.0.0.3', txt: 'CSS listing for $' } });
}, 30_000);
afterAll(async () => {
  await unlistIp('zen.dnsbl.test', '127.0.0.42');
  await removeDnsRecords('preflight-clipf');
  await restartDnsmasq();
});

function write(name: string, text: string): string {
  const file = join(z.dir, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}
async function run(...argv: string[]) {
  const io = memoryIo({}, z.dir);
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe('warmup check', () => {
  it('exits 0 and prints a checklist when everything passes', async () => {
    const file = write('good', preflightPlan(z, { name: 'good', from: `hello@${z.good}`, envelope: `bounces@${z.good}`, dkimDomain: z.good, ips: [['127.0.0.17', 'mta17.warmup.test'], ['127.0.0.19', 'mta19.warmup.test']] }));
    const r = await run('check', file);
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ok {4}ip\.fcrdns 127\.0\.0\.17 +mta17\.warmup\.test resolves back to 127\.0\.0\.17$/m);
    expect(r.out).toMatch(/^ok {4}spf\.ip 127\.0\.0\.19 +SPF pass/m);
    expect(r.out).toMatch(/\d+ passed, 0 warnings, 0 failed$/m);
  });

  it('exits 1 with warnings only, and 2 with a failure, printing each fix', async () => {
    const weak = write('weak', preflightPlan(z, { name: 'weak', from: `hello@${z.weak}`, envelope: `bounces@${z.good}`, dkimDomain: z.weak, ips: [['127.0.0.17', 'mta17.warmup.test']] }));
    const w = await run('check', weak);
    expect(w.code).toBe(1);
    expect(w.out).toMatch(/^WARN  dmarc\.alignment clipf-weak\.test/m);

    const bad = write('bad', preflightPlan(z, { name: 'bad', from: `hello@${z.bad}`, envelope: `bounces@${z.bad}`, ips: [['127.0.0.47', `mta47.${z.bad}`]] }));
    const b = await run('check', bad, '--json');
    expect(b.code).toBe(2);
    const json = JSON.parse(b.out) as { worst: string; items: Array<{ id: string; subject: string; status: string; fix?: string }> };
    expect(json.worst).toBe('fail');
    expect(json.items.find((i) => i.id === 'spf.ip')).toMatchObject({ status: 'fail', fix: `publish ${z.bad}. IN TXT "v=spf1 ip4:127.0.0.17 ip4:127.0.0.47 ~all"` });
    const text = await run('check', bad);
    expect(text.out).toMatch(/^FAIL  ip\.ptr 127\.0\.0\.47 +no PTR record\n +fix: ask the owner/m);
  });

  it('exits 2 on a bad plan', async () => {
    expect((await run('check', write('broken', 'name: x\n'))).code).toBe(2);
  });
});

describe('warmup dnsbl', () => {
  const planText = (name: string) => preflightPlan(z, { name, from: `hello@${z.good}`, envelope: `bounces@${z.good}`, ips: [['127.0.0.18', 'mta18.warmup.test'], ['127.0.0.42', 'mta42.warmup.test']] });

  it('prints every IP x zone, exits 1 on a listing, and writes nothing without --record', async () => {
    const file = write('bl', planText('bl'));
    const r = await run('dnsbl', file);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/zen\.dnsbl\.test: ok \(test entry listed, 127\.0\.0\.1 not\)/);
    expect(r.out).toMatch(/^127\.0\.0\.42 +zen\.dnsbl\.test +listed +127\.0\.0\.3 +CSS .* - CSS listing for 127\.0\.0\.42$/m);
    expect(r.out).toMatch(/^127\.0\.0\.18 +zen\.dnsbl\.test +clear/m);
    expect(r.out).toMatch(/1 IP listed: 127\.0\.0\.42/);
    expect(existsSync(join(z.dir, 'bl.db'))).toBe(false);
  });

  it('records the answers with --record and reports JSON', async () => {
    const file = write('blrec', planText('blrec'));
    const r = await run('dnsbl', file, '--record', '--json');
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out) as { listed: string[]; recorded: boolean };
    expect(json).toMatchObject({ listed: ['127.0.0.42'], recorded: true });
    const store = await openSqlite(join(z.dir, 'blrec.db'), { readonly: true });
    try {
      const rows = await store.db.selectFrom('dnsbl_results').select(['ip', 'status', 'answer']).orderBy('ip').execute();
      expect(rows).toEqual([{ ip: '127.0.0.18', status: 'clear', answer: null }, { ip: '127.0.0.42', status: 'listed', answer: '127.0.0.3' }]);
    } finally {
      await store.close();
    }
  });

  it('exits 3 when nothing is listed but a zone is broken', async () => {
    const file = write('blbroken', planText('blbroken').replace('zones: [zen.dnsbl.test]', 'zones: [broken.dnsbl.test]'));
    const r = await run('dnsbl', file);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/broken\.dnsbl\.test: BROKEN - test entry 127\.0\.0\.2 is not listed/);
  });
});
