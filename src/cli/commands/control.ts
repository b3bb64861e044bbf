/**
 * `warmup pause` and `warmup resume`: operator control over lanes. Pause puts
 * an operator hold on the lanes; resume takes operator holds off (and, when
 * asked by --holds, other kinds). Each change is an event; a running daemon
 * re-reads lanes every tick, so it obeys within one tick.
 */
import { isIP } from 'node:net';
import { parseDuration } from '../../plan/duration.js';
import type { Plan } from '../../plan/types.js';
import { openStoreFor } from '../../store/select.js';
import { HOLD_KINDS, type HoldKind, type LaneTarget } from '../../store/holds.js';
import { ExitError } from '../../util/errors.js';
import { parse } from '../args.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

const TARGETS = `TARGET is an IP (every provider on it), a provider (on every IP), or both as
IP/PROVIDER (one lane); \`all\` is every lane. The plan comes from --plan or
the WARMUP_PLAN environment variable (or give it first: warmup pause PLAN.yaml TARGET).`;

export const pauseUsage = `Usage: warmup pause TARGET [--for DURATION] [--reason TEXT] [--plan PLAN.yaml] [--db PATH|URL]

Takes lanes out of rotation until \`warmup resume\` (or for DURATION, e.g. 2h).
${TARGETS}`;

export const resumeUsage = `Usage: warmup resume TARGET [--holds KINDS] [--reason TEXT] [--plan PLAN.yaml] [--db PATH|URL]

Removes the operator's holds from the lanes. A lane sends again once no hold
is left on it; holds of other kinds stay unless named with --holds:
  --holds KINDS    also remove these kinds, comma-separated: policy (day-end
                   pause), dnsbl (listing), rule (reply rule), breaker
                   (circuit breaker), or all
The running daemon also forgets its rules' recent matches for these lanes.
${TARGETS}`;

/** Parses TARGET against the plan; returns the lane filter or an error message. */
export function parseTarget(plan: Plan, text: string): LaneTarget | { error: string } {
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

/** The kinds `resume --holds` removes: always the operator's, plus those named. */
function holdKinds(text: string | undefined): { kinds: HoldKind[] } | { error: string } {
  if (text === undefined) return { kinds: ['operator'] };
  const names = text.split(',').map((t) => t.trim()).filter(Boolean);
  if (names.includes('all')) return { kinds: [...HOLD_KINDS] };
  const bad = names.filter((n) => !(HOLD_KINDS as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) return { error: `--holds takes ${HOLD_KINDS.join(', ')} or all, comma-separated (got ${text})` };
  return { kinds: [...new Set<HoldKind>(['operator', ...names as HoldKind[]])] };
}

async function control(kind: 'pause' | 'resume', argv: readonly string[], io: CliIo): Promise<number> {
  const usage = kind === 'pause' ? pauseUsage : resumeUsage;
  const { values, positionals } = parse(argv, {
    plan: { type: 'string' }, db: { type: 'string' }, reason: { type: 'string' }, ...(kind === 'pause' ? { for: { type: 'string' } } : { holds: { type: 'string' } }),
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
  const kinds = holdKinds((values as { holds?: string }).holds);
  if ('error' in kinds) { io.err(`warmup resume: ${kinds.error}`); throw new ExitError(2); }
  const store = await openStoreFor({ plan, db: values.db as string | undefined });
  try {
    const now = await store.daemonNow(plan.name, Date.now());
    const reason = (values.reason as string | undefined) ?? (kind === 'pause' ? 'paused by the operator' : 'resumed by the operator');
    // Lanes exist once the daemon has started; create them so a pause before the first start holds.
    await store.ensureLanes(plan.name, plan.ips.flatMap((ip) => plan.providers.map((p) => ({ ip: ip.address, provider: p.name }))), now);
    const what = target.ip && target.provider ? `lane ${target.ip}/${target.provider}` : target.ip ? `IP ${target.ip}` : target.provider ? `provider ${target.provider}` : 'every lane';
    if (kind === 'pause') {
      const changed = await store.addHold(plan.name, target, { kind: 'operator', actor: 'operator', reason, until: forMs === null ? null : now + forMs, eventKind: 'operator_pause' }, now);
      io.out(`paused ${what}: ${changed.length} lane${changed.length === 1 ? '' : 's'} changed${forMs !== null ? ` (until ${new Date(now + forMs).toISOString()})` : ''}`);
      return 0;
    }
    const removed = await store.removeHolds(plan.name, target, { kinds: kinds.kinds, by: 'operator', reason, eventKind: 'operator_resume' }, now);
    const lanes = new Set(removed.map((c) => c.laneId));
    io.out(`resumed ${what}: ${lanes.size} lane${lanes.size === 1 ? '' : 's'} changed (${removed.length} hold${removed.length === 1 ? '' : 's'} removed: ${kinds.kinds.join(', ')})`);
    const held = (await store.loadLanes(plan.name)).filter((l) => (!target.ip || l.ip === target.ip) && (!target.provider || l.provider === target.provider));
    const left = await store.listHolds(plan.name, held.map((l) => l.id));
    const byId = new Map(held.map((l) => [l.id, l]));
    for (const h of left) {
      const l = byId.get(h.lane_id)!;
      io.out(`still held: ${l.ip}/${l.provider} by ${h.actor} (${h.kind}): ${h.reason}${h.until !== null ? ` until ${new Date(h.until).toISOString()}` : ''}; add --holds ${h.kind} to remove it`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

export const pause = { run: (argv: readonly string[], io: CliIo) => control('pause', argv, io) };
export const resume = { run: (argv: readonly string[], io: CliIo) => control('resume', argv, io) };
