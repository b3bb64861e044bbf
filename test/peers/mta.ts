/**
 * The production MTA peer (test/peers/mta.sh): a private Postfix that takes mail from an
 * "application" on 127.0.0.80:2525 and asks warmup which transport each recipient leaves from.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { peersDir } from './peers.js';
import { reloadPostfixEffective } from './postfix-reload.js';

export interface MtaInfo {
  configDir: string;
  queueDir: string;
  logFile: string;
  submission: { host: string; port: number };
  overflowIp: string;
  overflowTransport: string;
  sendingIps: string[];
}

export function loadMta(dir: string = peersDir): MtaInfo {
  const file = path.join(dir, 'mta.json');
  if (!existsSync(file)) throw new Error(`production MTA peer not running: ${file} missing (run test/peers/mta.sh start)`);
  return JSON.parse(readFileSync(file, 'utf8')) as MtaInfo;
}

function run(file: string, args: string[], timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/** `postfix -c DIR CMD` under a pty (Postfix prints nothing without syslog or a tty). */
export function mtaCtl(cmd: string): Promise<string> {
  return run('script', ['-qec', `postfix -c ${loadMta().configDir} ${cmd}`, '/dev/null']);
}

/**
 * Installs warmup's lines (what `warmup postfix PLAN --main/--master` printed) on top of the
 * base config and reloads (returns once no pre-reload smtpd or trivial-rewrite can serve with the
 * old configuration: test/peers/postfix-reload.ts). The warm-up transports run chrooted so they resolve through the
 * test DNS (the chroot's etc/resolv.conf); that is the only change made to warmup's lines.
 */
export async function installWarmupConfig(mainCf: string, masterCf: string): Promise<void> {
  const m = loadMta();
  const base = (name: string) => readFile(path.join(m.configDir, `${name}.base`), 'utf8');
  const chrooted = masterCf.replace(/^(\S+ unix - - )n( - \S+ smtp)$/gm, '$1y$2');
  await writeAtomic(path.join(m.configDir, 'main.cf'), `${await base('main.cf')}\n${mainCf}`);
  await writeAtomic(path.join(m.configDir, 'master.cf'), `${await base('master.cf')}\n${chrooted}`);
  const check = await mtaCtl('check');
  // The chroot's own resolv.conf (test DNS) differs from the host's on purpose.
  const complaints = check.split('\n').filter((l) => l.trim() !== '' && !/queue\/etc\/\S+ and \/etc\/\S+ differ/.test(l));
  if (complaints.length > 0) throw new Error(`postfix check complained:\n${complaints.join('\n')}`);
  await reloadPostfixEffective(m.configDir);
}

async function writeAtomic(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

export interface QueuedRecipient { queueId: string; queueName: string; recipient: string; delayReason: string | null }

/** Every recipient in the MTA's queue (`postqueue -j`). */
export async function mtaQueue(): Promise<QueuedRecipient[]> {
  const out = await run('postqueue', ['-c', loadMta().configDir, '-j']);
  const rows: QueuedRecipient[] = [];
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    const j = JSON.parse(line) as { queue_id: string; queue_name: string; recipients: Array<{ address: string; delay_reason?: string }> };
    for (const r of j.recipients) rows.push({ queueId: j.queue_id, queueName: j.queue_name, recipient: r.address, delayReason: r.delay_reason ?? null });
  }
  return rows;
}

/** Asks Postfix to try the deferred queue now (`postqueue -f`). */
export async function flushMta(): Promise<void> {
  await run('postqueue', ['-c', loadMta().configDir, '-f']);
}

/** The MTA's log as lines. */
export async function mtaLog(): Promise<string[]> {
  return (await readFile(loadMta().logFile, 'utf8').catch(() => '')).split('\n');
}
