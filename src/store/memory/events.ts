/**
 * The event log in memory: src/store/events.ts row for row. Events are kept
 * in id order (events[id - 1]); they are never deleted.
 */
import type { EventFilter, EventInput } from '../events.js';
import { copy, type EventRow, type MemState } from './state.js';

/** Inserts an events row (every writer of events goes through this). */
export function insertEvent(s: MemState, e: Omit<EventRow, 'id'>): void {
  s.push(s.events, { id: s.nextId('events'), ...e });
}

export function addEvent(s: MemState, e: EventInput): void {
  insertEvent(s, {
    at: e.at, plan: e.plan, lane_id: e.laneId ?? null, ip: e.ip ?? null, provider: e.provider ?? null, kind: e.kind,
    from_state: e.from ?? null, to_state: e.to ?? null, actor: e.actor, cause: JSON.stringify(e.cause ?? {}),
  });
}

export function listEvents(s: MemState, plan: string, options: { kinds?: readonly string[] } = {}): EventRow[] {
  const kinds = options.kinds && options.kinds.length > 0 ? new Set(options.kinds) : null;
  return s.events.filter((e) => e.plan === plan && (kinds === null || kinds.has(e.kind)))
    .sort((a, b) => a.at - b.at || a.id - b.id).map(copy);
}

export function lastStateEvent(s: MemState, laneId: number): EventRow | undefined {
  for (let i = s.events.length - 1; i >= 0; i--) {
    const e = s.events[i]!;
    if (e.lane_id === laneId && e.to_state !== null) return copy(e);
  }
  return undefined;
}

export function lastIpEvent(s: MemState, plan: string, ip: string, kind: string): EventRow | undefined {
  for (let i = s.events.length - 1; i >= 0; i--) {
    const e = s.events[i]!;
    if (e.plan === plan && e.ip === ip && e.kind === kind) return copy(e);
  }
  return undefined;
}

export function eventsAfter(s: MemState, plan: string, after: { id: number } | { at: number }, limit: number): EventRow[] {
  const out: EventRow[] = [];
  if (limit <= 0) return out;
  const from = 'id' in after ? Math.max(0, Math.min(s.events.length, Math.floor(after.id))) : 0;
  for (let i = from; i < s.events.length && out.length < limit; i++) {
    const e = s.events[i]!;
    if (e.plan !== plan) continue;
    if ('id' in after ? e.id > after.id : e.at >= after.at) out.push(copy(e));
  }
  return out;
}

export function eventIdsAfter(s: MemState, after: number, limit: number): number[] {
  const out: number[] = [];
  for (const e of s.events) if (e.id > after && out.length < limit) out.push(e.id);
  return out;
}

export function lastEventId(s: MemState): number {
  return s.events.length === 0 ? 0 : s.events[s.events.length - 1]!.id;
}

export function newestEventAt(s: MemState, plan: string): number | null {
  let at: number | null = null;
  for (const e of s.events) if (e.plan === plan && (at === null || e.at > at)) at = e.at;
  return at;
}

export function eventKindsSeen(s: MemState, plan: string): string[] {
  const kinds = new Set<string>();
  for (const e of s.events) if (e.plan === plan) kinds.add(e.kind);
  return [...kinds].sort();
}

export function recentEvents(s: MemState, plan: string, filter: EventFilter): EventRow[] {
  const out: EventRow[] = [];
  for (let i = s.events.length - 1; i >= 0 && out.length < filter.limit; i--) {
    const e = s.events[i]!;
    if (e.plan !== plan) continue;
    if (filter.since !== null && filter.since !== undefined && e.at < filter.since) continue;
    if (filter.ip && e.ip !== filter.ip) continue;
    if (filter.provider && e.provider !== filter.provider) continue;
    if (filter.kind && e.kind !== filter.kind) continue;
    out.push(copy(e));
  }
  return out.reverse();
}
