/**
 * `postfix -c DIR reload` that returns only once the reload is in effect for new SMTP clients.
 *
 * `postfix reload` is asynchronous: postfix-script sends SIGHUP and returns; the master logs
 * "reload" first and only then re-reads main.cf/master.cf and closes the status pipe of every
 * child it started before (master.c: msg_info, master_vars_init, master_refresh). A child keeps
 * the tables it opened at start-up (a cidr: table is read into memory once) until it sees that
 * pipe close: an idle smtpd then exits, a busy one exits after its session (single_server.c).
 * Until then an idle pre-reload smtpd may accept the next connection and answer it with the old
 * table. Waiting for the master's "reload" log line is therefore not enough (on a loaded machine
 * the next client was still answered from the old verdicts table).
 *
 * What this waits for, read from /proc (Linux, the peers run as root):
 * 1. the master handled SIGHUP and refreshed: it no longer holds the status socket of any child
 *    that existed before the reload (a child's fd 5 is its end of that socket pair, the master
 *    holds the same socket until master_refresh closes it);
 * 2. every pre-reload smtpd or trivial-rewrite is gone, or (smtpd only) is busy with a client
 *    (holds a connection on the address it listens on): after its session its status update fails and it exits without
 *    accepting another client. A trivial-rewrite (multi-server) exits as soon as it sees the
 *    pipe close.
 * A child is identified by its PID and its status socket, so a reused PID is not mistaken for it.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

/** master_proto.h: MASTER_STATUS_FD, the child's end of its status socket pair. */
const MASTER_STATUS_FD = 5;
/** master_proto.h: MASTER_LISTEN_FD, a single-server child's (first) listening socket. */
const MASTER_LISTEN_FD = 6;
/** Children that answer new clients/requests from what they read at start-up. */
const STALE_CAPABLE = new Set(['smtpd', 'trivial-rewrite']);

export interface ReloadResult {
  masterPid: number;
  /** Pre-reload children that had to go (smtpd, trivial-rewrite), with how each was settled. */
  waitedFor: Array<{ pid: number; comm: string; settled: 'exited' | 'busy' }>;
  ms: number;
}

interface Child {
  pid: number;
  comm: string;
  statusSocket: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

async function link(file: string): Promise<string | undefined> {
  return readlink(file).catch(() => undefined);
}

/** PIDs whose parent is `pid` (from /proc/PID/task/PID/children, else a scan of /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const direct = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => undefined);
  if (direct !== undefined) return direct.split(/\s+/).filter(Boolean).map(Number);
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) out.push(Number(name));
  }
  return out;
}

async function snapshot(masterPid: number): Promise<Child[]> {
  const out: Child[] = [];
  for (const pid of await childrenOf(masterPid)) {
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    const statusSocket = await link(`/proc/${pid}/fd/${MASTER_STATUS_FD}`);
    if (statusSocket?.startsWith('socket:')) out.push({ pid, comm, statusSocket });
  }
  return out;
}

async function fdTargets(pid: number): Promise<Set<string>> {
  const names = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  const targets = await Promise.all(names.map((n) => link(`/proc/${pid}/fd/${n}`)));
  return new Set(targets.filter((t): t is string => t !== undefined));
}

/** TCP sockets by fd link target (`socket:[INODE]`): local address:port and state (0A = listening). */
async function tcpSockets(): Promise<Map<string, { local: string; state: string }>> {
  const out = new Map<string, { local: string; state: string }>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[9] !== '0') out.set(`socket:[${f[9]}]`, { local: f[1]!, state: f[3]! });
    }
  }
  return out;
}

/**
 * An smtpd in a session: it holds a connected socket on the address:port it listens on. Other TCP sockets (a cached policy-server connection) do not count.
 */
async function inSession(pid: number, tcp: Map<string, { local: string; state: string }>): Promise<boolean> {
  const listener = tcp.get((await link(`/proc/${pid}/fd/${MASTER_LISTEN_FD}`)) ?? '');
  if (!listener) return false;
  for (const t of await fdTargets(pid)) {
    const s = tcp.get(t);
    if (s && s.state !== '0A' && s.local === listener.local) return true;
  }
  return false;
}

/** Still the same process (its status socket open at fd 5), not an exited one or a reused PID. */
async function alive(c: Child): Promise<boolean> {
  return (await link(`/proc/${c.pid}/fd/${MASTER_STATUS_FD}`)) === c.statusSocket;
}

async function countReloadLines(logFile: string | undefined): Promise<number> {
  if (!logFile) return 0;
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return (text.match(/postfix\/master\[\d+\]: reload /g) ?? []).length;
}

/**
 * Reloads the Postfix instance of `configDir` and waits (at most `timeoutMs`, default 15 s) until
 * no child started before the reload can answer a new client (see the file comment).
 */
export async function reloadPostfixEffective(configDir: string, opts: { timeoutMs?: number } = {}): Promise<ReloadResult> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const t0 = Date.now();
  const [queueDir, logSetting] = (await run('postconf', ['-c', configDir, '-xh', 'queue_directory', 'maillog_file'], timeoutMs))
    .split('\n');
  const logFile = logSetting?.trim() || undefined;
  const masterPid = Number((await readFile(path.join(queueDir!.trim(), 'pid', 'master.pid'), 'utf8')).trim());
  if (!(masterPid > 0)) throw new Error(`no Postfix master pid for ${configDir}`);

  // Anything started after this snapshot read the edited files already.
  const before = await snapshot(masterPid);
  const reloadsBefore = await countReloadLines(logFile);
  await run('postfix', ['-c', configDir, 'reload'], timeoutMs);

  const waitFor = before.filter((c) => STALE_CAPABLE.has(c.comm));
  const settled = new Map<number, 'exited' | 'busy'>();
  const deadline = t0 + timeoutMs;
  let pending = 'the master to re-read its configuration';
  for (;;) {
    const refreshed = await (async () => {
      if (logFile && (await countReloadLines(logFile)) <= reloadsBefore) return false;
      const held = await fdTargets(masterPid);
      return before.every((c) => !held.has(c.statusSocket));
    })();
    if (refreshed) {
      const tcp = await tcpSockets();
      const left: Child[] = [];
      for (const c of waitFor) {
        if (settled.has(c.pid)) continue;
        if (!(await alive(c))) {
          settled.set(c.pid, 'exited');
          continue;
        }
        if (c.comm === 'smtpd' && (await inSession(c.pid, tcp))) {
          settled.set(c.pid, 'busy');
          continue;
        }
        left.push(c);
      }
      if (left.length === 0) {
        return {
          masterPid,
          waitedFor: waitFor.map((c) => ({ pid: c.pid, comm: c.comm, settled: settled.get(c.pid)! })),
          ms: Date.now() - t0,
        };
      }
      pending = `pre-reload ${left.map((c) => `${c.comm}[${c.pid}]`).join(', ')} to exit`;
    }
    if (Date.now() >= deadline) {
      throw new Error(`postfix -c ${configDir} reload: not in effect after ${timeoutMs} ms (waiting for ${pending})`);
    }
    await sleep(10);
  }
}
