/**
 * A fleet's IP leases and claims in memory: src/store/lease.ts's fleet
 * operations row for row (a memory store has one process, but the semantics
 * are the same, so the conformance suite holds both to them).
 */
import type { IpLeaseResult, IpLeaseView, LeaseClaim } from '../lease.js';
import { insertEvent } from './events.js';
import { cmp, type FleetClaimRow, type IpLeaseRow, type MemState } from './state.js';

const key = (plan: string, x: string): string => `${plan}|${x}`;
const view = (r: IpLeaseRow): IpLeaseView => ({ ip: r.ip, host: r.host, pid: r.pid, acquiredAt: r.acquired_at, heartbeatAt: r.heartbeat_at, unattendedAt: r.unattended_at, staleMs: r.stale_ms });

export function acquireIpLeases(s: MemState, plan: string, ips: readonly string[], claim: LeaseClaim): IpLeaseResult {
  const taken: Array<{ ip: string; from: IpLeaseView | null }> = [];
  const held: Array<{ ip: string; holder: IpLeaseView }> = [];
  const values = { host: claim.host, pid: claim.pid, token: claim.token, acquired_at: claim.now, heartbeat_at: claim.now, unattended_at: null, stale_ms: claim.staleMs };
  for (const ip of ips) {
    const row = s.ipLeases.get(key(plan, ip));
    if (!row) {
      s.mapSet(s.ipLeases, key(plan, ip), { plan, ip, ...values });
      taken.push({ ip, from: null });
      continue;
    }
    const holder = view(row);
    const mine = row.token === claim.token;
    const stale = claim.now - row.heartbeat_at > (row.stale_ms ?? claim.staleMs) || (row.host === claim.host && row.pid !== claim.pid && !claim.alive(row.pid));
    if (!mine && !stale) { held.push({ ip, holder }); continue; }
    s.patch(row, mine ? { heartbeat_at: claim.now, unattended_at: null } : values);
    taken.push({ ip, from: mine ? null : holder });
  }
  const back = taken.filter((t) => t.from !== null);
  if (back.length > 0) {
    const from = [...new Set(back.map((t) => `${t.from!.host} (pid ${t.from!.pid})`))].join(', ');
    insertEvent(s, {
      at: claim.clockNow ?? claim.now, plan, lane_id: null, ip: null, provider: null, kind: 'ips_attended', from_state: 'unattended', to_state: 'attended', actor: `fleet:${claim.host}`,
      cause: JSON.stringify({ reason: `${back.map((t) => t.ip).join(', ')} now sent from by ${claim.host} (pid ${claim.pid}), taken from ${from}`, ips: back.map((t) => t.ip), host: claim.host, pid: claim.pid, from: back.map((t) => ({ ip: t.ip, host: t.from!.host, pid: t.from!.pid, heartbeatAt: t.from!.heartbeatAt })) }),
    });
  }
  return { taken, held };
}

export function renewIpLeases(s: MemState, plan: string, token: string, now: number): string[] {
  const out: string[] = [];
  for (const r of s.ipLeases.values()) {
    if (r.plan !== plan || r.token !== token) continue;
    s.patch(r, { heartbeat_at: now, unattended_at: null });
    out.push(r.ip);
  }
  return out.sort();
}

export function releaseIpLeases(s: MemState, plan: string, token: string, ips?: readonly string[]): void {
  for (const r of [...s.ipLeases.values()]) {
    if (r.plan === plan && r.token === token && (ips === undefined || ips.includes(r.ip))) s.mapDelete(s.ipLeases, key(plan, r.ip));
  }
}

export function ipLeases(s: MemState, plan: string): IpLeaseView[] {
  return [...s.ipLeases.values()].filter((r) => r.plan === plan).sort((a, b) => cmp(a.host, b.host) || cmp(a.ip, b.ip)).map(view);
}

export function reportUnattended(s: MemState, plan: string, realNow: number, staleMs: number, clockNow: number, by: string): string[] {
  const silent = [...s.ipLeases.values()].filter((r) => r.plan === plan && r.unattended_at === null && r.heartbeat_at < realNow - (r.stale_ms ?? staleMs)).sort((a, b) => cmp(a.ip, b.ip));
  const byHolder = new Map<string, IpLeaseView[]>();
  for (const row of silent) {
    const v = view(row);
    s.patch(row, { unattended_at: realNow });
    const k = `${row.host} ${row.pid} ${row.token}`;
    byHolder.set(k, [...(byHolder.get(k) ?? []), v]);
  }
  for (const leases of byHolder.values()) {
    const { host, pid, heartbeatAt } = leases[0]!;
    const ips = leases.map((l) => l.ip);
    insertEvent(s, {
      at: clockNow, plan, lane_id: null, ip: null, provider: null, kind: 'ips_unattended', from_state: 'attended', to_state: 'unattended', actor: `fleet:${by}`,
      cause: JSON.stringify({ reason: `${ips.join(', ')} unattended: the daemon of host ${host} (pid ${pid}) stopped heartbeating ${Math.round((realNow - heartbeatAt) / 1000)}s ago`, ips, host, pid, heartbeatAt, reportedBy: by }),
    });
  }
  return [...byHolder.values()].flat().map((l) => l.ip);
}

function claimRow(s: MemState, plan: string, kind: string, init: Omit<FleetClaimRow, 'plan' | 'kind'>): FleetClaimRow {
  const row = s.fleetClaims.get(key(plan, kind));
  if (row) return row;
  const fresh = { plan, kind, ...init };
  s.mapSet(s.fleetClaims, key(plan, kind), fresh);
  return fresh;
}

export function claimPeriodic(s: MemState, plan: string, kind: string, now: number, intervalMs: number, host: string): boolean {
  const row = claimRow(s, plan, kind, { next_at: now, cursor: 0, host, claimed_at: now });
  if (row.next_at > now) return false;
  s.patch(row, { next_at: now + intervalMs, host, claimed_at: now });
  return true;
}

export function advanceCursor(s: MemState, plan: string, kind: string, from: number, to: number, host: string, now: number): boolean {
  const row = claimRow(s, plan, kind, { next_at: 0, cursor: from, host, claimed_at: now });
  if (row.cursor !== from) return false;
  s.patch(row, { cursor: to, host, claimed_at: now });
  return true;
}

export function fleetCursor(s: MemState, plan: string, kind: string): number | null {
  return s.fleetClaims.get(key(plan, kind))?.cursor ?? null;
}
