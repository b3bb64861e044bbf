/**
 * The model file of `warmup simulate --model FILE`: YAML that changes the
 * modelled receivers' knobs per provider. Parsed like a plan (YAML, then zod,
 * then rules), and every error carries the key path and line:column.
 *
 * @example
 * # model.yaml
 * default:                       # every provider
 *   random_deferral: 0
 * providers:
 *   gmail:                       # a plan provider, or a profile: gmail, yahoo, microsoft, apple, gmx, orange, yahoo-japan, docomo, au, softbank, rakuten, default
 *     hourly_limit: { start: 5, max: 300 }
 *     cooldown: 30m
 */
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../plan/duration.js';
import { duration } from '../plan/schema.js';
import type { Plan, PlanIssue } from '../plan/types.js';
import { formatPath, locate, type KeyPath } from '../plan/yaml-locate.js';
import { convertIssue } from '../plan/zod-issues.js';
import { parseReply } from '../send/classify.js';
import { PROFILES, profileFor, type ProviderModel } from './profiles.js';

const fraction = z.number().min(0).max(1);
const positive = z.number().positive();

/** The knobs of one provider, as written (all optional: unset knobs keep the profile's value). */
const knobs = z.strictObject({
  /** Built-in profile to start from (gmail, yahoo, microsoft, apple, default). */
  profile: z.string().optional(),
  reputation: z.strictObject({
    /** Reputation of a new IP, 0..1 (below 1). */
    start: z.number().min(0).lt(1).optional(),
    /** Accepted messages that take a new IP to reputation 0.63 (1 - 1/e). */
    volume: positive.optional(),
    /** Share of the earned reputation lost per attempt made while throttled. */
    ignored_penalty: fraction.optional(),
  }).optional(),
  hourly_limit: z.strictObject({ start: positive.optional(), max: positive.optional() }).optional(),
  cooldown: duration.optional(),
  greylist: z.strictObject({ share: fraction.optional(), delay: duration.optional() }).optional(),
  mailbox_per_hour: z.number().int().positive().optional(),
  random_deferral: fraction.optional(),
  block_below: fraction.nullable().optional(),
  latency_ms: z.strictObject({ min: z.number().int().nonnegative().optional(), max: z.number().int().nonnegative().optional() }).optional(),
  replies: z.strictObject({
    accepted: z.string().min(1).optional(),
    rate: z.string().min(1).optional(),
    mailbox: z.string().min(1).optional(),
    greylist: z.string().min(1).optional(),
    random: z.string().min(1).optional(),
    block: z.string().min(1).optional(),
  }).optional(),
});

export const modelFileSchema = z.strictObject({
  /** Applied to every provider, before its own entry. */
  default: knobs.optional(),
  /** Per plan provider name, or per profile name (applies to every provider using that profile). */
  providers: z.record(z.string(), knobs).optional(),
});

type Knobs = z.infer<typeof knobs>;
type Report = (path: KeyPath, message: string) => void;

/** Result of {@link loadModel}: a model per plan provider, or located errors. */
export type ModelResult =
  | { readonly ok: true; readonly models: ReadonlyMap<string, ProviderModel> }
  | { readonly ok: false; readonly errors: readonly PlanIssue[] };

/** The default model for each of the plan's providers (no model file). */
export function defaultModels(plan: Plan): Map<string, ProviderModel> {
  return new Map(plan.providers.map((p) => [p.name, PROFILES[profileFor(p.name, p.domains, p.catalogue)]!]));
}

/**
 * Parses a model file against a plan. Never throws for a bad file.
 *
 * @example
 * const r = loadModel(readFileSync('model.yaml', 'utf8'), plan);
 * if (!r.ok) for (const e of r.errors) console.error(formatIssue('model.yaml', e));
 */
export function loadModel(text: string, plan: Plan): ModelResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const errors: PlanIssue[] = [];
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
      errors.push({ severity: 'error', path: '', line: pos.line, column: pos.col, message: `YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` });
    }
    return { ok: false, errors };
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const report: Report = (path, message) => {
    const pos = locate(doc, lines, path);
    errors.push({ severity: 'error', path: formatPath(path), line: pos.line, column: pos.column, message });
  };
  const parsed = modelFileSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const raw of convertIssue(issue, data, modelFileSchema)) {
        const pos = locate(doc, lines, raw.path, raw.atKey);
        errors.push({ severity: 'error', path: formatPath(raw.path), line: pos.line, column: pos.column, message: raw.message });
      }
    }
    return { ok: false, errors: sorted(errors) };
  }
  const file = parsed.data;
  const names = new Set(plan.providers.map((p) => p.name));
  for (const key of Object.keys(file.providers ?? {})) {
    if (!names.has(key) && !Object.hasOwn(PROFILES, key)) {
      report(['providers', key], `is neither a provider of plan "${plan.name}" (${[...names].join(', ')}) nor a profile (${Object.keys(PROFILES).join(', ')})`);
    }
  }
  const models = new Map<string, ProviderModel>();
  for (const p of plan.providers) {
    const own = file.providers?.[p.name];
    const ownPath: KeyPath = ['providers', p.name];
    const profileName = own?.profile ?? file.default?.profile ?? profileFor(p.name, p.domains, p.catalogue);
    const base = PROFILES[profileName];
    if (!base) {
      report(own?.profile ? [...ownPath, 'profile'] : ['default', 'profile'], `unknown profile "${profileName}" (known: ${Object.keys(PROFILES).join(', ')})`);
      continue;
    }
    let m = base;
    if (file.default) m = apply(m, file.default, ['default'], report);
    const byProfile = file.providers?.[profileName];
    if (byProfile && !names.has(profileName)) m = apply(m, byProfile, ['providers', profileName], report);
    if (own) m = apply(m, own, ownPath, report);
    models.set(p.name, m);
  }
  return errors.length > 0 ? { ok: false, errors: sorted(errors) } : { ok: true, models };
}

/** The profile with the written knobs laid over it, checked. */
function apply(m: ProviderModel, k: Knobs, at: KeyPath, report: Report): ProviderModel {
  const ms = (text: string | undefined, path: string, fallback: number): number => (text === undefined ? fallback : parseDuration(text) ?? (report([...at, ...path.split('.')], 'is not a duration'), fallback));
  const out: ProviderModel = {
    profile: m.profile,
    reputation: {
      start: k.reputation?.start ?? m.reputation.start,
      volume: k.reputation?.volume ?? m.reputation.volume,
      ignoredPenalty: k.reputation?.ignored_penalty ?? m.reputation.ignoredPenalty,
    },
    hourlyLimit: { start: k.hourly_limit?.start ?? m.hourlyLimit.start, max: k.hourly_limit?.max ?? m.hourlyLimit.max },
    cooldownMs: ms(k.cooldown, 'cooldown', m.cooldownMs),
    greylist: { share: k.greylist?.share ?? m.greylist.share, delayMs: ms(k.greylist?.delay, 'greylist.delay', m.greylist.delayMs) },
    mailboxPerHour: k.mailbox_per_hour ?? m.mailboxPerHour,
    randomDeferral: k.random_deferral ?? m.randomDeferral,
    blockBelow: k.block_below === undefined ? m.blockBelow : k.block_below,
    latencyMs: { min: k.latency_ms?.min ?? m.latencyMs.min, max: k.latency_ms?.max ?? m.latencyMs.max },
    replies: { ...m.replies, ...k.replies },
  };
  if (out.hourlyLimit.max < out.hourlyLimit.start) report([...at, 'hourly_limit', k.hourly_limit?.max !== undefined ? 'max' : 'start'], `max (${out.hourlyLimit.max}) must be at least start (${out.hourlyLimit.start})`);
  if (out.latencyMs.max < out.latencyMs.min) report([...at, 'latency_ms'], `max (${out.latencyMs.max}) must be at least min (${out.latencyMs.min})`);
  // Each reply must be of the class its name says, or the simulation would lie about what it models.
  const expected: Record<keyof ProviderModel['replies'], number> = { accepted: 2, rate: 4, mailbox: 4, greylist: 4, random: 4, block: 5 };
  for (const [name, cls] of Object.entries(expected) as Array<[keyof ProviderModel['replies'], number]>) {
    const text = k.replies?.[name];
    if (text === undefined) continue;
    const code = parseReply(text).code;
    if (code === null || Math.floor(code / 100) !== cls) report([...at, 'replies', name], `must be an SMTP reply starting with a ${cls}xx code (got ${JSON.stringify(text.slice(0, 40))})`);
  }
  return out;
}

function sorted(list: PlanIssue[]): PlanIssue[] {
  return [...list].sort((a, b) => a.line - b.line || a.column - b.column);
}
