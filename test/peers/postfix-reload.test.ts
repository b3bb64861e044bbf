// reloadPostfixEffective against a private Postfix instance of its own (127.0.0.245:2599, its own
// state dir), so the shared peers are not reloaded dozens of times: a verdict written to a cidr
// table and reloaded is what the very next client gets, with a pre-reload smtpd idle or busy.
// With the former wait (until the master logged "reload") the first test failed in 1 of 2 runs on
// a loaded machine (round 7: the next client got the old verdict from a pre-reload smtpd).
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readlink } from 'node:fs/promises';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reloadPostfixEffective } from './postfix-reload.js';

const HOST = '127.0.0.245';
const PORT = 2599;
const BLOCKED = '127.0.0.247';
const OTHER = '127.0.0.246';

const dir = mkdtempSync('/tmp/warmup-reload-');
const etc = path.join(dir, 'etc');
const verdicts = path.join(etc, 'verdicts.cidr');

function sh(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/** An SMTP session from `from` up to RCPT; resolves with the RCPT reply. `hold` keeps it open after. */
function session(from: string, opts: { hold?: boolean } = {}): Promise<{ rcpt: string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: HOST, port: PORT, localAddress: from });
    const steps = ['EHLO probe.test\r\n', 'MAIL FROM:<p@probe.test>\r\n', 'RCPT TO:<x@repro.test>\r\n'];
    let buf = '';
    let i = 0;
    const close = () => s.end('QUIT\r\n');
    s.setTimeout(10_000, () => s.destroy(new Error('SMTP timeout')));
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      for (let m = /^(\d{3}) .*\r\n/m.exec(buf); m; m = /^(\d{3}) .*\r\n/m.exec(buf)) {
        buf = buf.slice(m.index + m[0].length);
        if (i < steps.length) {
          s.write(steps[i++]!);
        } else {
          if (!opts.hold) close();
          resolve({ rcpt: m[0].trim(), close });
        }
      }
    });
    s.on('error', reject);
  });
}

const rcptCode = async (from: string) => (await session(from)).rcpt.slice(0, 3);

function setBlocked(blocked: boolean) {
  writeFileSync(`${verdicts}.tmp`, blocked ? `${BLOCKED}/32 554 5.7.1 blocked by the reload test\n` : '');
  renameSync(`${verdicts}.tmp`, verdicts);
}

const masterPid = () => Number(readFileSync(path.join(dir, 'queue', 'pid', 'master.pid'), 'utf8').trim());

beforeAll(async () => {
  if (userInfo().uid !== 0) throw new Error('this test starts a private Postfix and needs root, like the peers');
  for (const d of ['etc', 'queue', 'data', 'log']) mkdirSync(path.join(dir, d));
  chmodSync(dir, 0o755);
  chownSync(path.join(dir, 'data'), Number((await sh('id', ['-u', 'postfix'])).trim()), 0);
  writeFileSync(path.join(etc, 'main.cf'), `# warmup test: a private MX for test/peers/postfix-reload.test.ts
compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
maillog_file = ${dir}/log/maillog
maillog_file_prefixes = ${dir}/log
myhostname = mx.reload.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
smtpd_peername_lookup = no
disable_dns_lookups = yes
relay_domains = repro.test
relay_transport = discard:
default_transport = discard:
smtpd_error_sleep_time = 0
smtpd_relay_restrictions = reject_unauth_destination
smtpd_client_restrictions = check_client_access cidr:${verdicts}
`);
  writeFileSync(path.join(etc, 'master.cf'), `${HOST}:${PORT} inet n - n - - smtpd
pickup     unix  n - n 60   1 pickup
cleanup    unix  n - n -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
rewrite    unix  - - n -    - trivial-rewrite
bounce     unix  - - n -    0 bounce
defer      unix  - - n -    0 bounce
trace      unix  - - n -    0 bounce
proxymap   unix  - - n -    - proxymap
discard    unix  - - n -    - discard
anvil      unix  - - n -    1 anvil
postlog    unix-dgram n - n - 1 postlogd
`);
  setBlocked(false);
  await sh('script', ['-qec', `postfix -c ${etc} start`, '/dev/null']);
  for (let i = 0; ; i++) {
    try {
      if ((await rcptCode(OTHER)) === '250') break;
    } catch (err) {
      if (i > 100) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  const pid = (() => {
    try {
      return masterPid();
    } catch {
      return 0;
    }
  })();
  await sh('postfix', ['-c', etc, 'stop']).catch(() => '');
  for (let i = 0; pid > 0 && i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

/** smtpd children of the private master. */
async function smtpdPids(): Promise<number[]> {
  const kids = readFileSync(`/proc/${masterPid()}/task/${masterPid()}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  const out: number[] = [];
  for (const k of kids) {
    try {
      if (readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'smtpd') out.push(k);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

describe('reloadPostfixEffective (private Postfix on 127.0.0.245:2599)', () => {
  it('the next client gets the new verdict every time, a pre-reload idle smtpd is gone first', async () => {
    for (let k = 0; k < 16; k++) {
      await rcptCode(OTHER); // leaves an idle smtpd that loaded the current table
      const idle = await smtpdPids();
      expect(idle.length).toBeGreaterThan(0);
      const blocked = k % 2 === 0;
      setBlocked(blocked);
      const r = await reloadPostfixEffective(etc, { timeoutMs: 15_000 });
      expect(await rcptCode(BLOCKED), `round ${k}`).toBe(blocked ? '554' : '250');
      expect(r.masterPid).toBe(masterPid());
      for (const pid of idle) expect(r.waitedFor).toContainEqual({ pid, comm: 'smtpd', settled: 'exited' });
      expect(await rcptCode(OTHER)).toBe('250');
    }
  }, 120_000);

  it('does not wait for a pre-reload smtpd in a session, which answers no new client afterwards', async () => {
    setBlocked(false);
    await reloadPostfixEffective(etc);
    const held = await session(BLOCKED, { hold: true });
    expect(held.rcpt).toMatch(/^250 /);
    const pids = await smtpdPids();
    expect(pids).toHaveLength(1); // the pre-reload ones are gone: this one holds the session
    const busy = pids[0]!;
    const statusSocket = await readlink(`/proc/${busy}/fd/5`);
    setBlocked(true);
    const r = await reloadPostfixEffective(etc, { timeoutMs: 15_000 });
    expect(r.waitedFor).toContainEqual({ pid: busy, comm: 'smtpd', settled: 'busy' });
    // the session opened before goes on with the old verdict; a new client gets the new one
    expect(await rcptCode(BLOCKED)).toBe('554');
    held.close();
    // after its session the old smtpd exits instead of taking the next client
    for (let i = 0; i < 200 && (await readlink(`/proc/${busy}/fd/5`).catch(() => '')) === statusSocket; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(await readlink(`/proc/${busy}/fd/5`).catch(() => 'gone')).not.toBe(statusSocket);
    expect(await rcptCode(BLOCKED)).toBe('554');
  }, 60_000);
});
