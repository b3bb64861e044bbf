/**
 * `warmup pause` and `warmup resume`: operator control over lanes. They write
 * lane state and an event to the database; a running daemon re-reads lane
 * state every tick, so it obeys within one tick.
 */
import { isIP } from 'node:net';
import { parseDuration } from '../../plan/duration.js';
import type { Plan } from '../../plan/types.js';
import { openStore } from '../../store/open.js';
import * as q from '../../store/queries.js';
import { ExitError } from '../../util/errors.js';
import { parse } from '../args.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

const TARGETS = `TARGET is an IP (every provider on it), a provider (on every IP), or both as
IP/PROVIDER (one lane); \`all\` is every lane. The plan comes from --plan or
the WARMUP_PLAN environment variable (or give it first: warmup pause PLAN.yaml TARGET).`;

export const pauseUsage = `Usage: warmup pause TARGET [--for DURATION] [--reason TEXT] [--plan PLAN.yaml] [--db PATH]

Takes lanes out of rotation until \`warmup resume\` (or for DURATION, e.g. 2h).
${TARGETS}`;

export const resumeUsage = `Usage: warmup resume TARGET [--reason TEXT] [--plan PLAN.yaml] [--db PATH]

Puts paused or suspended lanes back in rotation (also IPs paused by the DNSBL
monitor or by a rule). ${TARGETS}`;

/** Parses TARGET against the plan; returns the lane filter or an error message. */
export function parseTarget(plan: Plan, text: string): q.LaneTarget | { error: string } {
  if (text === 'all') return {};
  const [a, b] = text.includes('/') ? text.split('/', 2) : text.includes('@') && !isIP(text) ? text.split('@', 2).reverse() : [text, undefined];
  const ipText = a!;
  const isProvider = (n: string) => plan.providers.some((p) => p.name === n);
  const isPlanIp = (n: string) => plan.ips.some((i) => i.address === n);
  if (b === undefined) {
    if (isPlanIp(ipText)) return { ip: ipText };
    if (isProvider(ipText)) return { provider: ipText };
    return { error: `"${text}" is neither an IP nor a provider of plan ${plan.name} (providers: ${plan.providers.map((p) => p.name).join(', ')})` };
  }
  if (!isPlanIp(ipText)) return { error: `${ipText} is not one of the plan's IPs` };
  if (!isProvider(b)) return { error: `no provider "${b}" (providers: ${plan.providers.map((p) => p.name).join(', ')})` };
  return { ip: ipText, provider: b };
}

async function control(kind: 'pause' | 'resume', argv: readonly string[], io: CliIo): Promise<number> {
  const usage = kind === 'pause' ? pauseUsage : resumeUsage;
  const { values, positionals } = parse(argv, {
    plan: { type: 'string' }, db: { type: 'string' }, reason: { type: 'string' }, ...(kind === 'pause' ? { for: { type: 'string' } } : {}),
  }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const args = [...positionals];
  const planFile = /\.ya?ml$/.test(args[0] ?? '') ? args.shift()! : (values.plan as string | undefined) ?? io.env.WARMUP_PLAN;
  if (!planFile || args.length !== 1) { io.err(`warmup ${kind}: ${planFile ? 'expected one TARGET' : 'which plan? give --plan PLAN.yaml or set WARMUP_PLAN'}\n\n${usage}`); throw new ExitError(2); }
  const { plan } = loadOrExit(planFile, io, { quietWarnings: true });
  const target = parseTarget(plan, args[0]!);
  if ('error' in target) { io.err(`warmup ${kind}: ${target.error}`); throw new ExitError(2); }
  let forMs: number | null = null;
  const forText = (values as { for?: string }).for;
  if (forText !== undefined) {
    forMs = parseDuration(forText);
    if (forMs === null || forMs <= 0) { io.err(`warmup pause: --for must be a duration such as 30m, 2h or 1d (got ${forText})`); throw new ExitError(2); }
  }
  const store = await openStore((values.db as string | undefined) ?? plan.storePath, { readonly: false });
  try {
    const now = await q.daemonNow(store.db, plan.name, Date.now());
    const reason = (values.reason as string | undefined) ?? (kind === 'pause' ? 'paused by the operator' : 'resumed by the operator');
    // Lanes exist once the daemon has started; create them so a pause before the first start holds.
    await q.ensureLanes(store.db, plan.name, plan.ips.flatMap((ip) => plan.providers.map((p) => ({ ip: ip.address, provider: p.name }))), now);
    const changed = kind === 'pause'
      ? await q.changeLaneStates(store.db, plan.name, target, { state: 'paused', until: forMs === null ? null : now + forMs, reason, actor: 'operator', kind: 'operator_pause' }, now)
      : await q.changeLaneStates(store.db, plan.name, target, { state: 'active', until: null, reason, actor: 'operator', kind: 'operator_resume' }, now);
    const what = target.ip && target.provider ? `lane ${target.ip}/${target.provider}` : target.ip ? `IP ${target.ip}` : target.provider ? `provider ${target.provider}` : 'every lane';
    io.out(`${kind === 'pause' ? 'paused' : 'resumed'} ${what}: ${changed.length} lane${changed.length === 1 ? '' : 's'} changed${forMs !== null ? ` (until ${new Date(now + forMs).toISOString()})` : ''}`);
    return 0;
  } finally {
    await store.close();
  }
}

export const pause = { run: (argv: readonly string[], io: CliIo) => control('pause', argv, io) };
export const resume = { run: (argv: readonly string[], io: CliIo) => control('resume', argv, io) };
