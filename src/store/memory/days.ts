/**
 * Lane days in memory: src/store/days.ts row for row.
 */
import type { Insertable } from 'kysely';
import { tallyDecisions, type DecisionTally } from '../../policy/forecast.js';
import type { LaneDayRow, LaneDaysTable } from '../schema.js';
import { cmp, copy, dayKey, type MemState } from './state.js';

export function getLaneDay(s: MemState, laneId: number, day: string): LaneDayRow | undefined {
  const row = s.laneDays.get(dayKey(laneId, day));
  return row ? copy(row) : undefined;
}

export function previousLaneDay(s: MemState, laneId: number, day: string): LaneDayRow | undefined {
  const days = s.daysOfLane.get(laneId) ?? [];
  for (let i = days.length - 1; i >= 0; i--) if (days[i]!.day < day) return copy(days[i]!);
  return undefined;
}

/** Lane days of a plan's lanes, in (day, lane id) order. */
function planDays(s: MemState, plan: string, keep: (d: LaneDayRow) => boolean): Array<{ d: LaneDayRow; ip: string; provider: string }> {
  const out: Array<{ d: LaneDayRow; ip: string; provider: string }> = [];
  for (const lane of s.lanes.values()) {
    if (lane.plan !== plan) continue;
    for (const d of s.daysOfLane.get(lane.id) ?? []) if (keep(d)) out.push({ d, ip: lane.ip, provider: lane.provider });
  }
  return out.sort((a, b) => cmp(a.d.day, b.d.day) || a.d.lane_id - b.d.lane_id);
}

export function laneDays(s: MemState, plan: string, day?: string): Array<LaneDayRow & { ip: string; provider: string }> {
  return planDays(s, plan, (d) => day === undefined || d.day === day).map(({ d, ip, provider }) => ({ ...d, ip, provider }));
}

/** Inserts a lane_days row (the primary key is lane and day; lane_id refers to no table in the schema). */
export function insertLaneDay(s: MemState, row: LaneDayRow): void {
  s.mapSet(s.laneDays, dayKey(row.lane_id, row.day), row);
  let days = s.daysOfLane.get(row.lane_id);
  if (!days) {
    days = [];
    s.mapSet(s.daysOfLane, row.lane_id, days);
  }
  const list = days;
  let i = list.length;
  while (i > 0 && list[i - 1]!.day > row.day) i--;
  list.splice(i, 0, row);
  s.onUndo(() => { list.splice(list.indexOf(row), 1); });
  if (row.decision === null) s.setAdd(s.undecided, row);
}

/** A new lane_days row with every counter at 0. */
export function newLaneDay(r: Pick<LaneDayRow, 'lane_id' | 'day' | 'stage' | 'target' | 'spread_from' | 'spread_until'>): LaneDayRow {
  return {
    lane_id: r.lane_id, day: r.day, stage: r.stage, target: r.target, spread_from: r.spread_from, spread_until: r.spread_until,
    decision: null, decided_at: null, sent: 0, routed: 0, routed_accepted: 0, routed_deferred: 0, routed_bounced: 0, routed_failed: 0,
    accepted: 0, deferred: 0, mailbox_deferred: 0, greylisted: 0, greylist_passed: 0, bounced: 0, hygiene_bounced: 0, failed: 0,
    expired: 0, retries: 0, inbox: 0, spam: 0, missing: 0, forecast: null,
  };
}

export function openLaneDay(s: MemState, row: Pick<Insertable<LaneDaysTable>, 'lane_id' | 'day' | 'stage' | 'target' | 'spread_from' | 'spread_until'>, now: number): void {
  if (!s.laneDays.has(dayKey(row.lane_id, row.day))) {
    insertLaneDay(s, newLaneDay({ ...row, target: row.target ?? 0 }));
  }
  const lane = s.lanes.get(row.lane_id);
  if (lane) s.patch(lane, { stage: row.stage, updated_at: now });
}

export function decideLaneDay(s: MemState, laneId: number, day: string, decision: string, nextStage: number, holdsInRow: number, now: number): boolean {
  const row = s.laneDays.get(dayKey(laneId, day));
  if (!row || row.decision !== null) return false;
  s.patch(row, { decision, decided_at: now });
  s.setDelete(s.undecided, row);
  const lane = s.lanes.get(laneId);
  if (lane) s.patch(lane, { stage: nextStage, holds_in_row: holdsInRow, decided_day: day, updated_at: now });
  return true;
}

export function undecidedDays(s: MemState, plan: string, endedBy: number): LaneDayRow[] {
  const out: LaneDayRow[] = [];
  for (const d of s.undecided) {
    if (d.spread_until > endedBy || s.lanes.get(d.lane_id)?.plan !== plan) continue;
    out.push(d);
  }
  return out.sort((a, b) => cmp(a.day, b.day) || a.lane_id - b.lane_id).map(copy);
}

export function unsettledMessages(s: MemState, laneId: number, day: string): number {
  let n = 0;
  for (const m of s.openByLane.get(laneId) ?? []) if (m.day === day) n++;
  return n;
}

export function decisionTallies(s: MemState, plan: string): DecisionTally[] {
  // laneHistory is in lane id order, as the SQL store groups.
  return tallyDecisions(laneHistory(s, plan));
}

export function laneHistory(s: MemState, plan: string): Array<{ ip: string; provider: string; day: string; decision: string | null }> {
  const out: Array<{ ip: string; provider: string; day: string; decision: string | null }> = [];
  for (const lane of s.lanes.values()) {
    if (lane.plan !== plan) continue;
    for (const d of s.daysOfLane.get(lane.id) ?? []) out.push({ ip: lane.ip, provider: lane.provider, day: d.day, decision: d.decision });
  }
  return out;
}

export function laneDecisions(s: MemState, laneId: number): Array<{ day: string; decision: string | null }> {
  return (s.daysOfLane.get(laneId) ?? []).map((d) => ({ day: d.day, decision: d.decision }));
}

export function latestLaneDay(s: MemState, plan: string, upTo: string): string | undefined {
  let best: string | undefined;
  for (const lane of s.lanes.values()) {
    if (lane.plan !== plan) continue;
    for (const d of s.daysOfLane.get(lane.id) ?? []) if (d.day <= upTo && (best === undefined || d.day > best)) best = d.day;
  }
  return best;
}

export function recordForecast(s: MemState, laneId: number, day: string, verdict: string): string | null | undefined {
  const row = s.laneDays.get(dayKey(laneId, day));
  if (!row || row.forecast !== null) return undefined;
  s.patch(row, { forecast: verdict });
  const days = s.daysOfLane.get(laneId) ?? [];
  for (let i = days.length - 1; i >= 0; i--) {
    const d = days[i]!;
    if (d.day < day && d.forecast !== null) return d.forecast;
  }
  return null;
}
