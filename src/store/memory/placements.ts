/**
 * Inbox placements, engagement and DNSBL answers in memory:
 * src/store/placements.ts and src/store/dnsbl.ts row for row.
 */
import { spamCrossed, spamRate } from '../../policy/counting.js';
import type { DnsblResultInput } from '../dnsbl.js';
import type { DueEngagement, PendingPlacement, PlacementRecord, SpamCrossing } from '../placements.js';
import { WarmupError } from '../../util/errors.js';
import { insertEvent } from './events.js';
import { heldMessage, releaseIfDone } from './messages.js';
import { cmp, copy, dayKey, type DnsblRow, type MemState, type PlacementRow } from './state.js';

export function pendingPlacements(s: MemState, plan: string, mailboxes: readonly string[]): PendingPlacement[] {
  if (mailboxes.length === 0) return [];
  const declared = s.placementMailboxes;
  const undeclared = declared === null ? undefined : mailboxes.find((mb) => !declared.has(mb));
  if (undeclared !== undefined) {
    // Its accepted messages were released: refuse rather than answer without them.
    throw new WarmupError('STORE_RELEASED', `the memory store was opened without ${undeclared} among its placement mailboxes and released its accepted messages`);
  }
  const wanted = new Set(mailboxes);
  const out: PendingPlacement[] = [];
  for (const m of s.messages.values()) {
    if (m.status !== 'accepted' || !wanted.has(m.recipient) || s.placementByMessage.has(m.id) || s.lanes.get(m.lane_id)?.plan !== plan) continue;
    out.push({ id: m.id, lane_id: m.lane_id, day: m.day, recipient: m.recipient, message_id: m.message_id, created_at: m.created_at, finished_at: m.finished_at });
  }
  // Held messages are in insertion order, which an undone release changes: SQL's order is by id.
  return out.sort((a, b) => a.id - b.id);
}

export function recordPlacements(
  s: MemState, plan: string, records: readonly PlacementRecord[], maxSpamRate: (provider: string) => number,
): { written: number; crossings: SpamCrossing[] } {
  if (records.length === 0) return { written: 0, crossings: [] };
  const before = new Map<string, { laneId: number; day: string; inbox: number; spam: number }>();
  let written = 0;
  for (const r of records) {
    const key = dayKey(r.laneId, r.day);
    if (!before.has(key)) {
      const row = s.laneDays.get(key);
      before.set(key, { laneId: r.laneId, day: r.day, inbox: row?.inbox ?? 0, spam: row?.spam ?? 0 });
    }
    // A message with a placement may be released; the row below is skipped for it anyway.
    const m = s.placementByMessage.has(r.messageId) ? null : heldMessage(s, r.messageId, 'placements.message_id');
    // Like SQL's sequences, a row skipped on conflict still takes its id.
    const id = s.nextId('placements');
    if (m === null) continue;
    const row: PlacementRow = {
      id, message_id: r.messageId, lane_id: r.laneId, day: r.day, mailbox: r.mailbox, folder: r.folder, placement: r.placement,
      arrived_after_ms: r.arrivedAfterMs, checked_at: r.checkedAt, engage_at: r.engageAt, engaged_at: null, engaged: null,
    };
    s.push(s.placements, row);
    s.mapSet(s.placementByMessage, r.messageId, row);
    s.mapSet(s.placedMessageIds, r.messageId, m.message_id);
    s.patch(m, { placed_at: r.checkedAt }); // as SQL's row has it, for a message still held (routed)
    releaseIfDone(s, m);
    written++;
    if (r.placement === 'other') continue;
    const day = s.laneDays.get(key);
    if (day) s.add(day, { [r.placement]: 1 });
  }
  const crossings: SpamCrossing[] = [];
  for (const was of before.values()) {
    const day = s.laneDays.get(dayKey(was.laneId, was.day));
    const lane = s.lanes.get(was.laneId);
    if (!day || !lane) continue;
    const threshold = maxSpamRate(lane.provider);
    const rate = spamRate(day);
    if (!spamCrossed(was, day, threshold)) continue;
    crossings.push({ laneId: was.laneId, ip: lane.ip, provider: lane.provider, day: was.day, inbox: day.inbox, spam: day.spam, rate, threshold });
    insertEvent(s, {
      at: records[0]!.checkedAt, plan, lane_id: was.laneId, ip: lane.ip, provider: lane.provider, kind: 'placement_spam',
      from_state: null, to_state: null, actor: 'placement',
      cause: JSON.stringify({ day: was.day, inbox: day.inbox, spam: day.spam, spamRate: rate, maxSpamRate: threshold }),
    });
  }
  return { written, crossings };
}

export function dueEngagements(s: MemState, mailboxes: readonly string[], now: number, limit: number): DueEngagement[] {
  if (mailboxes.length === 0) return [];
  const wanted = new Set(mailboxes);
  const rows = s.placements.filter((p) => wanted.has(p.mailbox) && p.engage_at !== null && p.engage_at <= now && p.engaged_at === null && p.folder !== null)
    .sort((a, b) => a.engage_at! - b.engage_at! || a.id - b.id).slice(0, Math.max(0, limit));
  const out: DueEngagement[] = [];
  for (const p of rows) {
    if (p.placement === 'missing' || p.folder === null) continue;
    out.push({ id: p.id, mailbox: p.mailbox, folder: p.folder, placement: p.placement, message_id: s.placedMessageIds.get(p.message_id)! });
  }
  return out;
}

export function markEngaged(s: MemState, placementId: number, done: string, now: number): void {
  const p = s.placements.find((r) => r.id === placementId);
  if (p) s.patch(p, { engaged_at: now, engaged: done });
}

export function recordDnsblResults(s: MemState, rows: readonly DnsblResultInput[], at: number): void {
  for (const r of rows) s.push(s.dnsbl, { id: s.nextId('dnsbl_results'), at, ip: r.ip, zone: r.zone, status: r.status, answer: r.answer, meaning: r.meaning, txt: r.txt });
}

/** The newest row per (ip, zone) among those kept, ordered by ip then zone. */
function newestPerZone(s: MemState, ips: readonly string[], keep: (r: DnsblRow) => boolean): DnsblRow[] {
  const wanted = new Set(ips);
  const newest = new Map<string, DnsblRow>();
  for (const r of s.dnsbl) if (wanted.has(r.ip) && keep(r)) newest.set(`${r.ip}\u0000${r.zone}`, r);
  return [...newest.values()].sort((a, b) => cmp(a.ip, b.ip) || cmp(a.zone, b.zone)).map(copy);
}

export function lastDnsblVerdicts(s: MemState, ips: readonly string[]): DnsblRow[] {
  if (ips.length === 0) return [];
  return newestPerZone(s, ips, (r) => r.status === 'listed' || r.status === 'clear');
}

export function latestDnsblResults(s: MemState, ips: readonly string[]): DnsblRow[] {
  if (ips.length === 0) return [];
  return newestPerZone(s, ips, () => true);
}

export function dnsblHistory(s: MemState, ips: readonly string[]): Array<Pick<DnsblRow, 'at' | 'ip' | 'zone' | 'status'>> {
  if (ips.length === 0) return [];
  const wanted = new Set(ips);
  return s.dnsbl.filter((r) => wanted.has(r.ip)).sort((a, b) => a.at - b.at || a.id - b.id).map((r) => ({ at: r.at, ip: r.ip, zone: r.zone, status: r.status }));
}
