/**
 * Written plan -> normalized Plan: defaults, ranges expanded, files read, and
 * every cross-field rule. Errors are collected (not thrown) with the key path
 * they are about; files are read through the injected `PlanFiles`. One file
 * per section under ./normalize/; this one puts the sections together.
 */
import { resolve } from 'node:path';
import { DEFAULT_BREAKER, DEFAULT_DNSBL_ZONES, DEFAULTS } from './defaults.js';
import { deriveLaneRamps } from './launch-volume.js';
import type { WrittenPlan } from './schema.js';
import type { Plan } from './types.js';
import { normalizeContext, type NormalizeOptions, type Report } from './normalize/context.js';
import { normalizeIps, normalizeProviders } from './normalize/lanes.js';
import { normalizeDelivery, normalizeMetrics, normalizePostfix } from './normalize/network.js';
import { normalizeRules, normalizeThresholds } from './normalize/policy.js';
import { normalizeDates, normalizeRamps } from './normalize/ramps.js';
import { normalizeContent, normalizeSender } from './normalize/sender.js';
import { normalizeStoreServer } from './normalize/store.js';

export type { NormalizeOptions, PlanFiles, SecretsMode } from './normalize/context.js';

export function normalizePlan(w: WrittenPlan, opts: NormalizeOptions, error: Report, warn: Report): Plan | null {
  const ctx = normalizeContext(w, opts, error, warn);
  const { err, dur, filePath } = ctx;
  const dates = normalizeDates(ctx);
  const ramps = normalizeRamps(ctx, dates);
  const policy = normalizeThresholds(ctx);
  const ips = normalizeIps(ctx, dates, ramps);
  const providers = normalizeProviders(ctx, ramps, policy);
  const lanedIps = dates.datesOk ? deriveLaneRamps(w, ips, providers, dates.skipDays, err, warn) : ips;
  const sender = normalizeSender(ctx);
  const providerNames = new Set(Object.keys(w.providers));
  const rules = normalizeRules(ctx, providerNames);
  const content = normalizeContent(ctx);
  const delivery = normalizeDelivery(ctx, providerNames);


  const webhook = w.alerts?.webhook;
  if (webhook && !/^https?:/.test(webhook.url)) err(['alerts', 'webhook', 'url'], `must be an http(s) URL (got "${webhook.url}")`);

  const storePath = w.store?.path !== undefined
    ? filePath(['store', 'path'], w.store.path)
    : resolve(opts.baseDir, DEFAULTS.storePath);
  const storeServer = normalizeStoreServer(ctx);
  const metrics = normalizeMetrics(ctx);
  const postfix = normalizePostfix(ctx);

  if (ctx.failed() || !ramps.defaultRamp) return null;
  return Object.freeze({
    file: opts.file,
    name: w.name,
    timezone: w.timezone,
    start: w.start,
    launch: w.launch,
    window: Object.freeze(dates.window),
    skipDays: Object.freeze(dates.skipDays),
    sender,
    ips: Object.freeze(lanedIps),
    providers: Object.freeze(providers),
    policy: Object.freeze({
      thresholds: policy.planThresholds,
      rules: Object.freeze(rules),
      disabledRules: Object.freeze([...(w.policy?.disable_rules ?? [])]),
      breaker: Object.freeze({
        windowMs: dur(w.policy?.circuit_breaker?.window ?? DEFAULT_BREAKER.window),
        minAttempts: w.policy?.circuit_breaker?.min_attempts ?? DEFAULT_BREAKER.minAttempts,
        maxDeferralRate: w.policy?.circuit_breaker?.max_deferral_rate ?? DEFAULT_BREAKER.maxDeferralRate,
        suspendMs: dur(w.policy?.circuit_breaker?.suspend ?? DEFAULT_BREAKER.suspend),
      }),
      retryGraceMs: dur(w.policy?.retry_grace ?? DEFAULTS.retryGrace),
    }),
    dnsbl: Object.freeze({
      zones: Object.freeze([...(w.dnsbl?.zones ?? DEFAULT_DNSBL_ZONES)]),
      intervalMs: dur(w.dnsbl?.interval ?? DEFAULTS.dnsblInterval),
      autoResumeAfterMs: w.dnsbl?.auto_resume_after ? dur(w.dnsbl.auto_resume_after) : null,
      queriesPerSecond: w.dnsbl?.queries_per_second ?? DEFAULTS.dnsblQueriesPerSecond,
    }),
    imap: Object.freeze({
      pollIntervalMs: dur(w.imap?.poll_interval ?? DEFAULTS.imapPollInterval),
      missingAfterMs: dur(w.imap?.missing_after ?? DEFAULTS.imapMissingAfter),
    }),
    alerts: Object.freeze({ webhook: webhook ? Object.freeze({ url: webhook.url, secretEnv: webhook.secret_env ?? null }) : null }),
    content,
    delivery,
    warnings: Object.freeze({
      mailboxPerDay: w.warnings?.mailbox_per_day ?? DEFAULTS.mailboxPerDay,
      ipPeakPerDay: w.warnings?.ip_peak_per_day ?? DEFAULTS.ipPeakPerDay,
    }),
    storePath: storePath ?? resolve(opts.baseDir, DEFAULTS.storePath),
    storeServer,
    postfix,
    metrics,
  });
}
