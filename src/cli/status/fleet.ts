/**
 * The fleet block of `warmup status`'s text: the view itself (who holds which
 * IP, heartbeats, unattended IPs) is src/store/fleet-view.ts, shared with the
 * report. Pure.
 */
import type { FleetView } from '../../store/fleet-view.js';
import { duration, localStamp, table } from '../format.js';

export { fleetView, type FleetDaemon, type FleetView } from '../../store/fleet-view.js';

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
