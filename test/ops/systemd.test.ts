import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { planSecrets, renderUnit, type UnitOptions } from '../../src/ops/systemd.js';
import { planSchema } from '../../src/plan/schema.js';
import { mutate, testKeyPem } from '../plan/helpers.js';
import { ensureTool } from './tools.js';

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'warmup-systemd-'));
const creds = join(dir, 'credentials');
const bin = join(dir, 'bin', 'warmup');

beforeAll(async () => {
  await ensureTool('systemd-analyze', 'systemd');
  mkdirSync(creds, { mode: 0o700 });
  mkdirSync(join(dir, 'bin'));
  // verify checks that ExecStart's program exists and is executable.
  writeFileSync(bin, '#!/bin/sh\nexit 0\n');
  chmodSync(bin, 0o755);
  writeFileSync(join(creds, 'dkim.pem'), testKeyPem());
  writeFileSync(join(creds, 'imap-gmail'), 'seedpass\n');
  writeFileSync(join(creds, 'WARMUP_WEBHOOK_SECRET'), 's3cret\n');
  writeFileSync(join(dir, 'seeds.txt'), 'x@yahoo.com\n');
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The valid fixture with a DKIM key, IMAP password file and webhook secret, all through credentials. */
const securedPlan = mutate('  unsubscribe:', `  dkim: { domain: news.example.com, selector: s1, private_key_file: "\${CREDENTIALS_DIRECTORY}/dkim.pem" }
  unsubscribe:`).replace('    ramp: flat\n', `    ramp: flat
    imap: { host: 127.0.0.62, port: 143, tls: false, password_file: "\${CREDENTIALS_DIRECTORY}/imap-gmail" }
`) + `alerts: { webhook: { url: "https://hooks.example.com/warmup", secret_env: WARMUP_WEBHOOK_SECRET } }
store: { path: /var/lib/warmup/warmup.db }
`;

async function generate(...extra: string[]) {
  return generateFor(securedPlan, ...extra);
}

async function generateFor(planText: string, ...extra: string[]) {
  const planFile = join(dir, 'plan.yaml');
  writeFileSync(planFile, planText);
  const io = memoryIo({}, dir);
  const code = await main(['systemd', planFile, '--credentials-dir', creds, '--bin', bin, ...extra], io);
  return { code, unit: io.stdout, err: io.stderr };
}

/** Writes the unit under its real name (verify derives the unit type from it) and runs systemd-analyze. */
async function analyze(unit: string, name: string) {
  const unitDir = join(dir, name);
  mkdirSync(unitDir, { recursive: true });
  const file = join(unitDir, 'warmup.service');
  writeFileSync(file, unit);
  // Not PID 1 here: --man=no skips the man page lookups of Documentation=,
  // and the log level keeps the manager's own container chatter out of stderr.
  const env = { ...process.env, SYSTEMD_LOG_LEVEL: 'notice', SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' };
  const verify = await exec('systemd-analyze', ['verify', '--man=no', file], { env }).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  const security = await exec('systemd-analyze', ['security', '--offline=yes', '--no-pager', file], { env }).then(
    (r) => r.stdout,
    (e: { stdout: string }) => e.stdout,
  );
  const m = /Overall exposure level for warmup\.service: (\d+\.\d+)/.exec(security);
  return { verify, exposure: m ? Number(m[1]) : null, security };
}

describe('warmup systemd', () => {
  it('prints a unit that systemd-analyze verifies and rates 2.0 or lower (DynamicUser)', async () => {
    const { code, unit, err } = await generate();
    expect(code, err).toBe(0);
    expect(err).not.toMatch(/^warning:/m); // only the fixture's own plan warnings
    const r = await analyze(unit, 'dynamic');
    expect(r.verify).toEqual({ code: 0, stderr: '' });
    expect(r.exposure, r.security).not.toBeNull();
    expect(r.exposure!).toBeLessThanOrEqual(2.0);
    expect(unit).toContain('DynamicUser=yes\n');
  });

  it('prints a unit for a named user that also verifies and rates 2.0 or lower', async () => {
    const { code, unit } = await generate('--user', 'warmup', '--plan-path', '/etc/warmup/acme.yaml');
    expect(code).toBe(0);
    expect(unit).toMatch(/^User=warmup$/m);
    expect(unit).not.toContain('DynamicUser');
    expect(unit).toContain(' start /etc/warmup/acme.yaml --db /var/lib/warmup/warmup.db');
    const r = await analyze(unit, 'user');
    expect(r.verify).toEqual({ code: 0, stderr: '' });
    expect(r.exposure!).toBeLessThanOrEqual(2.0);
  });

  it('loads each secret the plan names as a credential and exports the environment ones', async () => {
    const { unit } = await generate();
    expect(unit).toContain(`LoadCredential=dkim.pem:${creds}/dkim.pem\n`);
    expect(unit).toContain(`LoadCredential=imap-gmail:${creds}/imap-gmail\n`);
    expect(unit).toContain(`LoadCredential=WARMUP_WEBHOOK_SECRET:${creds}/WARMUP_WEBHOOK_SECRET\n`);
    expect(unit).toContain(`ExecStart=/bin/sh -c 'WARMUP_WEBHOOK_SECRET="$$(cat "$$CREDENTIALS_DIRECTORY/WARMUP_WEBHOOK_SECRET")" && export WARMUP_WEBHOOK_SECRET && exec ${bin} start /etc/warmup/plan.yaml --db /var/lib/warmup/warmup.db'\n`);
  });

  it('the shell wrapper hands the credential to the daemon as a variable', async () => {
    // Run the ExecStart line as systemd would (after its $$ -> $ unescaping) with a fake daemon.
    const { unit } = await generate();
    const line = /^ExecStart=\/bin\/sh -c '(.*)'$/m.exec(unit)![1]!.replaceAll('$$', '$');
    const probe = join(dir, 'bin', 'probe');
    writeFileSync(probe, '#!/bin/sh\nprintf "%s|%s" "$WARMUP_WEBHOOK_SECRET" "$*"\n');
    chmodSync(probe, 0o755);
    const r = await exec('/bin/sh', ['-c', line.replace(bin, probe)], { env: { PATH: process.env.PATH, CREDENTIALS_DIRECTORY: creds } });
    expect(r.stdout).toBe('s3cret|start /etc/warmup/plan.yaml --db /var/lib/warmup/warmup.db');
  });

  it('warns when a secret file bypasses credentials or the store is elsewhere', async () => {
    const planFile = join(dir, 'plain.yaml');
    writeFileSync(join(dir, 'dkim-plain.pem'), testKeyPem());
    writeFileSync(planFile, mutate('  unsubscribe:', '  dkim: { domain: news.example.com, selector: s1, private_key_file: dkim-plain.pem }\n  unsubscribe:'));
    const io = memoryIo({}, dir);
    expect(await main(['systemd', planFile, '--credentials-dir', creds, '--bin', bin], io)).toBe(0);
    expect(io.stderr).toContain('sender.dkim.private_key_file is "dkim-plain.pem"');
    expect(io.stderr).toContain('${CREDENTIALS_DIRECTORY}/dkim-plain.pem');
    expect(io.stderr).toMatch(/the plan's store is .*data\/warmup\.db; the unit uses \/var\/lib\/warmup\/warmup\.db/);
    expect(io.stdout).not.toContain('LoadCredential');
  });

  it('gives a plan answering Postfix on a unix socket under /run its RuntimeDirectory, and still verifies and rates 2.0 or lower', async () => {
    const { code, unit, err } = await generateFor(`${securedPlan}postfix: { listen: "unix:/run/warmup/socketmap", log_file: /var/log/postfix/maillog }\n`);
    expect(code, err).toBe(0);
    expect(err).not.toContain('postfix.listen');
    expect(unit).toContain('RuntimeDirectory=warmup\nRuntimeDirectoryMode=0755\n');
    const r = await analyze(unit, 'socket');
    expect(r.verify).toEqual({ code: 0, stderr: '' });
    expect(r.exposure!).toBeLessThanOrEqual(2.0);
    // On TCP (the default listen) there is nothing to add.
    const inet = await generateFor(`${securedPlan}postfix: { listen: "127.0.0.1:10027", log_file: /var/log/postfix/maillog }\n`);
    expect(inet.unit).not.toMatch(/RuntimeDirectory|ReadWritePaths/);
  });

  it('passes a fleet host to warmup start, warns when the plan assigns it no IP, and still verifies', async () => {
    const fleetPlan = securedPlan.replace('  - address: 127.0.0.2\n    ehlo: mta2.example.com\n', '  - address: 127.0.0.2\n    ehlo: mta2.example.com\n    host: mta1\n');
    expect(fleetPlan).toContain('host: mta1');
    const { code, unit, err } = await generateFor(fleetPlan, '--host', 'MTA1');
    expect(code, err).toBe(0);
    expect(unit).toMatch(/^ExecStart=.* start \/etc\/warmup\/plan\.yaml --db \/var\/lib\/warmup\/warmup\.db --host mta1'?$/m);
    expect(err).not.toContain('--host');
    expect((await analyze(unit, 'host')).verify).toEqual({ code: 0, stderr: '' });
    const other = await generateFor(fleetPlan, '--host', 'mta9');
    expect(other.err).toContain('warning: --host mta9: the plan assigns no IP to it');
  });

  it('makes another socket folder writable, and warns when it does not exist', async () => {
    const { code, unit, err } = await generateFor(`${securedPlan}postfix: { listen: "unix:/var/spool/warmup-nowhere/map", log_file: /var/log/postfix/maillog }\n`);
    expect(code, err).toBe(0);
    expect(unit).toContain('ReadWritePaths=/var/spool/warmup-nowhere\n');
    expect(err).toContain('warning: postfix.listen: /var/spool/warmup-nowhere does not exist');
  });

  it('refuses a relative --bin, and prints the unit for a plan whose credential does not exist yet, with a warning', async () => {
    const io = memoryIo({}, dir);
    expect(await main(['systemd', join(dir, 'plan.yaml'), '--bin', 'warmup'], io)).toBe(2);
    expect(io.stderr).toContain('--bin must be an absolute path');
    const io2 = memoryIo({}, dir);
    writeFileSync(join(dir, 'plan.yaml'), securedPlan);
    // Printing a unit signs nothing: a key that is not in place yet is a warning, not a refusal (issue 14).
    expect(await main(['systemd', join(dir, 'plan.yaml'), '--credentials-dir', join(dir, 'nowhere'), '--bin', bin], io2)).toBe(0);
    expect(io2.stderr).toMatch(/warning: .*nowhere\/dkim\.pem does not exist yet; systemd refuses to start the unit without it/);
    expect(io2.stdout).toContain('LoadCredential=dkim.pem:');
  });
});

describe('renderUnit', () => {
  const base: UnitOptions = { planName: 'acme', planPath: '/etc/warmup/plan.yaml', bin: '/usr/local/bin/warmup', user: null, credentials: [] };
  it.each([
    ['the daemon with its database', {}, 'ExecStart=/usr/local/bin/warmup start /etc/warmup/plan.yaml --db /var/lib/warmup/warmup.db\n'],
    ['a stop timeout 30 s past the drain', { drainMs: 45_000 }, 'TimeoutStopSec=75s\n'],
    ['the default drain of 30 s', {}, 'TimeoutStopSec=60s\n'],
    ['a named user and group', { user: 'mailwarm' }, 'User=mailwarm\nGroup=mailwarm\n'],
    ['empty capability sets', {}, 'CapabilityBoundingSet=\nAmbientCapabilities=\n'],
    ['the narrow address families', {}, 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n'],
    ['a fleet host name', { host: 'mta1.example.com' }, 'ExecStart=/usr/local/bin/warmup start /etc/warmup/plan.yaml --db /var/lib/warmup/warmup.db --host mta1.example.com\n'],
    ['a fleet host on PostgreSQL', { host: 'mta2', storeServer: true }, 'ExecStart=/usr/local/bin/warmup start /etc/warmup/plan.yaml --host mta2\n'],
  ] as const)('writes %s', (_, over, expected) => {
    expect(renderUnit({ ...base, ...over })).toContain(expected);
  });

  it.each([
    ['a relative bin', { bin: 'warmup' }, 'UNIT_PATH'],
    ['a plan path with a space', { planPath: '/etc/warm up.yaml' }, 'UNIT_PATH'],
    ['a plan path with a quote', { planPath: "/etc/it's.yaml" }, 'UNIT_PATH'],
    ['a user name with a space', { user: 'mail warm' }, 'UNIT_USER'],
    ['a socket right in /run', { socketPath: '/run/map' }, 'UNIT_PATH'],
    ['a host name with a space', { host: 'mta 1' }, 'UNIT_HOST'],
    ['a host name with a shell character', { host: 'mta1;reboot' }, 'UNIT_HOST'],
    ['a socket path with a space', { socketPath: '/run/warm up/map' }, 'UNIT_PATH'],
    ['a credential with a slash', { credentials: [{ name: 'a/b', source: '/etc/x', env: null, key: 'k' }] }, 'UNIT_CREDENTIAL'],
  ] as const)('refuses %s', (_, over, code) => {
    expect(() => renderUnit({ ...base, ...over } as UnitOptions)).toThrow(expect.objectContaining({ code }));
  });
});

describe('planSecrets', () => {
  it('finds credential files, environment secrets and plain files', () => {
    const w = planSchema.parse({
      name: 'p', timezone: 'UTC', start: '2026-01-01', launch: '2026-01-10',
      sender: { from: { address: 'a@b.c' }, unsubscribe: { url: 'https://b.c/u' }, dkim: { domain: 'b.c', selector: 's', private_key_env: 'DKIM_PEM' } },
      ips: [{ address: '127.0.0.63', ehlo: 'a.b.c' }],
      providers: {
        gmail: { domains: ['gmail.com'], imap: { host: 'h', password_file: '${CREDENTIALS_DIRECTORY}/gm' }, seeds: [{ address: 'x@gmail.com', imap: { password_file: '/etc/pw' } }] },
        yahoo: { domains: ['yahoo.com'], seeds: [{ address: 'y@yahoo.com', imap: { host: 'h', password_env: 'DKIM_PEM' } }] },
      },
    });
    const r = planSecrets(w, '/etc/warmup/credentials');
    expect(r.credentials).toEqual([
      { name: 'DKIM_PEM', source: '/etc/warmup/credentials/DKIM_PEM', env: 'DKIM_PEM', key: 'sender.dkim.private_key_env' },
      { name: 'gm', source: '/etc/warmup/credentials/gm', env: null, key: 'providers.gmail.imap.password_file' },
    ]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain('providers.gmail.seeds[0].imap.password_file is "/etc/pw"');
  });
});
