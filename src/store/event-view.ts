/**
 * How an `events` row reads for people (the events command, simulations,
 * reports, webhooks). Pure.
 */

/** The columns of an events row this needs. */
export interface EventFields {
  readonly at: number;
  readonly ip: string | null;
  readonly provider: string | null;
  readonly kind: string;
  readonly from_state: string | null;
  readonly to_state: string | null;
  readonly actor: string;
  /** JSON text. */
  readonly cause: string;
}

/** An event as commands, reports and webhooks show it: ISO time, parsed cause. */
export interface EventView {
  readonly at: string;
  readonly ip: string | null;
  readonly provider: string | null;
  readonly kind: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly actor: string;
  readonly cause: Record<string, unknown>;
}

/** Reads an event row for people: a cause that is not a JSON object is kept as `raw`. */
export function eventView(e: EventFields): EventView {
  let cause: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(e.cause);
    cause = parsed && typeof parsed === 'object' ? parsed as Record<string, unknown> : { value: parsed };
  } catch {
    cause = { raw: e.cause };
  }
  return { at: new Date(e.at).toISOString(), ip: e.ip, provider: e.provider, kind: e.kind, from: e.from_state, to: e.to_state, actor: e.actor, cause };
}

/**
 * Every event kind warmup writes (state changes write the new state as their kind). `warmup events
 * --kind` accepts these and any other kind found in the database, and refuses the rest.
 */
export const EVENT_KINDS: readonly string[] = Object.freeze([
  'day_advance', 'day_hold', 'day_back_off', 'day_pause', 'behind_for_launch',
  ...['suspend', 'pause', 'cut_rate', 'one_connection', 'pause_ip', 'pause_provider', 'stop_all', 'slow_mailbox'].map((a) => `rule_${a}`),
  'shaping_lapsed', 'active', 'suspended', 'paused', 'operator_pause', 'operator_resume',
  'dnsbl_listed', 'dnsbl_clear', 'dnsbl_resume', 'imap_error', 'imap_recovered', 'placement_spam',
  'rejection_breaker', 'policy_pause', 'hold_added', 'hold_extended', 'hold_removed', 'hold_lapsed',
]);
