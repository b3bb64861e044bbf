/**
 * Where a PostgreSQL store is and how to log in: a `postgres://` URL, with
 * what it leaves out taken from a service file (`service=` or PGSERVICE), the
 * PG* environment variables, a password file (a systemd credential) and
 * ~/.pgpass (read by node-postgres itself), the order libpq uses.
 *
 * The password is never part of what this returns for display: `location` is
 * the URL without it, and {@link redactUrl} blanks it in anything printed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { WarmupError } from '../util/errors.js';

/** Whether a `--db` value or `store.url` names PostgreSQL rather than a SQLite file. */
export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

/** Query parameters a store URL may carry (libpq's names). */
const PARAMS = ['host', 'port', 'dbname', 'user', 'password', 'sslmode', 'sslrootcert', 'service', 'application_name', 'connect_timeout'] as const;
type Param = typeof PARAMS[number];
const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
/** libpq's sslmode values. */
export type SslMode = typeof SSLMODES[number];
/** libpq's default when neither the URL, the service nor PGSSLMODE names one. */
export const DEFAULT_SSLMODE: SslMode = 'prefer';

/** The URL with its password (user:PASSWORD@ or ?password=) replaced by `***`: fit to print. */
export function redactUrl(s: string): string {
  return s
    .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*):[^@/?#]*@/i, '$1:***@')
    .replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/** Blanks every password of `url` inside a text (an error from a library that quoted it). */
export function redactIn(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

interface UrlParts {
  readonly params: Partial<Record<Param, string>>;
}

/**
 * Parses a store URL into libpq parameters; throws WarmupError STORE_URL with
 * what is wrong (never quoting the password).
 */
export function parsePostgresUrl(url: string): UrlParts {
  if (!isPostgresUrl(url)) throw new WarmupError('STORE_URL', 'must start with postgres:// or postgresql://');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WarmupError('STORE_URL', `not a valid URL: ${redactUrl(url)}`);
  }
  const params: Partial<Record<Param, string>> = {};
  const dec = (s: string, what: string) => {
    try { return decodeURIComponent(s); } catch { throw new WarmupError('STORE_URL', `bad percent-encoding in the ${what}`); }
  };
  if (u.hostname) params.host = dec(u.hostname, 'host');
  if (u.port) params.port = u.port;
  if (u.username) params.user = dec(u.username, 'user name');
  if (u.password) params.password = dec(u.password, 'password');
  const path = u.pathname.replace(/^\//, '');
  if (path.includes('/')) throw new WarmupError('STORE_URL', `the path must be one database name (got "/${path}")`);
  if (path) params.dbname = dec(path, 'database name');
  for (const [k, v] of u.searchParams) {
    if (!(PARAMS as readonly string[]).includes(k)) {
      throw new WarmupError('STORE_URL', `unknown parameter "${k}" (known: ${PARAMS.filter((p) => p !== 'password').join(', ')})`);
    }
    params[k as Param] = v;
  }
  if (params.port !== undefined && !/^\d{1,5}$/.test(params.port)) throw new WarmupError('STORE_URL', `port must be a number (got "${params.port}")`);
  if (params.sslmode !== undefined && !isSslMode(params.sslmode)) {
    throw new WarmupError('STORE_URL', `sslmode must be one of ${SSLMODES.join(', ')} (got "${params.sslmode}")`);
  }
  if (params.connect_timeout !== undefined && !/^\d+$/.test(params.connect_timeout)) {
    throw new WarmupError('STORE_URL', `connect_timeout must be whole seconds (got "${params.connect_timeout}")`);
  }
  return { params };
}

/** Whether two store URLs name the same database (host, port, database; user and password aside). */
export function sameServer(a: string, b: string): boolean {
  try {
    const key = (url: string) => {
      const { params } = parsePostgresUrl(url);
      return `${params.service ?? ''}|${params.host ?? ''}|${params.port ?? '5432'}|${params.dbname ?? ''}`;
    };
    return key(a) === key(b);
  } catch {
    return false;
  }
}

/** Checks a store URL; the error message (without the password), or null when it is usable. */
export function postgresUrlProblem(url: string): string | null {
  try {
    parsePostgresUrl(url);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Reads one section of a pg_service.conf (INI: `[name]` then `key=value`); undefined when absent. */
export function readServiceSection(text: string, name: string): Record<string, string> | undefined {
  let current: string | null = null;
  let found: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = section[1]!.trim();
      if (current === name) found ??= {};
      continue;
    }
    if (current !== name) continue;
    const eq = line.indexOf('=');
    if (eq > 0) found![line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return found;
}

/**
 * TLS as node-postgres takes it (Node's tls.connect options). `verify-ca` checks the chain
 * only: `checkServerIdentity` accepts any name, as libpq's verify-ca does.
 */
export interface PgTls {
  readonly rejectUnauthorized: boolean;
  readonly ca?: string;
  readonly checkServerIdentity?: () => undefined;
}

/** What a pool needs to connect; `password` is undefined when none was given (then ~/.pgpass applies). */
export interface PgConnection {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string | undefined;
  /** The sslmode in force (the URL's, the service's, PGSSLMODE, else {@link DEFAULT_SSLMODE}). */
  readonly sslmode: SslMode;
  /** Whether `host` is a unix socket folder, where no sslmode asks for TLS (as in libpq). */
  readonly unixSocket: boolean;
  /**
   * TLS of each way to connect, in the order libpq tries them: one for `disable`, `require`,
   * `verify-*` (and for any mode over a unix socket: in the clear, as libpq ignores sslmode
   * there); two for `prefer` (TLS without checks, then in the clear) and `allow` (in the
   * clear, then TLS without checks).
   * When the second is tried is {@link fallsBack}'s to say.
   */
  readonly attempts: readonly [false | PgTls] | readonly [false | PgTls, false | PgTls];
  readonly applicationName: string;
  readonly connectTimeoutMs: number;
  /** The URL as shown in status, logs and errors: no password. */
  readonly location: string;
}

export interface PgConnectionOptions {
  /** The environment to read PG* variables from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** A file holding the password (the plan's `store.password_file`, e.g. a systemd credential). */
  readonly passwordFile?: string | undefined;
}

/**
 * Resolves a store URL into connection settings: URL, then the service file's
 * section, then PG* variables, then defaults; the password from the URL, the
 * password file, the service, PGPASSWORD, in that order (else ~/.pgpass).
 *
 * @throws WarmupError STORE_URL (bad URL, unknown service) or STORE_CREDENTIALS (unreadable password file)
 */
export function resolvePgConnection(url: string, options: PgConnectionOptions = {}): PgConnection {
  const env = options.env ?? process.env;
  const { params } = parsePostgresUrl(url);
  const serviceName = params.service ?? env.PGSERVICE;
  let service: Record<string, string> = {};
  if (serviceName) {
    const files = [env.PGSERVICEFILE ?? join(homedir(), '.pg_service.conf'), join(env.PGSYSCONFDIR ?? '/etc/postgresql-common', 'pg_service.conf')];
    const section = files.filter((f) => existsSync(f)).map((f) => readServiceSection(readFileSync(f, 'utf8'), serviceName)).find((s) => s !== undefined);
    if (!section) throw new WarmupError('STORE_URL', `PostgreSQL service "${serviceName}" is not defined in ${files.join(' or ')}`);
    service = section;
  }
  const pick = (key: Param, envName: string): string | undefined => params[key] ?? service[key] ?? (env[envName] || undefined);
  let password = params.password;
  if (password === undefined && options.passwordFile !== undefined) {
    try {
      password = readFileSync(options.passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new WarmupError('STORE_CREDENTIALS', `cannot read the database password file ${options.passwordFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
  }
  password ??= service.password ?? (env.PGPASSWORD || undefined);
  const host = pick('host', 'PGHOST') ?? (existsSync('/var/run/postgresql') ? '/var/run/postgresql' : 'localhost');
  const port = Number(pick('port', 'PGPORT') ?? 5432);
  const user = pick('user', 'PGUSER') ?? userInfo().username;
  const database = pick('dbname', 'PGDATABASE') ?? user;
  const sslmode = pick('sslmode', 'PGSSLMODE') ?? DEFAULT_SSLMODE;
  if (!isSslMode(sslmode)) throw new WarmupError('STORE_URL', `sslmode must be one of ${SSLMODES.join(', ')} (got "${sslmode}" from ${service.sslmode !== undefined ? `service "${serviceName}"` : 'PGSSLMODE'})`);
  const rootCert = pick('sslrootcert', 'PGSSLROOTCERT');
  const unixSocket = host.startsWith('/');
  const attempts = attemptsFor(sslmode, rootCert, unixSocket);
  const timeout = pick('connect_timeout', 'PGCONNECT_TIMEOUT');
  const hostPart = unixSocket ? encodeURIComponent(host) : host.includes(':') ? `[${host}]` : host;
  const shownParams = [serviceName ? `service=${encodeURIComponent(serviceName)}` : '', sslmode !== DEFAULT_SSLMODE ? `sslmode=${sslmode}` : ''].filter(Boolean).join('&');
  return {
    host, port, database, user, password, sslmode, unixSocket, attempts,
    applicationName: pick('application_name', 'PGAPPNAME') ?? 'warmup',
    connectTimeoutMs: timeout === undefined || Number(timeout) === 0 ? 10_000 : Number(timeout) * 1000,
    location: `postgres://${encodeURIComponent(user)}@${hostPart}:${port}/${encodeURIComponent(database)}${shownParams ? `?${shownParams}` : ''}`,
  };
}

function isSslMode(s: string): s is SslMode {
  return (SSLMODES as readonly string[]).includes(s);
}

/** Without TLS; TLS that checks nothing (what `prefer` and `allow` use when they encrypt, as libpq). */
const PLAIN = false;
const UNCHECKED: PgTls = Object.freeze({ rejectUnauthorized: false });

/**
 * The ways to connect of an sslmode, as libpq has them, in the order tried. `prefer`: TLS
 * when the server offers it, in the clear when it refuses TLS or the login with it; `allow`:
 * in the clear, and TLS when the server rejects that; neither checks the certificate.
 *
 * A unix socket never carries TLS: libpq sends no SSLRequest there whatever the sslmode
 * (fe-connect.c: "Don't request SSL or GSSAPI over Unix sockets"), so `require` and
 * `verify-*` too connect in the clear, without error, and sslrootcert is not read (libpq
 * reads it only to set up TLS). We follow it rather than refuse `verify-*` on a socket: the
 * same service or PGSSLMODE then serves psql and warmup alike, and a local socket is
 * authenticated by the kernel, not by a certificate. The store logs that choice.
 */
function attemptsFor(sslmode: SslMode, rootCert: string | undefined, unixSocket: boolean): PgConnection['attempts'] {
  if (unixSocket) return [PLAIN];
  if (sslmode === 'prefer') return [UNCHECKED, PLAIN];
  if (sslmode === 'allow') return [PLAIN, UNCHECKED];
  return [tlsFor(sslmode, rootCert)];
}

/**
 * Whether the first attempt's error is the one the sslmode answers with its second attempt.
 * `prefer`: the server answered 'N' to the SSLRequest (node-postgres's "The server does not
 * support SSL connections", see {@link refusedTls}), or refused the login over TLS with SQLSTATE
 * 28000, invalid authorization (a `hostnossl` line for the user: `no pg_hba.conf entry for
 * host "...", user "...", database "...", SSL encryption`). `allow`: the server refused the
 * plaintext login with 28000 (only `hostssl` lines: `..., no encryption`). libpq retries on
 * any error of the login; 28000 is the one the other encryption can cure (a wrong password,
 * 28P01, stays wrong), and checking the code rather than the text holds whatever the
 * server's lc_messages.
 */
export function fallsBack(sslmode: SslMode, err: unknown): boolean {
  const rejectedLogin = (err as { code?: unknown } | undefined)?.code === '28000';
  if (sslmode === 'prefer') return refusedTls(err) || rejectedLogin;
  if (sslmode === 'allow') return rejectedLogin;
  return false;
}

/** Whether the server answered 'N' to the SSLRequest (a server without TLS). */
export function refusedTls(err: unknown): boolean {
  return (err as Error | undefined)?.message === 'The server does not support SSL connections';
}

/**
 * The TLS of a fixed sslmode, as libpq has it: `require` encrypts without checking the
 * certificate (but checks the chain, as verify-ca, when a root certificate is named),
 * `verify-ca` checks the chain and not the host name, `verify-full` both.
 */
function tlsFor(sslmode: SslMode, rootCert: string | undefined): false | PgTls {
  if (sslmode !== 'require' && sslmode !== 'verify-ca' && sslmode !== 'verify-full') return PLAIN;
  let ca: string | undefined;
  if (rootCert !== undefined) {
    try {
      ca = readFileSync(rootCert, 'utf8');
    } catch (e) {
      throw new WarmupError('STORE_URL', `cannot read sslrootcert ${rootCert}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
  }
  if (sslmode === 'require' && ca === undefined) return { rejectUnauthorized: false };
  return { rejectUnauthorized: true, ...(ca === undefined ? {} : { ca }), ...(sslmode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }) };
}
