/**
 * The fleet as `warmup status` and `warmup report` show it: which daemon
 * (host, pid) sends from which IP, its last heartbeat, the IPs reported
 * unattended, and the plan's IPs no daemon holds. Read from the IP leases
 * (./lease.ts), so it is the same from any host. `fleetView` is pure;
 * `readFleetView` is the one read both commands make.
 */
import type { Plan } from '../plan/types.js';
import type { IpLeaseView } from './lease.js';
import type { Store } from './store.js';

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

/**
 * The plan's fleet as of wall-clock `realNow`, read from its IP leases. A
 * database from before fleets (no `ip_leases` table, opened read-only so not
 * migrated) reads as a fleet nobody joined.
 */
export async function readFleetView(store: Pick<Store, 'ipLeases'>, plan: Plan, realNow: number): Promise<FleetView> {
  return fleetView(plan, await store.ipLeases(plan.name).catch(() => []), realNow);
}
