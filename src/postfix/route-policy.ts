/**
 * Which transport Postfix should use for one recipient of a provider: the
 * warming lane with the most room left relative to its target, or the plan's
 * overflow when none has room. Pure: the caller passes each lane's figures.
 */

/** What the router knows about one lane of the recipient's provider at the moment of a lookup. */
export interface LaneRoom {
  readonly laneId: number;
  readonly ip: string;
  /** The master.cf transport bound to the lane's IP. */
  readonly transport: string;
  /** The lane may take mail now (no hold, a day open inside the send window). */
  readonly open: boolean;
  /** The day's target (seed sends and routed mail together). */
  readonly target: number;
  /** Messages the lane already carried today: seed sends plus routed deliveries counted from the log. */
  readonly carried: number;
  /** Lookups answered with this lane that the log has not shown as deliveries yet. */
  readonly reserved: number;
  /** At most this many messages in the current hour. */
  readonly hourCap: number;
  /** Messages carried in the current hour. */
  readonly hourCarried: number;
}

/** What to do when no warming lane has room: another transport, or defer with a reason. */
export type Overflow =
  | { readonly kind: 'transport'; readonly transport: string }
  | { readonly kind: 'defer'; readonly reason: string };

export type RouteDecision =
  | { readonly kind: 'lane'; readonly laneId: number; readonly transport: string }
  | { readonly kind: 'overflow'; readonly transport: string }
  | { readonly kind: 'defer'; readonly reason: string };

/** Room a lane has left today and this hour (never negative). */
export function roomLeft(l: LaneRoom): number {
  if (!l.open) return 0;
  return Math.max(0, Math.min(l.target - l.carried - l.reserved, l.hourCap - l.hourCarried - l.reserved));
}

/**
 * Picks the open lane with room whose day is least filled (carried + reserved
 * over target), so a burst leaves through the IPs in proportion to what each
 * has been warmed to; ties go to the lane with more room, then the lower id.
 * `prefer` (a lane still holding this recipient's deferred message) wins while
 * it is open: its retry is not new volume.
 *
 * @example
 * chooseRoute([{ laneId: 1, ip: '192.0.2.1', transport: 'warmup_192_0_2_1', open: true, target: 100, carried: 40, reserved: 0, hourCap: 20, hourCarried: 5 }],
 *   { kind: 'defer', reason: 'warm-up capacity exhausted' })
 * // { kind: 'lane', laneId: 1, transport: 'warmup_192_0_2_1' } (answered as `OK warmup_192_0_2_1:`)
 */
export function chooseRoute(lanes: readonly LaneRoom[], overflow: Overflow, prefer?: number): RouteDecision {
  if (prefer !== undefined) {
    const p = lanes.find((l) => l.laneId === prefer && l.open);
    if (p) return { kind: 'lane', laneId: p.laneId, transport: p.transport };
  }
  let best: LaneRoom | null = null;
  let bestFill = Infinity;
  let bestRoom = 0;
  for (const l of lanes) {
    const room = roomLeft(l);
    if (room <= 0) continue;
    const fill = (l.carried + l.reserved) / l.target;
    if (fill < bestFill || (fill === bestFill && room > bestRoom)) {
      best = l; bestFill = fill; bestRoom = room;
    }
  }
  if (best) return { kind: 'lane', laneId: best.laneId, transport: best.transport };
  return overflow.kind === 'transport' ? { kind: 'overflow', transport: overflow.transport } : { kind: 'defer', reason: overflow.reason };
}

/**
 * The lane's hourly cap: its hourly share of the day's target over the send
 * window, times the catch-up factor, times a rule's rate cut; at least 1 so a
 * lane with a target can always carry something.
 */
export function hourCap(target: number, windowMs: number, catchUpFactor: number, rateFactor: number): number {
  if (target <= 0 || windowMs <= 0) return 0;
  const share = (target * 3_600_000) / windowMs;
  return Math.max(1, Math.ceil(share * catchUpFactor * rateFactor));
}

/**
 * The socketmap answer for a decision: `OK transport:` (the lane's transport,
 * the recipient's own MX as next hop), the overflow as the plan wrote it
 * (`smtp:`, `relay:[smarthost]:587`), or Postfix's retry transport with the reason.
 */
export function answerFor(d: RouteDecision): string {
  if (d.kind === 'defer') return `OK retry:4.7.0 ${d.reason}`;
  if (d.kind === 'lane') return `OK ${d.transport}:`;
  return `OK ${d.transport.includes(':') ? d.transport : `${d.transport}:`}`;
}
