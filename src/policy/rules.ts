/**
 * Reply-pattern rules within the day, modelled on KumoMTA's traffic-shaping
 * automation: a regex over the reply, a trigger (at once or N matches in a
 * window), an action on the lane, IP, provider or everything, and a duration
 * after which it lapses. Plus a sliding-window circuit breaker on the lane's
 * deferral rate that acts where no rule matches. Pure: callers pass `now`.
 */
import type { Plan, Provider, Rule } from '../plan/types.js';
import { BUILTIN_RULE_SPECS, FAMILY_DOMAINS } from './builtin-rules.js';

export interface Observation {
  readonly ip: string;
  readonly provider: string;
  readonly recipient: string;
  readonly outcome: string;
  /** The one-line reply: `CODE ENHANCED text`, or `ERRCODE: message`. */
  readonly text: string;
  /** The reply speaks about the mailbox, not the IP (e.g. Gmail 450 4.2.1). */
  readonly mailboxSignal: boolean;
}

export interface RuleAction {
  /** The rule's name, or `circuit-breaker`. */
  readonly rule: string;
  readonly action: Rule['action'];
  /** Which lanes it applies to; an empty scope is every lane. */
  readonly scope: { readonly ip?: string; readonly provider?: string };
  readonly until: number | null;
  readonly factor: number | null;
  readonly mailbox: string | null;
  readonly reply: string;
}

/** True when a provider of the plan belongs to a rule family (by domain or MX suffix). */
function providerInFamily(provider: Provider, family: string): boolean {
  const names = FAMILY_DOMAINS[family] ?? [];
  return names.some((n) => (n.startsWith('.') ? provider.mxSuffixes.includes(n) : provider.domains.includes(n)));
}

/**
 * The rules in force for a plan: the built-in pack bound to the plan's
 * providers of each family (a family no provider belongs to applies to all, so
 * nothing is lost when a plan names its providers differently), then the
 * plan's own rules, which replace built-in ones of the same name; minus the
 * disabled ones. Returned with one entry per (rule, provider or null).
 */
export function effectiveRules(plan: Plan): Rule[] {
  const own = new Set(plan.policy.rules.map((r) => r.name));
  const out: Rule[] = [];
  for (const spec of BUILTIN_RULE_SPECS) {
    if (own.has(spec.name) || plan.policy.disabledRules.includes(spec.name)) continue;
    const members = plan.providers.filter((p) => providerInFamily(p, spec.family));
    const { family: _f, sample: _s, match, ...rest } = spec;
    const re = new RegExp(match, 'i');
    if (members.length === 0) out.push({ ...rest, match: re, provider: null });
    else for (const p of members) out.push({ ...rest, match: re, provider: p.name });
  }
  for (const r of plan.policy.rules) if (!plan.policy.disabledRules.includes(r.name)) out.push(r);
  return out;
}

interface Window { readonly times: number[] }

/**
 * Holds the sliding windows; `observe` returns the actions an attempt fires.
 * An action is not fired again for the same scope while its effect lasts.
 */
export class RuleEngine {
  readonly #rules: readonly Rule[];
  readonly #breaker: Plan['policy']['breaker'];
  readonly #matches = new Map<string, Window>();
  readonly #active = new Map<string, number>();
  readonly #attempts = new Map<string, Array<{ at: number; deferred: boolean }>>();

  constructor(rules: readonly Rule[], breaker: Plan['policy']['breaker']) {
    this.#rules = rules;
    this.#breaker = breaker;
  }

  observe(o: Observation, now: number): RuleAction[] {
    const actions: RuleAction[] = [];
    const lane = `${o.ip}|${o.provider}`;
    for (const rule of this.#rules) {
      if (rule.provider !== null && rule.provider !== o.provider) continue;
      if (!rule.match.test(o.text)) continue;
      if (rule.trigger) {
        const key = `${rule.name}|${lane}`;
        const w = this.#matches.get(key) ?? { times: [] };
        w.times.push(now);
        while (w.times.length && w.times[0]! <= now - rule.trigger.windowMs) w.times.shift();
        this.#matches.set(key, w);
        if (w.times.length < rule.trigger.count) continue;
        w.times.length = 0;
      }
      const scope = scopeOf(rule.action, o);
      const activeKey = `${rule.name}|${rule.action}|${scope.ip ?? '*'}|${scope.provider ?? '*'}|${rule.action === 'slow_mailbox' ? o.recipient : ''}`;
      const activeUntil = this.#active.get(activeKey);
      if (activeUntil !== undefined && activeUntil > now) continue;
      const until = rule.durationMs === null ? null : now + rule.durationMs;
      this.#active.set(activeKey, until ?? Number.POSITIVE_INFINITY);
      actions.push({ rule: rule.name, action: rule.action, scope, until, factor: rule.factor, mailbox: rule.action === 'slow_mailbox' ? o.recipient : null, reply: o.text });
    }
    // Per-mailbox answers say nothing about the IP: keep them out of the breaker.
    if (!o.mailboxSignal) {
      const list = this.#attempts.get(lane) ?? [];
      list.push({ at: now, deferred: o.outcome !== 'accepted' && o.outcome !== 'bounced' });
      while (list.length && list[0]!.at <= now - this.#breaker.windowMs) list.shift();
      this.#attempts.set(lane, list);
      const deferred = list.filter((a) => a.deferred).length;
      const key = `circuit-breaker|${lane}`;
      const activeUntil = this.#active.get(key);
      if (list.length >= this.#breaker.minAttempts && deferred / list.length > this.#breaker.maxDeferralRate && !(activeUntil !== undefined && activeUntil > now)
          && !actions.some((a) => a.action === 'suspend' || a.action === 'pause' || a.action === 'pause_ip' || a.action === 'stop_all')) {
        const until = now + this.#breaker.suspendMs;
        const rate = Math.round((100 * deferred) / list.length);
        this.#active.set(key, until);
        list.length = 0;
        actions.push({
          rule: 'circuit-breaker', action: 'suspend', scope: { ip: o.ip, provider: o.provider }, until, factor: null, mailbox: null,
          reply: `deferral rate ${rate}% over the last window; last reply: ${o.text}`,
        });
      }
    }
    return actions;
  }

  /**
   * Forgets what the engine remembers about a lane (an operator resumed it):
   * match windows, the breaker's window, and "already fired" marks of every
   * action whose scope covers the lane, so the next matching reply acts again.
   */
  forget(lane: { readonly ip: string; readonly provider: string }): void {
    const key = `${lane.ip}|${lane.provider}`;
    for (const k of [...this.#matches.keys()]) if (k.endsWith(`|${key}`)) this.#matches.delete(k);
    this.#attempts.delete(key);
    for (const k of [...this.#active.keys()]) {
      const parts = k.split('|');
      const scope = parts[0] === 'circuit-breaker' ? { ip: parts[1]!, provider: parts[2]! } : { ip: parts[2]!, provider: parts[3]! };
      if (covers(scope, lane)) this.#active.delete(k);
    }
  }
}

/** True when an action's scope covers the lane. */
function covers(scope: { ip: string; provider: string }, lane: { ip: string; provider: string }): boolean {
  return (scope.ip === '*' || scope.ip === lane.ip) && (scope.provider === '*' || scope.provider === lane.provider);
}

function scopeOf(action: Rule['action'], o: Observation): RuleAction['scope'] {
  switch (action) {
    case 'pause_ip': return { ip: o.ip };
    case 'pause_provider': return { provider: o.provider };
    case 'stop_all': return {};
    default: return { ip: o.ip, provider: o.provider };
  }
}
