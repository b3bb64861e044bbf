/**
 * Lanes and their holds in memory: src/store/lanes.ts and src/store/holds.ts
 * row for row (same order, same events, same summary state).
 */
import { holdAddedCause, holdDroppedCause, summarize, type HoldChange, type HoldInput, type HoldKind, type HoldRemoval, type LaneTarget } from '../holds.js';
import { DAY_FIGURES, type LaneGauge, type LaneShaping } from '../lanes.js';
import type { LaneRow, LaneState } from '../schema.js';
import { cmp, constraintFailed, copy, dayKey, type HoldRow, type MemState } from './state.js';
import { insertEvent } from './events.js';

export function ensureLanes(s: MemState, plan: string, lanes: ReadonlyArray<{ ip: string; provider: string }>, now: number): LaneRow[] {
  for (const l of lanes) {
    // Like SQL's sequences, a row skipped on conflict still takes its id.
    const id = s.nextId('lanes');
    const key = `${plan}|${l.ip}|${l.provider}`;
    if (s.laneByKey.has(key)) continue;
    const row: LaneRow = {
      id, plan, ip: l.ip, provider: l.provider, stage: 0, state: 'active', state_until: null, state_reason: null,
      rate_factor: 1, rate_until: null, max_connections: null, holds_in_row: 0, decided_day: null, updated_at: now,
    };
    s.mapSet(s.lanes, row.id, row);
    s.mapSet(s.laneByKey, key, row);
  }
  return loadLanes(s, plan);
}

export function loadLanes(s: MemState, plan: string): LaneRow[] {
  const out: LaneRow[] = [];
  for (const l of s.lanes.values()) if (l.plan === plan) out.push(copy(l));
  return out;
}

export function setLaneShaping(s: MemState, laneId: number, shaping: LaneShaping | Omit<LaneShaping, 'rate_factor'>, now: number): void {
  const lane = s.lanes.get(laneId);
  if (!lane) return;
  const set: Partial<LaneRow> = { updated_at: now };
  if ('rate_factor' in shaping && shaping.rate_factor !== undefined) set.rate_factor = shaping.rate_factor;
  if (shaping.max_connections !== undefined) set.max_connections = shaping.max_connections;
  if (shaping.rate_until !== undefined) set.rate_until = shaping.rate_until;
  s.patch(lane, set);
}

function targetLanes(s: MemState, plan: string, target: LaneTarget): LaneRow[] {
  const out: LaneRow[] = [];
  for (const l of s.lanes.values()) {
    if (l.plan !== plan || (target.ip && l.ip !== target.ip) || (target.provider && l.provider !== target.provider)) continue;
    out.push(l);
  }
  return out;
}

/** The lane's holds in the order SQLite reads them by lane (its unique index: kind, then actor). */
function holdsOfLane(s: MemState, laneId: number): HoldRow[] {
  const out: HoldRow[] = [];
  for (const h of s.holds.values()) if (h.lane_id === laneId) out.push(h);
  return out.sort((a, b) => cmp(a.kind, b.kind) || cmp(a.actor, b.actor));
}

function resummarize(s: MemState, lane: LaneRow, now: number): { state: LaneState; until: number | null; reason: string | null } {
  const sum = summarize(holdsOfLane(s, lane.id));
  s.patch(lane, { state: sum.state, state_until: sum.until, state_reason: sum.reason, updated_at: now });
  return sum;
}

function holdEvent(s: MemState, plan: string, lane: LaneRow, from: LaneState, kind: string, to: LaneState, actor: string, cause: Record<string, unknown>, now: number): void {
  insertEvent(s, { at: now, plan, lane_id: lane.id, ip: lane.ip, provider: lane.provider, kind, from_state: from, to_state: to, actor, cause: JSON.stringify(cause) });
}

export function addHold(s: MemState, plan: string, target: LaneTarget, hold: HoldInput, now: number): HoldChange[] {
  const changes: HoldChange[] = [];
  const evidence = hold.evidence === undefined ? null : JSON.stringify(hold.evidence);
  for (const lane of targetLanes(s, plan, target)) {
    const from = lane.state;
    const existing = [...s.holds.values()].find((h) => h.lane_id === lane.id && h.kind === hold.kind && h.actor === hold.actor);
    let change: 'added' | 'extended';
    if (!existing) {
      const row: HoldRow = {
        id: s.nextId('holds'), plan, lane_id: lane.id, kind: hold.kind, actor: hold.actor, reason: hold.reason, until: hold.until, evidence,
        created_at: now, updated_at: now,
      };
      s.mapSet(s.holds, row.id, row);
      change = 'added';
    } else {
      if (existing.until === null || (hold.until !== null && existing.until >= hold.until)) continue;
      s.patch(existing, { until: hold.until, reason: hold.reason, evidence: evidence ?? existing.evidence, updated_at: now });
      change = 'extended';
    }
    const sum = resummarize(s, lane, now);
    holdEvent(s, plan, lane, from, change === 'added' ? hold.eventKind ?? 'hold_added' : 'hold_extended', sum.state, hold.actor, holdAddedCause(hold, change), now);
    changes.push({ laneId: lane.id, ip: lane.ip, provider: lane.provider, kind: hold.kind, actor: hold.actor, change, until: hold.until, from, to: sum.state });
  }
  return changes;
}

export function removeHolds(s: MemState, plan: string, target: LaneTarget, removal: HoldRemoval, now: number): HoldChange[] {
  if (removal.kinds.length === 0) return [];
  const changes: HoldChange[] = [];
  for (const lane of targetLanes(s, plan, target)) {
    const holds = [...s.holds.values()].filter((h) => h.lane_id === lane.id && removal.kinds.includes(h.kind as HoldKind)
      && (removal.actor === undefined || h.actor === removal.actor)
      && (removal.createdUpTo === undefined || h.created_at <= removal.createdUpTo)).sort((a, b) => a.id - b.id);
    changes.push(...dropHolds(s, plan, lane, holds, 'removed', removal.by, removal.reason, removal.eventKind ?? 'hold_removed', now));
  }
  return changes;
}

export function lapseHolds(s: MemState, plan: string, now: number): HoldChange[] {
  // SQLite reads the due lanes through holds_plan_until: by until, then id, each lane once.
  const due = [...s.holds.values()].filter((h) => h.plan === plan && h.until !== null && h.until <= now)
    .sort((a, b) => a.until! - b.until! || a.id - b.id);
  if (due.length === 0) return [];
  const laneIds = [...new Set(due.map((h) => h.lane_id))];
  const changes: HoldChange[] = [];
  for (const laneId of laneIds) {
    const lane = s.lanes.get(laneId);
    if (!lane) continue;
    const holds = [...s.holds.values()].filter((h) => h.lane_id === laneId && h.until !== null && h.until <= now).sort((a, b) => a.id - b.id);
    changes.push(...dropHolds(s, plan, lane, holds, 'lapsed', 'daemon', 'lapsed', 'hold_lapsed', now));
  }
  return changes;
}

function dropHolds(s: MemState, plan: string, lane: LaneRow, holds: readonly HoldRow[], change: 'removed' | 'lapsed', by: string, reason: string, eventKind: string, now: number): HoldChange[] {
  const out: HoldChange[] = [];
  let from = lane.state;
  for (const h of holds) {
    s.mapDelete(s.holds, h.id);
    const sum = resummarize(s, lane, now);
    holdEvent(s, plan, lane, from, eventKind, sum.state, by, holdDroppedCause(h, change, reason), now);
    out.push({ laneId: lane.id, ip: lane.ip, provider: lane.provider, kind: h.kind as HoldKind, actor: h.actor, change, until: h.until, from, to: sum.state });
    from = sum.state;
  }
  return out;
}

export function listHolds(s: MemState, plan: string, laneIds?: readonly number[]): HoldRow[] {
  const only = laneIds === undefined ? null : new Set(laneIds);
  return [...s.holds.values()].filter((h) => h.plan === plan && (only === null || only.has(h.lane_id)))
    .sort((a, b) => a.lane_id - b.lane_id || a.id - b.id).map(copy);
}

/** The lane a row refers to (the foreign key on lane_id). */
export function laneOrThrow(s: MemState, laneId: number, table: string): LaneRow {
  const lane = s.lanes.get(laneId);
  if (!lane) throw constraintFailed(`FOREIGN KEY ${table}.lane_id -> lanes.id (${laneId})`);
  return lane;
}

export function laneGauges(s: MemState, plan: string, day: string): LaneGauge[] {
  const out: LaneGauge[] = [];
  for (const l of s.lanes.values()) {
    if (l.plan !== plan) continue;
    const d = s.laneDays.get(dayKey(l.id, day));
    out.push({ id: l.id, ip: l.ip, provider: l.provider, stage: l.stage, state: l.state, rate_factor: l.rate_factor, day: d ? DAY_FIGURES.map((f) => d[f]) : null });
  }
  return out;
}
