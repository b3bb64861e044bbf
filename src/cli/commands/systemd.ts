import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { planSchema, type WrittenPlan } from '../../plan/schema.js';
import {
  DEFAULT_BIN, DEFAULT_CREDENTIALS_DIR, DEFAULT_PLAN_PATH, UNIT_DB_PATH, planSecrets, renderUnit,
} from '../../ops/systemd.js';
import { ExitError, WarmupError } from '../../util/errors.js';
import { parse, planArg } from '../args.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

export const usage = `Usage: warmup systemd PLAN.yaml [--user NAME] [--bin PATH] [--plan-path PATH] [--credentials-dir DIR] [--host NAME]

Prints a hardened systemd unit that runs \`warmup start\` for this plan.

  --user NAME            run as this existing system user (default: DynamicUser=yes)
  --bin PATH             the warmup executable on the host (default ${DEFAULT_BIN})
  --plan-path PATH       where the plan lives on the host (default ${DEFAULT_PLAN_PATH})
  --credentials-dir DIR  root-only folder systemd loads secrets from (default ${DEFAULT_CREDENTIALS_DIR})
  --host NAME            a fleet: this host's name as the plan's ips[].host says it, passed
                         to warmup start --host (default: none, the machine's host name)

The database is ${UNIT_DB_PATH} (StateDirectory=warmup); set the plan's
store.path to it so \`warmup status\` and \`warmup report\` read the same file.
Secrets the plan names as \${CREDENTIALS_DIRECTORY}/NAME, and every secret it
reads from an environment variable VAR, are loaded from DIR/NAME or DIR/VAR.
The plan is checked as the service will see it (CREDENTIALS_DIRECTORY=DIR).
Warnings go to stderr, the unit to stdout:

  warmup systemd plan.yaml > /etc/systemd/system/warmup.service`;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    user: { type: 'string' }, bin: { type: 'string' }, 'plan-path': { type: 'string' }, 'credentials-dir': { type: 'string' }, host: { type: 'string' },
  }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const credentialsDir = (values['credentials-dir'] ?? DEFAULT_CREDENTIALS_DIR).replace(/\/+$/, '');
  for (const [opt, v] of [['--bin', values.bin], ['--plan-path', values['plan-path']], ['--credentials-dir', credentialsDir]] as const) {
    if (v !== undefined && !isAbsolute(v)) { io.err(`warmup systemd: ${opt} must be an absolute path (got ${v})`); throw new ExitError(2); }
  }

  // Secrets are discovered from the plan as written (the normalized plan has
  // read the files already and no longer says where they came from).
  const written = readWritten(resolve(io.cwd, file));
  const secrets = written ? planSecrets(written, credentialsDir) : { credentials: [], warnings: [] };
  // Check the plan as the service will load it: CREDENTIALS_DIRECTORY set, env secrets exported.
  const env: Record<string, string | undefined> = { ...io.env, CREDENTIALS_DIRECTORY: credentialsDir };
  for (const c of secrets.credentials) {
    if (c.env !== null && env[c.env] === undefined && existsSync(c.source)) env[c.env] = readFileSync(c.source, 'utf8').replace(/\n+$/, '');
  }
  const { plan } = loadOrExit(file, { ...io, env });

  for (const w of secrets.warnings) io.err(`warning: ${w}`);
  for (const c of secrets.credentials) {
    if (!existsSync(c.source)) io.err(`warning: ${c.key}: ${c.source} does not exist yet; systemd refuses to start the unit without it`);
  }
  if (plan.storeServer === null && plan.storePath !== UNIT_DB_PATH) {
    io.err(`warning: the plan's store is ${plan.storePath}; the unit uses ${UNIT_DB_PATH}. Set store.path to it so warmup status and report read the service's database.`);
  }
  const listen = plan.postfix?.listen;
  if (listen?.kind === 'unix' && !listen.path.startsWith('/run/') && !existsSync(listen.path.slice(0, listen.path.lastIndexOf('/')) || '/')) {
    io.err(`warning: postfix.listen: ${listen.path.slice(0, listen.path.lastIndexOf('/'))} does not exist; the unit makes it writable (ReadWritePaths) but does not create it: create it, or put the socket under /run/warmup`);
  }
  const host = values.host?.toLowerCase() ?? null;
  if (host !== null && !plan.ips.some((ip) => ip.hosts?.includes(host))) {
    io.err(`warning: --host ${host}: the plan assigns no IP to it (ips[].host); its daemon sends only from the floating IPs it can bind`);
  }
  const planPath = values['plan-path'] ?? DEFAULT_PLAN_PATH;
  if (/^\/(home|root|run\/user)\//.test(planPath)) {
    io.err(`warning: ${planPath} is under a home folder, which ProtectHome=yes hides from the service: put the plan in /etc/warmup`);
  }
  try {
    io.out(renderUnit({
      planName: plan.name, planPath, bin: values.bin ?? DEFAULT_BIN, user: values.user ?? null, credentials: secrets.credentials,
      storeServer: plan.storeServer !== null,
      socketPath: plan.postfix?.listen.kind === 'unix' ? plan.postfix.listen.path : null,
      host,
    }));
  } catch (e) {
    if (e instanceof WarmupError) { io.err(`warmup systemd: ${e.message}`); throw new ExitError(2); }
    throw e;
  }
  return 0;
}

/** The plan as written, or null when it does not parse (loadOrExit then reports why). */
function readWritten(path: string): WrittenPlan | null {
  try {
    const r = planSchema.safeParse(parseYaml(readFileSync(path, 'utf8')));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}
