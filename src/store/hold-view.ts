/**
 * A hold as `warmup status` and the JSON outputs show it. Apart from
 * ./holds.ts (which re-exports it) so that status's own modules import
 * nothing of the query builder.
 */
import type { HoldKind, HoldRow } from './holds.js';

/** A hold as status and the JSON outputs show it (evidence parsed). */
export interface HoldView {
  readonly kind: HoldKind;
  readonly actor: string;
  readonly reason: string;
  readonly since: string;
  readonly until: string | null;
  readonly evidence: unknown;
}

export function holdView(h: HoldRow): HoldView {
  let evidence: unknown = null;
  if (h.evidence !== null) {
    try { evidence = JSON.parse(h.evidence); } catch { evidence = h.evidence; }
  }
  return { kind: h.kind as HoldKind, actor: h.actor, reason: h.reason, since: new Date(h.created_at).toISOString(), until: h.until === null ? null : new Date(h.until).toISOString(), evidence };
}
