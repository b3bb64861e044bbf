/**
 * A hardened systemd unit for `warmup start`. Pure: the CLI command reads the
 * plan and hands over what the unit needs; this module only writes text.
 *
 * The daemon opens outgoing TCP to port 25 from its lane IPs (binding a local
 * source address needs no capability), queries DNS over UDP/TCP, writes its
 * SQLite database in the state directory and logs JSON to stdout. Everything
 * else is switched off, so `systemd-analyze security` rates the unit 1.1 ("OK").
 */
import type { WrittenPlan } from '../plan/schema.js';
import { WarmupError } from '../util/errors.js';

/** Where the database lives under `StateDirectory=warmup`. */
export const UNIT_DB_PATH = '/var/lib/warmup/warmup.db';
/** Default folder the credentials are loaded from (root-only, 0700). */
export const DEFAULT_CREDENTIALS_DIR = '/etc/warmup/credentials';
/** Default location of the `warmup` executable (`npm install -g`). */
export const DEFAULT_BIN = '/usr/local/bin/warmup';
/** The plan's path on the host. */
export const DEFAULT_PLAN_PATH = '/etc/warmup/plan.yaml';
/** The daemon's own drain period on SIGTERM (Daemon `drainMs` default). */
export const DAEMON_DRAIN_MS = 30_000;

/** One secret systemd copies into `$CREDENTIALS_DIRECTORY` for the service. */
export interface UnitCredential {
  /** Credential name: the file name under `$CREDENTIALS_DIRECTORY`. */
  readonly name: string;
  /** Absolute path systemd reads it from (as root, before dropping privileges). */
  readonly source: string;
  /** Set: the plan reads this secret from an environment variable, exported from the credential. */
  readonly env: string | null;
  /** Plan key that names it, for comments and messages. */
  readonly key: string;
}

export interface UnitOptions {
  readonly planName: string;
  /** Absolute path of the plan on the host. */
  readonly planPath: string;
  /** Absolute path of the `warmup` executable. */
  readonly bin: string;
  /** A system user created beforehand; null: `DynamicUser=yes`. */
  readonly user: string | null;
  readonly credentials: readonly UnitCredential[];
  /** The daemon's drain on SIGTERM; TimeoutStopSec leaves 30 s more. */
  readonly drainMs?: number;
  /** The plan's store is a PostgreSQL server (`store.url`): no `--db`, the plan names it. */
  readonly storeServer?: boolean;
  /**
   * The plan answers Postfix on this unix socket (`postfix.listen: unix:PATH`): its folder must be
   * writable by the service (ProtectSystem=strict leaves nothing else writable) and reachable by
   * Postfix. Under /run: a RuntimeDirectory; elsewhere the folder is named in ReadWritePaths.
   */
  readonly socketPath?: string | null;
  /** A fleet: the daemon's host name (`warmup start --host`), when it is not the machine's own. */
  readonly host?: string | null;
}

const SAFE_PATH = /^\/[A-Za-z0-9._+@/-]*$/;
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const USER_NAME = /^[a-z_][a-z0-9_-]*\$?$/;
/** A host name as `warmup start --host` takes it (lower case: start lower-cases it), safe in ExecStart unquoted. */
const SAFE_HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/**
 * Paths go into ExecStart (and, with env secrets, into a `sh -c` string), so
 * they are held to characters that need no quoting in either: that keeps the
 * generator free of two escaping grammars.
 */
function checkPath(what: string, p: string): void {
  if (!SAFE_PATH.test(p) || p.includes('//')) {
    throw new WarmupError('UNIT_PATH', `${what} must be an absolute path of letters, digits and . _ + @ - / (got "${p}")`);
  }
}

/**
 * The unit file text.
 *
 * @example
 * renderUnit({ planName: 'acme', planPath: '/etc/warmup/plan.yaml', bin: '/usr/local/bin/warmup', user: null, credentials: [] })
 */
export function renderUnit(o: UnitOptions): string {
  checkPath('--plan-path', o.planPath);
  checkPath('--bin', o.bin);
  if (o.user !== null && !USER_NAME.test(o.user)) throw new WarmupError('UNIT_USER', `"${o.user}" is not a valid user name`);
  for (const c of o.credentials) {
    checkPath(`the credential source for ${c.key}`, c.source);
    if (!SAFE_NAME.test(c.name)) throw new WarmupError('UNIT_CREDENTIAL', `${c.key}: credential name "${c.name}" must be letters, digits and . _ -`);
    if (c.env !== null && !ENV_NAME.test(c.env)) throw new WarmupError('UNIT_CREDENTIAL', `${c.key}: "${c.env}" is not an environment variable name`);
  }
  const drainMs = o.drainMs ?? DAEMON_DRAIN_MS;
  const stopSec = Math.ceil(drainMs / 1000) + 30;
  if (o.host && !SAFE_HOST.test(o.host)) throw new WarmupError('UNIT_HOST', `"${o.host}" is not a host name`);
  const start = `${o.bin} start ${o.planPath}${o.storeServer ? '' : ` --db ${UNIT_DB_PATH}`}${o.host ? ` --host ${o.host}` : ''}`;
  const envSecrets = o.credentials.filter((c) => c.env !== null);
  // systemd cannot turn a credential into an environment variable, so a tiny
  // shell exports those the plan reads from the environment, then execs the
  // daemon (same PID: signals and journald attribution are unchanged). `$$` is
  // systemd's escape for a literal `$`.
  const execStart = envSecrets.length === 0
    ? start
    : `/bin/sh -c '${envSecrets.map((c) => `${c.env}="$$(cat "$$CREDENTIALS_DIRECTORY/${c.name}")"`).join(' ')} && export ${envSecrets.map((c) => c.env).join(' ')} && exec ${start}'`;

  const lines: string[] = [
    `# warmup: IP warm-up daemon for plan "${o.planName.replace(/[\r\n]/g, ' ')}".`,
    '# Generated by `warmup systemd`. Install as /etc/systemd/system/warmup.service, then:',
    '#   systemctl daemon-reload && systemctl enable --now warmup',
    '[Unit]',
    'Description=warmup IP warm-up scheduler',
    'Wants=network-online.target',
    'After=network-online.target',
    // A plan that keeps failing to start should not hammer the MXes with reconnects.
    'StartLimitIntervalSec=1h',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=exec',
    `ExecStart=${execStart}`,
    ...(o.user === null ? ['DynamicUser=yes'] : [`User=${o.user}`, `Group=${o.user}`]),
    '# The database: /var/lib/warmup, created and owned for the service user.',
    'StateDirectory=warmup',
    'StateDirectoryMode=0700',
    'WorkingDirectory=/var/lib/warmup',
  ];
  if (o.socketPath) lines.push(...socketLines(o.socketPath));
  if (o.credentials.length > 0) {
    lines.push('# Secrets: copied by systemd into $CREDENTIALS_DIRECTORY (readable by this service only).');
    for (const c of o.credentials) lines.push(`# ${c.key}${c.env ? ` (exported as ${c.env})` : ''}`, `LoadCredential=${c.name}:${c.source}`);
  }
  lines.push(
    '',
    '# Stopping: SIGTERM lets sends in flight finish (the daemon drains them for',
    `# ${Math.round(drainMs / 1000)} s), then records the run's end; SIGKILL only after TimeoutStopSec.`,
    'KillSignal=SIGTERM',
    'KillMode=mixed',
    `TimeoutStopSec=${stopSec}s`,
    'Restart=on-failure',
    'RestartSec=30s',
    '# Exit 2 is a bad plan or bad options: restarting would not fix it.',
    'RestartPreventExitStatus=2',
    '',
    '# Logs: JSON lines on stdout into the journal (journalctl -u warmup -o cat).',
    'StandardOutput=journal',
    'StandardError=journal',
    'SyslogIdentifier=warmup',
    '',
    '# Sandbox. Sending from a lane IP is an ordinary bind() of a local address',
    '# before connect(): no capability is needed, so the sets are empty.',
    'CapabilityBoundingSet=',
    'AmbientCapabilities=',
    'NoNewPrivileges=yes',
    '# SMTP and DNS over IPv4/IPv6; AF_UNIX for the resolver (nscd) and the journal.',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'PrivateUsers=yes',
    'PrivateMounts=yes',
    'PrivateIPC=yes',
    'ProtectHostname=yes',
    'ProtectClock=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectProc=invisible',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'RemoveIPC=yes',
    'KeyringMode=private',
    'DevicePolicy=closed',
    'UMask=0077',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallFilter=~@privileged @resources',
    'SystemCallErrorNumber=EPERM',
    '# Left on purpose: Node\'s JIT needs writable+executable memory',
    '# (MemoryDenyWriteExecute), the MXes are anywhere (IPAddressAllow), and',
    '# ProcSubset=pid would hide /proc/meminfo that Node sizes its heap from.',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  );
  return lines.join('\n');
}

/**
 * The lines that let the daemon make its socketmap socket (`postfix.listen: unix:PATH`): a folder
 * under /run is a RuntimeDirectory (made at start, owned by the service user, 0755 so Postfix
 * reaches the socket warmup makes 0666; removed at stop); any other folder must exist and is
 * made writable with ReadWritePaths.
 */
function socketLines(socketPath: string): string[] {
  checkPath('postfix.listen', socketPath);
  const folder = socketPath.slice(0, socketPath.lastIndexOf('/'));
  const comment = '# postfix.listen: the socketmap socket Postfix asks (its folder writable by the service).';
  if (folder.startsWith('/run/') && folder.length > '/run/'.length) {
    return [comment, `RuntimeDirectory=${folder.slice('/run/'.length)}`, 'RuntimeDirectoryMode=0755'];
  }
  if (folder === '' || folder === '/run') throw new WarmupError('UNIT_PATH', `postfix.listen: put the socket in a folder of its own (got "${socketPath}"), e.g. /run/warmup/socketmap`);
  return [comment, `ReadWritePaths=${folder}`];
}

/** What `planSecrets` found: credentials for the unit, and advice for the operator. */
export interface PlanSecrets {
  readonly credentials: readonly UnitCredential[];
  /** Secret files the plan names outside `${CREDENTIALS_DIRECTORY}` (they still work, but unprotected). */
  readonly warnings: readonly string[];
}

const CRED_REF = /^\$\{CREDENTIALS_DIRECTORY\}\/([^/]+)$/;

/**
 * The secrets a written plan names: DKIM key file or variable, IMAP password
 * files or variables, the webhook secret variable, the database password file. A file written as
 * `${CREDENTIALS_DIRECTORY}/NAME` becomes `LoadCredential=NAME:<dir>/NAME`; a
 * variable VAR becomes `LoadCredential=VAR:<dir>/VAR` exported as VAR.
 */
export function planSecrets(w: WrittenPlan, credentialsDir: string): PlanSecrets {
  const byName = new Map<string, UnitCredential>();
  const warnings: string[] = [];
  const addFile = (key: string, file: string | undefined): void => {
    if (file === undefined) return;
    const m = CRED_REF.exec(file);
    if (!m) {
      const base = file.split('/').at(-1) ?? 'secret';
      warnings.push(`${key} is "${file}": the service reads it directly, so it must be readable by the service user. `
        + `Write it as \${CREDENTIALS_DIRECTORY}/${base} and put the file in ${credentialsDir}/ so systemd hands it over (LoadCredential) and it stays root-only.`);
      return;
    }
    if (!byName.has(m[1]!)) byName.set(m[1]!, { name: m[1]!, source: `${credentialsDir}/${m[1]}`, env: null, key });
  };
  const addEnv = (key: string, variable: string | undefined): void => {
    if (variable === undefined || byName.has(variable)) return;
    byName.set(variable, { name: variable, source: `${credentialsDir}/${variable}`, env: variable, key });
  };
  addFile('sender.dkim.private_key_file', w.sender.dkim?.private_key_file);
  addEnv('sender.dkim.private_key_env', w.sender.dkim?.private_key_env);
  for (const [name, p] of Object.entries(w.providers)) {
    addFile(`providers.${name}.imap.password_file`, p.imap?.password_file);
    addEnv(`providers.${name}.imap.password_env`, p.imap?.password_env);
    (p.seeds ?? []).forEach((s, i) => {
      if (typeof s === 'string') return;
      addFile(`providers.${name}.seeds[${i}].imap.password_file`, s.imap?.password_file);
      addEnv(`providers.${name}.seeds[${i}].imap.password_env`, s.imap?.password_env);
    });
  }
  addEnv('alerts.webhook.secret_env', w.alerts?.webhook?.secret_env);
  addFile('store.password_file', w.store?.password_file);
  return { credentials: [...byName.values()], warnings };
}
