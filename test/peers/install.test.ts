/**
 * test/peers/install.sh, the `pretest` step that installs the Debian packages. apt-get, dpkg-query
 * and debconf-set-selections are replaced by recording shims on PATH: the real ones would change
 * the machine (and other test runs use its packages).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ALL = 'postfix dovecot-imapd dnsmasq-base rbldnsd postgrey swaks bind9-dnsutils bsdutils postgresql-15 openssl chromium systemd'.split(' ');

/** A bin dir whose dpkg-query reports the packages listed in `installed`, and whose apt-get installs into it. */
function shims(installed: string[]): { dir: string; calls: () => string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'warmup-install-'));
  writeFileSync(path.join(dir, 'installed'), installed.map((p) => `${p}\n`).join(''));
  const write = (name: string, body: string) => {
    writeFileSync(path.join(dir, name), `#!/usr/bin/env bash\n${body}\n`);
    chmodSync(path.join(dir, name), 0o755);
  };
  write('dpkg-query', `shift 2; for p in "$@"; do grep -qx "$p" "${dir}/installed" && echo "ii  $p"; done; exit 0`);
  write('apt-get', `echo "apt-get $*" >>"${dir}/calls"; if [[ " $* " == *" install "* ]]; then for a in "$@"; do case "$a" in -*|install|DPkg*|Dpkg*) ;; *) echo "$a" >>"${dir}/installed";; esac; done; fi`);
  write('debconf-set-selections', `echo "debconf $(cat)" >>"${dir}/calls"`);
  return { dir, calls: () => { try { return readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n'); } catch { return []; } } };
}

function install(bin: string, ...args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [path.join(HERE, 'install.sh'), ...args], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, WARMUP_SKIP_INSTALL: '' } }, (err, _out, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
}

describe('test/peers/install.sh', () => {
  it('asks dpkg once and runs no apt-get at all when every package is present', async () => {
    const s = shims(ALL);
    const r = await install(s.dir);
    expect(r.code).toBe(0);
    expect(s.calls()).toEqual([]);
    expect(r.stderr).toMatch(/all test packages present/);
  });

  it('installs only what is missing after one apt-get update, tools without recommends, postfix preseeded', async () => {
    const s = shims(ALL.filter((p) => p !== 'rbldnsd' && p !== 'chromium'));
    const r = await install(s.dir);
    expect(r.code).toBe(0);
    const calls = s.calls();
    expect(calls.filter((c) => / update$/.test(c))).toHaveLength(1);
    expect(calls[0]).toMatch(/^debconf postfix postfix\/main_mailer_type select No configuration/);
    expect(calls.filter((c) => / install /.test(c))).toEqual([
      expect.stringMatching(/install -y rbldnsd$/),
      expect.stringMatching(/install -y --no-install-recommends chromium$/),
    ]);
    expect(r.stderr).toMatch(/installed rbldnsd chromium in \d+ s/);
  });

  it('--check names what is missing, exits 1 and installs nothing', async () => {
    const s = shims(ALL.filter((p) => p !== 'postgresql-15'));
    const r = await install(s.dir, '--check');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing Debian packages: postgresql-15/);
    expect(s.calls()).toEqual([]);
  });

  it('is what npm test runs before vitest', () => {
    const pkg = JSON.parse(readFileSync(path.join(HERE, '../../package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.pretest).toBe('bash test/peers/install.sh');
  });
});
