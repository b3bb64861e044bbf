/**
 * Which events become alerts and what the webhook receives: pure, from an
 * `events` row. The kinds below are the contract for event producers.
 */
import { createHmac } from 'node:crypto';
import { eventView, type EventFields, type EventView } from '../store/event-view.js';

/** The alert types a webhook may receive. */
export type AlertType = 'hold_added' | 'hold_removed' | 'pause' | 'resume' | 'dnsbl_listed' | 'dnsbl_clear' | 'block' | 'behind_for_launch' | 'ips_unattended' | 'ips_attended';

/** The fields of an `events` row that alerts read. */
export interface EventRow extends EventFields {
  readonly id: number;
  readonly plan: string;
  readonly lane_id: number | null;
}

/**
 * The JSON body posted to the webhook: the event as people read it (`at` is
 * ISO 8601 in the daemon's, possibly accelerated, clock) plus what a receiver needs.
 */
export interface AlertPayload extends EventView {
  /** The event's id: receivers de-duplicate retried deliveries on it. */
  readonly id: number;
  readonly type: AlertType;
  readonly plan: string;
  /** One line for chat channels. */
  readonly text: string;
}

/** The hold an event added or removed (`cause.hold`), if any. */
export function eventHold(cause: string): { kind: string; actor: string; until: number | null; change: string } | null {
  if (!cause.includes('"hold"')) return null;
  try {
    const h = (JSON.parse(cause) as { hold?: unknown }).hold;
    return h && typeof h === 'object' && typeof (h as { change?: unknown }).change === 'string' ? h as { kind: string; actor: string; until: number | null; change: string } : null;
  } catch {
    return null;
  }
}

/**
 * The alert type of an event, or null when it is not alertable:
 * `dnsbl_listed` / `dnsbl_clear` kinds; a fleet's `ips_unattended` (a
 * daemon stopped heartbeating: its IPs are not sent from) and `ips_attended`
 * (taken back or over); kinds containing `block` (a block
 * reply); `behind_for_launch` / kinds starting with `behind`; then every hold
 * added (`hold_added`) or removed, by hand or by lapsing (`hold_removed`),
 * whatever its kind; an extended hold does not alert again. Events written
 * before holds existed: a change to `paused` (pause), from `paused` to
 * `active` (resume).
 */
export function alertType(e: Pick<EventRow, 'kind' | 'from_state' | 'to_state'> & { readonly cause?: string }): AlertType | null {
  if (e.kind === 'dnsbl_listed') return 'dnsbl_listed';
  if (e.kind === 'dnsbl_clear') return 'dnsbl_clear';
  if (e.kind === 'ips_unattended' || e.kind === 'ips_attended') return e.kind;
  if (/block/i.test(e.kind)) return 'block';
  if (/^behind/i.test(e.kind)) return 'behind_for_launch';
  const hold = e.cause === undefined ? null : eventHold(e.cause);
  if (hold) return hold.change === 'added' ? 'hold_added' : hold.change === 'removed' || hold.change === 'lapsed' ? 'hold_removed' : null;
  if (e.to_state === 'paused' && e.from_state !== 'paused') return 'pause';
  if (e.to_state === 'active' && e.from_state === 'paused') return 'resume';
  return null;
}

/** The webhook body for an alertable event; null otherwise. */
export function alertPayload(e: EventRow): AlertPayload | null {
  const type = alertType(e);
  if (!type) return null;
  const view = eventView(e);
  const { cause } = view;
  const ips = Array.isArray(cause.ips) ? (cause.ips as unknown[]).map(String) : null;
  const lane = [e.ip, e.provider].filter(Boolean).join(' -> ') || (ips ? ips.join(', ') : 'all lanes');
  const reason = typeof cause.reason === 'string' ? `: ${cause.reason}` : '';
  const hold = eventHold(e.cause);
  const after = hold ? `; ${hold.kind} hold${e.to_state === 'active' ? ', lane sending again' : e.to_state ? `, lane ${e.to_state}` : ''}` : '';
  const text = `[warmup ${e.plan}] ${type.replace(/_/g, ' ')} ${lane}${reason} (by ${e.actor}${after})`;
  return { id: e.id, type, plan: e.plan, ...view, text };
}

/** Header value `sha256=<hex HMAC-SHA256 of the exact body>`, as GitHub webhooks do. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** Retry delay after `failures` failed deliveries: base x 2^(failures-1), capped. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}
