import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync, chownSync } from 'node:fs';
import { userInfo } from 'node:os';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIssue, loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { postfixConfig, transportPaces } from '../../src/postfix/config.js';
import { fixtureDir, validText } from '../plan/helpers.js';

const file = `${fixtureDir}plan.yaml`;
const withPostfix = (section: string) => `${validText}\npostfix:\n${section}`;
function planOf(text: string): Plan {
  const r = loadPlan(text, { file, env: {} });
  if (!r.ok) throw new Error(r.errors.map((e) => formatIssue(file, e)).join('\n'));
  return r.plan;
}
const run = (cmd: string, args: string[]) => new Promise<string>((resolve, reject) => {
  execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}${stderr}`)) : resolve(stdout + stderr)));
});

describe('the postfix: plan section', () => {
  it('fills defaults: map name, defer with the reason, transport and syslog prefixes', () => {
    const plan = planOf(withPostfix('  listen: 127.0.0.1:10027\n  log_file: /var/log/postfix/maillog\n'));
    expect(plan.postfix).toEqual({
      listen: { kind: 'inet', host: '127.0.0.1', port: 10027 }, mapName: 'warmup', logFile: '/var/log/postfix/maillog',
      overflow: { kind: 'defer', reason: 'warm-up capacity exhausted' }, deferReason: 'warm-up capacity exhausted',
      transportPrefix: 'warmup', syslogPrefix: 'postfix-warmup', reservationTtlMs: 120_000,
    });
    expect(planOf(validText).postfix).toBeNull();
    expect(planOf(withPostfix('  listen: unix:/run/warmup/map\n  log_file: log/maillog\n  overflow: relay:[smarthost.test]:587\n')).postfix).toMatchObject({
      listen: { kind: 'unix', path: '/run/warmup/map' }, logFile: `${fixtureDir}log/maillog`, overflow: { kind: 'transport', transport: 'relay:[smarthost.test]:587' },
    });
  });

  it.each([
    ['a non-loopback listen address', '  listen: 192.0.2.1:10027\n  log_file: /x\n', 'postfix.listen: 192.0.2.1 is not a loopback address'],
    ['a listen address without a port', '  listen: 127.0.0.1\n  log_file: /x\n', 'postfix.listen: must be IP:PORT'],
    ['an overflow that is no transport', '  listen: 127.0.0.1:1\n  log_file: /x\n  overflow: "send it anyway"\n', 'postfix.overflow: must be defer or a Postfix transport'],
    ['a missing log file', '  listen: 127.0.0.1:1\n', 'postfix.log_file'],
  ])('names the key of %s', (_, section, message) => {
    const r = loadPlan(withPostfix(section), { file, env: {} });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => formatIssue(file, e)).join('\n')).toContain(message);
  });
});

describe('warmup postfix output', () => {
  const plan = planOf(withPostfix('  listen: 127.0.0.1:10027\n  log_file: /var/log/postfix-warmup/maillog\n'));
  const cfg = postfixConfig(plan, plan.postfix!);

  it('has one transport per IP with its bind address, EHLO name and a syslog name naming the IP', () => {
    expect(cfg.masterCf).toContain('warmup_127_0_0_10 unix - - n - 4 smtp\n  -o smtp_bind_address=127.0.0.10\n  -o smtp_helo_name=mta10.example.com\n  -o syslog_name=postfix-warmup/127.0.0.10\n');
    expect(cfg.masterCf.match(/ unix - - n - \d+ smtp$/gm)).toHaveLength(plan.ips.length);
    expect(cfg.mainCf).toContain('transport_maps = socketmap:inet:127.0.0.1:10027:warmup\n');
    expect(cfg.mainCf).toContain('maillog_file = /var/log/postfix-warmup/maillog\nmaillog_file_prefixes = /var/log/postfix-warmup\n');
    expect(cfg.masterCf).toContain('rewrite-smtpd unix - - n - - trivial-rewrite\n  -o transport_maps=\n');
  });

  it('on a unix socket, says that the rewrite service must not be chrooted (it would look for the socket in the queue directory)', () => {
    expect(cfg.masterCf).not.toContain('chroot');
    const onUnix = planOf(withPostfix('  listen: unix:/run/warmup/socketmap\n  log_file: /var/log/postfix-warmup/maillog\n'));
    const unixCfg = postfixConfig(onUnix, onUnix.postfix!);
    expect(unixCfg.mainCf).toContain('transport_maps = socketmap:unix:/run/warmup/socketmap:warmup\n');
    expect(unixCfg.masterCf).toContain('# rewrite unix - - n - - trivial-rewrite\n');
    expect(unixCfg.masterCf).toContain('inside queue_directory');
  });

  it('paces each transport for its fastest launch-day hour', () => {
    // gmail ramp flat [5, 10, 20]: launch day 20 over 9 hours, catch-up 2 -> 5 an hour -> a delivery every 720 s.
    const [p] = transportPaces(plan, plan.postfix!);
    expect(p).toMatchObject({ ip: '127.0.0.2', rateDelaySeconds: expect.any(Number) });
    expect(p!.peakPerHour).toBeGreaterThan(0);
    expect(cfg.mainCf).toContain(`warmup_127_0_0_2_destination_rate_delay = ${p!.rateDelaySeconds}s\n`);
  });

  it('passes `postfix check` and leaves postconf no unused parameter', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warmup-pfcheck-'));
    for (const d of ['etc', 'queue', 'data']) mkdirSync(path.join(dir, d));
    if (userInfo().uid === 0) chownSync(path.join(dir, 'data'), Number((await run('id', ['-u', 'postfix'])).trim()), 0);
    copyFileSync('/usr/share/postfix/master.cf.dist', path.join(dir, 'etc/master.cf'));
    writeFileSync(path.join(dir, 'etc/master.cf'), cfg.masterCf, { flag: 'a' });
    writeFileSync(path.join(dir, 'etc/main.cf'), `compatibility_level = 3.6\nqueue_directory = ${dir}/queue\ndata_directory = ${dir}/data\n${cfg.mainCf}`);
    const check = await run('script', ['-qec', `postfix -c ${dir}/etc check`, '/dev/null']);
    expect(check.trim()).toBe('');
    const postconf = await run('postconf', ['-c', `${dir}/etc`, '-n']);
    expect(postconf).not.toMatch(/warning/);
    expect(await run('postconf', ['-c', `${dir}/etc`, '-M'])).toContain('warmup_127_0_0_12 unix');
  });
});
