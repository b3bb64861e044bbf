/**
 * Reply-pattern rules within the day, modelled on KumoMTA's traffic-shaping
 * automation: a regex over the reply, a trigger (at once or N matches in a
 * window), an action on the lane, IP, provider or everything, and a duration
 * after which it lapses. Plus two sliding-window breakers that act where no
 * rule matches: one on the lane's deferral rate, one on its share of 5xx
 * policy rejections. Every action names its evidence. Pure: callers pass `now`.
 */
import type { Plan, Provider, RejectionBreaker, Rule } from '../plan/types.js';
import { BUILTIN_RULE_SPECS, FAMILY_DOMAINS } from './builtin-rules.js';
import { evidenceLine, type ReplyEvidence } from './evidence.js';
import { answerKind, LaneWindow, rejectionTrip, type AnswerKind } from './lane-window.js';

export interface Observation {
  readonly ip: string;
  readonly provider: string;
  readonly recipient: string;
  readonly outcome: string;
  /** The one-line reply: `CODE ENHANCED text`, or `ERRCODE: message`. */
  readonly text: string;
  /** The reply speaks about the mailbox, not the IP (e.g. Gmail 450 4.2.1). */
  readonly mailboxSignal: boolean;
  readonly code?: number | null;
  readonly enhanced?: string | null;
  /** A 4xx that is greylisting (see classify.ts): neutral for the IP. */
  readonly greylisting?: 'certain' | 'likely' | null;
  /** A 5xx about the sender (`policy`) or the recipient (`hygiene`). */
  readonly rejection?: 'policy' | 'hygiene' | null;
}

export interface RuleAction {
  /** The rule's name, `circuit-breaker` or `rejection-breaker`. */
  readonly rule: string;
  readonly action: Rule['action'];
  /** Which lanes it applies to; an empty scope is every lane. */
  readonly scope: { readonly ip?: string; readonly provider?: string };
  readonly until: number | null;
  readonly factor: number | null;
  readonly mailbox: string | null;
  /** The reply that fired it (for the breakers: a summary with the top reply). */
  readonly reply: string;
  /** The lane's replies behind the action, most frequent first. */
  readonly evidence: readonly ReplyEvidence[];
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

/** Actions that stop a lane sending: a breaker does not fire on top of one. */
const HOLDING: ReadonlySet<Rule['action']> = new Set(['suspend', 'pause', 'pause_ip', 'pause_provider', 'stop_all']);
/** After the rejection breaker trips: long enough for the answers in flight (SMTP timeouts are 5 min). */
const REJECTION_MUTE_MS = 15 * 60_000;
/** Keys of the breakers' marks: `NAME|ip|provider` (rules' are `rule|action|ip|provider|mailbox`). */
const BREAKER_KEYS: ReadonlySet<string> = new Set(['circuit-breaker', 'circuit-breaker-reset', 'rejection-breaker']);
/** How far back a rule's evidence looks. */
const EVIDENCE_WINDOW_MS = 3_600_000;
/** What the deferral breaker counts: per-mailbox answers and greylisting say nothing about the IP. */
const BREAKER_KINDS: readonly AnswerKind[] = ['accepted', 'deferred', 'policy', 'hygiene'];

/**
 * Holds the sliding windows; `observe` returns the actions an attempt fires.
 * An action is not fired again for the same scope while its effect lasts.
 */
export class RuleEngine {
  readonly #rules: readonly Rule[];
  readonly #breaker: Plan['policy']['breaker'];
  readonly #rejection: (provider: string) => RejectionBreaker | null;
  readonly #matches = new Map<string, Window>();
  readonly #active = new Map<string, number>();
  readonly #lanes = new Map<string, LaneWindow>();

  /**
   * @param rejection the rejection breaker of a provider's lanes (its thresholds), or null for none
   */
  constructor(rules: readonly Rule[], breaker: Plan['policy']['breaker'], rejection: (provider: string) => RejectionBreaker | null = () => null) {
    this.#rules = rules;
    this.#breaker = breaker;
    this.#rejection = rejection;
  }

  observe(o: Observation, now: number): RuleAction[] {
    const actions: RuleAction[] = [];
    const lane = `${o.ip}|${o.provider}`;
    const rejection = this.#rejection(o.provider);
    let window = this.#lanes.get(lane);
    if (!window) {
      window = new LaneWindow(Math.max(this.#breaker.windowMs, rejection?.windowMs ?? 0, EVIDENCE_WINDOW_MS));
      this.#lanes.set(lane, window);
    }
    const kind = answerKind(o);
    window.add({ at: now, kind, text: o.text, code: o.code ?? null, enhanced: o.enhanced ?? null });
    const holds = (scope: RuleAction['scope']) => actions.some((a) => HOLDING.has(a.action) && a.scope.ip === scope.ip && a.scope.provider === scope.provider);
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
      // Two rules matching one reply (a provider's and a generic one) hold the lane once.
      if (HOLDING.has(rule.action) && holds(scope)) continue;
      const activeKey = `${rule.name}|${rule.action}|${scope.ip ?? '*'}|${scope.provider ?? '*'}|${rule.action === 'slow_mailbox' ? o.recipient : ''}`;
      const activeUntil = this.#active.get(activeKey);
      if (activeUntil !== undefined && activeUntil > now) continue;
      const until = rule.durationMs === null ? null : now + rule.durationMs;
      this.#active.set(activeKey, until ?? Number.POSITIVE_INFINITY);
      const evidence = window.evidence(now, rule.trigger?.windowMs ?? EVIDENCE_WINDOW_MS);
      actions.push({ rule: rule.name, action: rule.action, scope, until, factor: rule.factor, mailbox: rule.action === 'slow_mailbox' ? o.recipient : null, reply: o.text, evidence });
    }
    const laneScope = { ip: o.ip, provider: o.provider };
    if (kind === 'deferred' || kind === 'accepted' || kind === 'policy' || kind === 'hygiene') {
      const trip = this.#deferralTrip(window, lane, now);
      if (trip && !holds(laneScope)) actions.push({ ...trip, scope: laneScope });
    }
    if (rejection && (kind === 'policy' || kind === 'accepted' || kind === 'deferred')) {
      const key = `rejection-breaker|${lane}`;
      const mutedUntil = this.#active.get(key);
      const trip = mutedUntil !== undefined && mutedUntil > now ? null : rejectionTrip(window, rejection, now);
      if (trip && !holds(laneScope)) {
        // Answers still in flight when it tripped must not trip it again; a lane resumed later may.
        this.#active.set(key, now + Math.min(REJECTION_MUTE_MS, rejection.windowMs, rejection.holdMs ?? rejection.windowMs));
        window.forget(['policy']);
        actions.push({ rule: 'rejection-breaker', action: 'pause', scope: laneScope, until: trip.until, factor: null, mailbox: null, reply: trip.reason, evidence: trip.evidence });
      }
    }
    return actions;
  }

  /** The deferral breaker: more than `maxDeferralRate` of the window's attempts deferred or failed. */
  #deferralTrip(window: LaneWindow, lane: string, now: number): Omit<RuleAction, 'scope'> | null {
    const b = this.#breaker;
    // Per-mailbox answers and greylisting say nothing about the IP: kept out.
    const reset = this.#active.get(`circuit-breaker-reset|${lane}`) ?? -Infinity;
    const { kept: answered, hits: deferred } = window.countKinds(Math.max(now - b.windowMs, reset), BREAKER_KINDS, 'deferred');
    const key = `circuit-breaker|${lane}`;
    const activeUntil = this.#active.get(key);
    if (answered < b.minAttempts || deferred / answered <= b.maxDeferralRate || (activeUntil !== undefined && activeUntil > now)) return null;
    const until = now + b.suspendMs;
    this.#active.set(key, until);
    // It counts afresh from here.
    this.#active.set(`circuit-breaker-reset|${lane}`, now);
    const evidence = window.evidence(now, b.windowMs, ['deferred']);
    const rate = Math.round((100 * deferred) / answered);
    return {
      rule: 'circuit-breaker', action: 'suspend', until, factor: null, mailbox: null, evidence,
      reply: `deferral rate ${rate}% over the last window; ${evidenceLine(evidence)}`,
    };
  }

  /**
   * Forgets what the engine remembers about a lane (an operator resumed it):
   * match windows, the breaker's window, and "already fired" marks of every
   * action whose scope covers the lane, so the next matching reply acts again.
   */
  forget(lane: { readonly ip: string; readonly provider: string }): void {
    const key = `${lane.ip}|${lane.provider}`;
    for (const k of [...this.#matches.keys()]) if (k.endsWith(`|${key}`)) this.#matches.delete(k);
    this.#lanes.delete(key);
    for (const k of [...this.#active.keys()]) {
      const parts = k.split('|');
      const scope = BREAKER_KEYS.has(parts[0]!) ? { ip: parts[1]!, provider: parts[2]! } : { ip: parts[2]!, provider: parts[3]! };
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
