/**
 * Typed access to the real loopback test peers started by test/peers/up.sh
 * (vitest globalSetup: test/peers/global-setup.ts). See test/peers/README.md.
 *
 * Every helper that waits takes `{ timeoutMs }` (with a documented default) and never
 * waits without bound.
 */
import { execFile } from 'node:child_process';
import { promises as dnsPromises } from 'node:dns';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reloadPostfixEffective } from './postfix-reload.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface PeersInfo {
  dir: string;
  repoPeersDir: string;
  dns: HostPort;
  dnsbl: HostPort & { zoneDir: string; zones: Record<string, string> };
  mx: HostPort & { hostname: string; domains: string[] };
  ratelimit: HostPort & { hostname: string; domain: string; messagesPerMinute: number };
  grey: HostPort & { hostname: string; domain: string; delaySeconds: number };
  postgrey: HostPort;
  sink: HostPort & { hostname: string; domain: string };
  dead: HostPort & { domain: string };
  imap: HostPort & { users: string[]; password: string };
  /** PostgreSQL 15 (user `warmup`, trust; `passwordUser` must log in with `password`). */
  postgres: HostPort & {
    user: string; database: string; socketDir: string; url: string; passwordUser: string; password: string;
    /** TLS (sslmode tests): the CA that signed the server's certificate, one that did not, and the one name the certificate holds. */
    tls: { ca: string; otherCa: string; serverName: string };
  };
  postfix: { configDir: string; verdictsFile: string; logFile: string; junkClientIp: string };
  mailDir: string;
  dnsConfDir: string;
  pidsDir: string;
  logsDir: string;
  sendingIps: { first: string; last: string; ptr: string };
}

/** State dir of the peers (same default as up.sh). */
export const peersDir: string = process.env.WARMUP_PEERS_DIR ?? '/tmp/warmup-peers';

/** The test DNS server (dnsmasq). Authoritative for `.test`, forwards `dnsbl.test` to rbldnsd. */
export const dnsServer = '127.0.0.60';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const UP_SH = path.join(HERE, 'up.sh');

let cached: PeersInfo | undefined;

/** Reads `$WARMUP_PEERS_DIR/peers.json` (written by up.sh). Throws if the peers are not up. */
export function loadPeers(dir: string = peersDir): PeersInfo {
  if (cached && cached.dir === dir) return cached;
  const file = path.join(dir, 'peers.json');
  if (!existsSync(file)) {
    throw new Error(`test peers not running: ${file} missing (run test/peers/up.sh or use the vitest globalSetup)`);
  }
  cached = JSON.parse(readFileSync(file, 'utf8')) as PeersInfo;
  return cached;
}

/** `127.0.0.<n>` for a sending IP; n in 2..40 has PTR/A `mta<n>.warmup.test`. */
export function sendingIp(n: number): string {
  if (!Number.isInteger(n) || n < 2 || n > 40) throw new RangeError(`sending IP index ${n} not in 2..40`);
  return `127.0.0.${n}`;
}

/** `mta<n>.warmup.test`, the forward-confirmed name of `sendingIp(n)`. */
export function sendingHostname(n: number): string {
  sendingIp(n);
  return `mta${n}.warmup.test`;
}

// ------------------------------------------------------------------ small utilities

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  intervalMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const extra = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${extra}`);
    }
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

function run(file: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, ...env }, maxBuffer: 4 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
        } else {
          resolve(stdout + stderr);
        }
      },
    );
  });
}

/** Cross-process lock (test files run in parallel forks): mkdir-based, bounded wait. */
async function withLock<T>(name: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lockDir = path.join(loadPeers().dir, 'locks', name);
  await mkdir(path.dirname(lockDir), { recursive: true });
  await pollUntil(`lock ${name}`, timeoutMs, 20, async () => {
    try {
      await mkdir(lockDir);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // a lock left by a crashed worker is stale after 60 s
      const st = await stat(lockDir).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 60_000) await rm(lockDir, { recursive: true, force: true });
      return undefined;
    }
  });
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function writeAtomic(file: string, text: string, mode = 0o644): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, file);
}

// ------------------------------------------------------------------ DNS

/** A Node resolver that asks only the test DNS (dnsmasq on 127.0.0.60). */
export function testResolver(opts: { timeoutMs?: number; tries?: number } = {}): dnsPromises.Resolver {
  const r = new dnsPromises.Resolver({ timeout: opts.timeoutMs ?? 1000, tries: opts.tries ?? 2 });
  const { host, port } = existsSync(path.join(peersDir, 'peers.json')) ? loadPeers().dns : { host: dnsServer, port: 53 };
  r.setServers([port === 53 ? host : `${host}:${port}`]);
  return r;
}

const DNS_CONF_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Adds zone data (dnsmasq syntax: mx-host=, host-record=, txt-record=, ptr-record=, ...) as
 * `$DIR/dns.d/<name>.conf`. Takes effect after `restartDnsmasq()`.
 */
export async function addDnsRecords(name: string, confText: string): Promise<string> {
  if (!DNS_CONF_NAME.test(name)) throw new Error(`bad dns.d name: ${name}`);
  const file = path.join(loadPeers().dnsConfDir, `${name}.conf`);
  await writeAtomic(file, confText.endsWith('\n') ? confText : `${confText}\n`);
  return file;
}

/** Removes `$DIR/dns.d/<name>.conf`. Takes effect after `restartDnsmasq()`. */
export async function removeDnsRecords(name: string): Promise<void> {
  if (!DNS_CONF_NAME.test(name)) throw new Error(`bad dns.d name: ${name}`);
  await rm(path.join(loadPeers().dnsConfDir, `${name}.conf`), { force: true });
}

/**
 * Restarts dnsmasq (SIGHUP does not reload MX/TXT) by its recorded PID and waits until it
 * answers again. DNS is unavailable for ~100 ms: resolvers with retries ride over it.
 */
export async function restartDnsmasq(opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const p = loadPeers();
  await withLock('dnsmasq', timeoutMs, () =>
    run('bash', [UP_SH, '--restart', 'dnsmasq'], timeoutMs, {
      WARMUP_PEERS_DIR: p.dir,
      WARMUP_DNS_PORT: String(p.dns.port),
      WARMUP_RBL_PORT: String(p.dnsbl.port),
    }),
  );
}

// ------------------------------------------------------------------ DNSBL (rbldnsd)

function reversedIp(ip: string): string {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return parts.reverse().join('.');
}

/** True if `ip` is listed in `zone`, asked through the test DNS like a real MTA would. */
export async function isListed(zone: string, ip: string, opts: { timeoutMs?: number } = {}): Promise<boolean> {
  const r = testResolver({ timeoutMs: Math.min(opts.timeoutMs ?? 2000, 2000), tries: 1 });
  try {
    const a = await r.resolve4(`${reversedIp(ip)}.${zone}`);
    return a.length > 0;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return false;
    throw err;
  }
}

async function editZone(zone: string, ip: string, listed: boolean, timeoutMs: number, answer?: ListAnswer): Promise<void> {
  const p = loadPeers();
  const fileName = p.dnsbl.zones[zone];
  if (!fileName) throw new Error(`unknown DNSBL zone ${zone} (known: ${Object.keys(p.dnsbl.zones).join(', ')})`);
  reversedIp(ip);
  const file = path.join(p.dnsbl.zoneDir, fileName);
  await withLock(`rbl-${zone}`, timeoutMs, async () => {
    const before = await stat(file);
    const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '' && l !== ip && l !== `!${ip}` && !l.startsWith(`${ip} `));
    // an exclusion ("!ip") also de-lists an IP covered by a range (all.dnsbl.test)
    if (answer && !/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(answer.a)) throw new Error(`not a 127/8 answer: ${answer.a}`);
    // rbldnsd ip4set: "IP :A:TXT" gives this entry its own answer and reason.
    lines.push(listed ? (answer ? `${ip} :${answer.a}:${(answer.txt ?? '').replace(/[\r\n]/g, ' ')}` : ip) : `!${ip}`);
    await writeAtomic(file, `${lines.join('\n')}\n`);
    // rbldnsd (-c 1s) reloads when the mtime changes; mtime has 1 s resolution there, so make
    // sure it moves even for two edits within the same second.
    const mtime = Math.max(Math.floor(Date.now() / 1000), Math.floor(before.mtimeMs / 1000) + 1);
    await utimes(file, mtime, mtime);
  });
  await pollUntil(`${ip} ${listed ? 'listed in' : 'de-listed from'} ${zone}`, timeoutMs, 100, async () =>
    (await isListed(zone, ip, { timeoutMs: 1000 })) === listed ? true : undefined,
  );
}

/** A listing's own answer (A record in 127/8, e.g. 127.0.0.4 or the error code 127.255.255.254) and TXT reason. */
export interface ListAnswer {
  a: string;
  txt?: string;
}

/**
 * Lists `ip` in a DNSBL zone (zen.dnsbl.test, broken.dnsbl.test, all.dnsbl.test) and waits until DNS says so.
 * `answer` makes rbldnsd answer with that A record and TXT for this IP (default: the zone's 127.0.0.2).
 */
export function listIp(zone: string, ip: string, opts: { timeoutMs?: number; answer?: ListAnswer } = {}): Promise<void> {
  return editZone(zone, ip, true, opts.timeoutMs ?? 10_000, opts.answer);
}

/** De-lists `ip` from a DNSBL zone and waits until DNS no longer lists it. */
export function unlistIp(zone: string, ip: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  return editZone(zone, ip, false, opts.timeoutMs ?? 10_000);
}

// ------------------------------------------------------------------ Postfix

/**
 * Runs `postfix -c DIR reload` on the MX peer and waits until it is in effect for the next client:
 * the master re-read its configuration and no smtpd started before the reload can take a new
 * connection with the old tables (see test/peers/postfix-reload.ts; waiting for the master's
 * "reload" log line alone let a pre-reload smtpd answer the next client with the old verdicts).
 */
export async function reloadPostfix(opts: { timeoutMs?: number } = {}): Promise<void> {
  await reloadPostfixEffective(loadPeers().postfix.configDir, { timeoutMs: opts.timeoutMs ?? 15_000 });
}

/**
 * Sets per-client-IP verdicts of the three Postfix MXs (check_client_access cidr), e.g.
 * `['127.0.0.9/32 554 5.7.1 blocked', '127.0.0.10/32 421 4.7.0 go away']`, then reloads Postfix.
 * Lines are kept per `key` (default 'default'), so parallel test files using different keys do
 * not overwrite each other; `setVerdicts([], { key })` clears a key.
 */
export async function setVerdicts(lines: string[], opts: { key?: string; timeoutMs?: number } = {}): Promise<void> {
  const key = opts.key ?? 'default';
  const timeoutMs = opts.timeoutMs ?? 15_000;
  if (!DNS_CONF_NAME.test(key)) throw new Error(`bad verdict key: ${key}`);
  for (const l of lines) if (/[\r\n]/.test(l)) throw new Error(`verdict line contains a newline: ${JSON.stringify(l)}`);
  const p = loadPeers();
  const partsDir = path.join(p.postfix.configDir, 'verdicts.d');
  await withLock('postfix-verdicts', timeoutMs, async () => {
    await mkdir(partsDir, { recursive: true });
    await writeAtomic(path.join(partsDir, key), lines.map((l) => `${l}\n`).join(''));
    const names = (await readdir(partsDir)).filter((n) => DNS_CONF_NAME.test(n)).sort();
    let text = '# generated by test/peers/peers.ts setVerdicts(); per-key parts in verdicts.d/\n';
    for (const n of names) text += `# --- ${n}\n${await readFile(path.join(partsDir, n), 'utf8')}`;
    await writeAtomic(p.postfix.verdictsFile, text);
    await reloadPostfix({ timeoutMs });
  });
}

/**
 * Waits until the MX peer's queue (`postqueue -j`) holds no message for any of `recipients`: every
 * message the MX accepted for them has been delivered into the Maildir (or bounced). A test that
 * counts what arrived reads the Maildir after this, not after a fixed time. Default timeout 20 s.
 */
export async function waitForMxQueue(recipients: string[], opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const wanted = new Set(recipients.map((r) => r.toLowerCase()));
  const { configDir } = loadPeers().postfix;
  let queued: string[] = [];
  await pollUntil(`the MX queue to hold nothing for ${recipients.join(', ')}`, timeoutMs, 50, async () => {
    queued = [];
    for (const line of (await run('postqueue', ['-c', configDir, '-j'], 10_000)).split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { queue_id: string; recipients: Array<{ address: string }> };
      for (const r of entry.recipients) if (wanted.has(r.address.toLowerCase())) queued.push(`${entry.queue_id} ${r.address}`);
    }
    return queued.length === 0 ? true : undefined;
  }).catch((err: Error) => {
    throw new Error(`${err.message}; still queued: ${queued.join(', ')}`);
  });
}

// ------------------------------------------------------------------ Maildir

export interface MaildirMessage {
  /** absolute path of the message file */
  file: string;
  /** 'new' or 'cur' */
  sub: 'new' | 'cur';
  raw: Buffer;
}

/** Directory of a mailbox in the shared Maildir tree (`INBOX` = the Maildir root, others Maildir++ `.Name`). */
export function maildirPath(domain: string, local: string, folder = 'INBOX'): string {
  const base = path.join(loadPeers().mailDir, domain.toLowerCase(), local.toLowerCase());
  return folder.toUpperCase() === 'INBOX' ? base : path.join(base, `.${folder.replace(/\//g, '.')}`);
}

/** Raw messages in `$DIR/mail/<domain>/<local>/[.<folder>/]{new,cur}`, oldest first. Empty if none. */
export async function readMaildir(domain: string, local: string, folder = 'INBOX'): Promise<MaildirMessage[]> {
  const dir = maildirPath(domain, local, folder);
  const out: Array<MaildirMessage & { t: number }> = [];
  for (const sub of ['new', 'cur'] as const) {
    const names = await readdir(path.join(dir, sub)).catch(() => [] as string[]);
    for (const n of names) {
      const file = path.join(dir, sub, n);
      try {
        const raw = await readFile(file);
        const t = Number(/^(\d+)\.M(\d+)/.exec(n)?.slice(1).join('.') ?? 0);
        out.push({ file, sub, raw, t });
      } catch {
        // moved between new/ and cur/ by an IMAP client meanwhile: skip
      }
    }
  }
  out.sort((a, b) => a.t - b.t || a.file.localeCompare(b.file));
  return out.map(({ t: _t, ...m }) => m);
}

/**
 * Waits until the mailbox holds at least `count` messages (default 1) for which `match` (default:
 * any) is true, and returns those. Throws after `timeoutMs` (default 10 s).
 */
export async function waitForMail(
  domain: string,
  local: string,
  opts: { folder?: string; count?: number; timeoutMs?: number; match?: (m: MaildirMessage) => boolean } = {},
): Promise<MaildirMessage[]> {
  const { folder = 'INBOX', count = 1, timeoutMs = 10_000, match = () => true } = opts;
  return pollUntil(`${count} message(s) in ${local}@${domain}/${folder}`, timeoutMs, 50, async () => {
    const msgs = (await readMaildir(domain, local, folder)).filter(match);
    return msgs.length >= count ? msgs : undefined;
  });
}

// ------------------------------------------------------------------ IMAP (raw)

/**
 * Minimal raw IMAP exchange with the Dovecot peer: logs in as `user`, runs `commands` (without
 * tags) and logs out. Returns the full server text of each command, tagged line included.
 * Rejects if LOGIN fails or on timeout (`timeoutMs`, default 10 s, for the whole exchange).
 */
export async function imapExchange(
  user: string,
  password: string,
  commands: string[],
  opts: { timeoutMs?: number } = {},
): Promise<{ greeting: string; login: string; responses: string[] }> {
  const { host, port } = loadPeers().imap;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const sock = net.connect({ host, port });
  let buf = '';
  let waiter: (() => void) | undefined;
  let failure: Error | undefined;
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    waiter?.();
  });
  sock.on('error', (e) => {
    failure = e;
    waiter?.();
  });
  sock.on('close', () => {
    failure ??= new Error('IMAP connection closed');
    waiter?.();
  });
  const timer = setTimeout(() => {
    failure = new Error(`IMAP exchange timed out after ${timeoutMs} ms; got so far:\n${buf}`);
    waiter?.();
    sock.destroy();
  }, timeoutMs);
  const readUntil = async (re: RegExp): Promise<string> => {
    for (;;) {
      const m = re.exec(buf);
      if (m) {
        const end = m.index + m[0].length;
        const text = buf.slice(0, end);
        buf = buf.slice(end);
        return text;
      }
      if (failure) throw failure;
      await new Promise<void>((r) => (waiter = r));
      waiter = undefined;
    }
  };
  const quote = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  try {
    const greeting = await readUntil(/^\* OK.*\r\n/m);
    sock.write(`a0 LOGIN ${quote(user)} ${quote(password)}\r\n`);
    const login = await readUntil(/^a0 (OK|NO|BAD).*\r\n/m);
    if (!/^a0 OK/m.test(login)) throw new Error(`IMAP LOGIN failed: ${login.trim()}`);
    const responses: string[] = [];
    for (const [i, c] of commands.entries()) {
      const tag = `a${i + 1}`;
      sock.write(`${tag} ${c}\r\n`);
      responses.push(await readUntil(new RegExp(`^${tag} (OK|NO|BAD).*\\r\\n`, 'm')));
    }
    sock.write('z LOGOUT\r\n');
    await readUntil(/^z (OK|NO|BAD).*\r\n/m).catch(() => '');
    return { greeting, login, responses };
  } finally {
    clearTimeout(timer);
    sock.destroy();
  }
}

// ------------------------------------------------------------------ PostgreSQL

let pgDatabases = 0;

/**
 * A new, empty database on the PostgreSQL peer for one test file (or test), so
 * tests never see each other's rows; returns its URL (user warmup, no password).
 * `name` is a readable prefix (letters, digits, _). The peer's state dir goes
 * at the next up.sh, and the databases with it.
 */
export async function createPostgresDatabase(name: string): Promise<string> {
  const pgInfo = loadPeers().postgres;
  if (!pgInfo) throw new Error('the test peers have no PostgreSQL: start it with test/peers/up.sh --restart postgres');
  const db = `${name.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 30)}_${process.pid}_${++pgDatabases}_${Date.now().toString(36)}`;
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ host: pgInfo.host, port: pgInfo.port, user: pgInfo.user, database: pgInfo.database });
  await admin.connect();
  try {
    // Owned by the password user, so the credential tests can migrate it (PG 15: only the
    // database owner creates in its public schema); `warmup` is a superuser anyway.
    await admin.query(`create database "${db}" owner ${pgInfo.passwordUser}`);
  } finally {
    await admin.end();
  }
  return `postgres://${pgInfo.user}@${pgInfo.host}:${pgInfo.port}/${db}`;
}

/** Runs one query on the database at `url` (a client of its own) and returns its rows: raw checks of what a test wrote. */
export async function pgQuery<T>(url: string, text: string): Promise<T[]> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}
