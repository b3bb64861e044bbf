/** Plan normalization: the day-end thresholds (plan-wide and per provider) and the reply rules. */
import { DEFAULT_THRESHOLDS } from '../defaults.js';
import type { WrittenThresholds } from '../schema.js';
import type { Rule, Thresholds } from '../types.js';
import type { KeyPath } from '../yaml-locate.js';
import type { NormalizeContext } from './context.js';

export interface PlanThresholds {
  /** The plan's own thresholds (`policy`), over the defaults. */
  readonly planThresholds: Thresholds;
  /** `t` (a provider's `policy`) over `base`. */
  thresholds(t: WrittenThresholds | undefined, base: Thresholds): Thresholds;
  /** Reports thresholds that contradict each other. */
  checkThresholds(path: KeyPath, t: Thresholds): void;
}

export function normalizeThresholds(ctx: NormalizeContext): PlanThresholds {
  const { w, err, dur } = ctx;
  const thresholds = (t: WrittenThresholds | undefined, base: Thresholds): Thresholds => Object.freeze({
    advanceAt: t?.advance_at ?? base.advanceAt,
    maxDeferralRate: t?.max_deferral_rate ?? base.maxDeferralRate,
    backOffDeferralRate: t?.back_off_deferral_rate ?? base.backOffDeferralRate,
    pauseBounceRate: t?.pause_bounce_rate ?? base.pauseBounceRate,
    backOffFactor: t?.back_off_factor ?? base.backOffFactor,
    flagAfterHolds: t?.flag_after_holds ?? base.flagAfterHolds,
    maxSpamRate: t?.max_spam_rate ?? base.maxSpamRate,
    rejectionBreaker: Object.freeze({
      windowMs: t?.rejection_breaker?.window ? dur(t.rejection_breaker.window) : base.rejectionBreaker.windowMs,
      sample: t?.rejection_breaker?.sample ?? base.rejectionBreaker.sample,
      minAttempts: t?.rejection_breaker?.min_attempts ?? base.rejectionBreaker.minAttempts,
      maxRejectionRate: t?.rejection_breaker?.max_rejection_rate ?? base.rejectionBreaker.maxRejectionRate,
      holdMs: t?.rejection_breaker?.hold === undefined ? base.rejectionBreaker.holdMs
        : t.rejection_breaker.hold === 'until_resumed' ? null : dur(t.rejection_breaker.hold),
    }),
  });
  const checkThresholds = (path: KeyPath, t: Thresholds): void => {
    if (t.backOffDeferralRate < t.maxDeferralRate) {
      err([...path, 'back_off_deferral_rate'], `must be at least max_deferral_rate (${t.maxDeferralRate}), got ${t.backOffDeferralRate}`);
    }
  };
  const planThresholds = thresholds(w.policy, DEFAULT_THRESHOLDS);
  checkThresholds(['policy'], planThresholds);
  return { planThresholds, thresholds, checkThresholds };
}

export function normalizeRules(ctx: NormalizeContext, providerNames: ReadonlySet<string>): Rule[] {
  const { w, err, dur } = ctx;
  return (w.policy?.rules ?? []).flatMap((r, i) => {
    const rp = ['policy', 'rules', i] as const;
    let match: RegExp | null = null;
    try { match = new RegExp(r.match, 'i'); } catch (e) { err([...rp, 'match'], `is not a valid regular expression: ${(e as Error).message}`); }
    if (r.provider !== undefined && !providerNames.has(r.provider)) err([...rp, 'provider'], `no provider named "${r.provider}"`);
    if (r.action === 'cut_rate' && r.factor === undefined) err([...rp, 'factor'], 'is required for action cut_rate');
    if (['suspend', 'cut_rate', 'one_connection', 'slow_mailbox'].includes(r.action) && r.duration === undefined) {
      err([...rp, 'duration'], `is required for action ${r.action} (how long it lasts, e.g. 2h)`);
    }
    let trigger: Rule['trigger'] = null;
    if (r.trigger && r.trigger !== 'immediate') {
      const [count, win] = r.trigger.split('/');
      trigger = { count: Number(count), windowMs: dur(win!) };
    }
    if (!match) return [];
    return [Object.freeze({
      name: r.name, provider: r.provider ?? null, match, trigger, action: r.action,
      factor: r.factor ?? null, durationMs: r.duration ? dur(r.duration) : null,
    })];
  });
}
