/**
 * The fleet as `warmup status` shows it: which daemon (host, pid) sends from
 * which IP, its last heartbeat, the IPs reported unattended, and the plan's
 * IPs no daemon holds. Read from the IP leases (src/store/lease.ts), so it is
 * the same from any host. Pure.
 */
import type { Plan } from '../../plan/types.js';
import type { IpLeaseView } from '../../store/lease.js';
import { duration, localStamp, table } from '../format.js';

/** One daemon of the fleet. */
export interface FleetDaemon {
  readonly host: string;
  readonly pid: number;
  readonly ips: readonly string[];
  /** Wall-clock ms of its newest heartbeat, and how long ago that was. */
  readonly heartbeatAt: number;
  readonly heartbeatAgoMs: number;
  /** IPs of it reported unattended (its heartbeat stopped). */
  readonly unattended: readonly string[];
}

export interface FleetView {
  readonly daemons: readonly FleetDaemon[];
  /** Per plan IP: who holds it (null: nobody) and whether it is attended. */
  readonly ips: ReadonlyArray<{ readonly ip: string; readonly host: string | null; readonly pid: number | null; readonly heartbeatAt: string | null; readonly attended: boolean }>;
  readonly attended: number;
}

/** The fleet from the plan's IP leases at wall-clock `realNow`. */
export function fleetView(plan: Plan, leases: readonly IpLeaseView[], realNow: number): FleetView {
  const byIp = new Map(leases.map((l) => [l.ip, l]));
  const daemons = new Map<string, { host: string; pid: number; ips: string[]; heartbeatAt: number; unattended: string[] }>();
  for (const l of leases) {
    const key = `${l.host} ${l.pid}`;
    const d = daemons.get(key) ?? { host: l.host, pid: l.pid, ips: [], heartbeatAt: l.heartbeatAt, unattended: [] };
    d.ips.push(l.ip);
    d.heartbeatAt = Math.max(d.heartbeatAt, l.heartbeatAt);
    if (l.unattendedAt !== null) d.unattended.push(l.ip);
    daemons.set(key, d);
  }
  const ips = plan.ips.map(({ address }) => {
    const l = byIp.get(address);
    return { ip: address, host: l?.host ?? null, pid: l?.pid ?? null, heartbeatAt: l ? new Date(l.heartbeatAt).toISOString() : null, attended: Boolean(l && l.unattendedAt === null) };
  });
  return {
    daemons: [...daemons.values()].sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid).map((d) => ({ ...d, heartbeatAgoMs: Math.max(0, realNow - d.heartbeatAt) })),
    ips,
    attended: ips.filter((i) => i.attended).length,
  };
}

/** The fleet block of the text status; nothing when no daemon ever took a lease. */
export function renderFleet(v: FleetView, timezone: string): string[] {
  if (v.daemons.length === 0) return [];
  const free = v.ips.filter((i) => i.host === null).map((i) => i.ip);
  const out = ['', `Fleet: ${v.daemons.length} daemon${v.daemons.length === 1 ? '' : 's'}, ${v.attended} of ${v.ips.length} IPs attended${free.length > 0 ? `; held by no daemon: ${free.join(', ')}` : ''}`];
  out.push(...table(['host', 'pid', 'IPs', 'last heartbeat', 'state'], v.daemons.map((d) => [
    d.host, String(d.pid), d.ips.join(' '), `${localStamp(d.heartbeatAt, timezone)} (${duration(d.heartbeatAgoMs)} ago)`,
    d.unattended.length === 0 ? 'sending' : `UNATTENDED: ${d.unattended.join(' ')}`,
  ]), 5).split('\n').map((l) => `  ${l}`));
  return out;
}
