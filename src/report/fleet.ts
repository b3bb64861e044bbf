/**
 * The report's fleet section: which daemon sends from which IP now (the view
 * `warmup status` shows, src/store/fleet-view.ts), the IPs that went
 * unattended and were taken back or over (the `ips_unattended` /
 * `ips_attended` events the leases write), and the volume per host.
 *
 * Attempts record their lane (IP), not the daemon that made them, and a
 * lease's history is only what its events say (a daemon's first lease of an
 * IP writes none). So volume is given to a host only where that is known: an
 * IP the plan pins to one host (`ips[].host`) was sent from by that host
 * alone; any other IP counts for the host holding it now, marked when its
 * events show another host sent from it before; an IP nobody holds now
 * counts for no host. Pure: data in, data (or HTML) out.
 */
import type { Plan } from '../plan/types.js';
import { duration } from '../cli/format.js';
import { localStamp } from '../schedule/calendar.js';
import type { EventFields } from '../store/event-view.js';
import type { FleetView } from '../store/fleet-view.js';
import { esc, fold, FOLD } from './charts.js';

/** One fleet event: IPs reported unattended, or taken back (same host) or over (another host). */
export interface ReportFleetEvent {
  readonly at: number;
  readonly day: string;
  readonly kind: 'unattended' | 'taken back' | 'taken over';
  /** Unattended: the silent daemon; taken: the daemon that took the IPs. */
  readonly host: string;
  readonly pid: number | null;
  readonly ips: readonly string[];
  /** Taken: the hosts the IPs were taken from. */
  readonly from: readonly string[];
  /** The host whose daemon wrote the event. */
  readonly by: string;
}

/** How a host's volume was attributed to it, per IP. */
export type Attribution = 'pinned' | 'holder now' | 'holder now, moved';

export interface ReportFleetHost {
  /** null: the IPs no host can be given (floating, nobody holds them now). */
  readonly host: string | null;
  readonly ips: ReadonlyArray<{ readonly ip: string; readonly basis: Attribution | null }>;
  readonly sent: number;
  readonly attempts: number;
  readonly accepted: number;
}

export interface ReportFleet {
  /** Wall-clock ms the leases were read at (heartbeat ages count from it). */
  readonly realNow: number;
  /** Every host known: holding a lease now, named by a fleet event or by the plan (`ips[].host`). */
  readonly hosts: readonly string[];
  readonly now: FleetView;
  readonly events: readonly ReportFleetEvent[];
  readonly perHost: readonly ReportFleetHost[];
  /** One host (or none) and no fleet event: the section is one line. */
  readonly single: boolean;
}

/** The lane-day figures this needs. */
interface Volume { readonly ip: string; readonly sent: number; readonly attempts: number; readonly accepted: number }

/** The kinds of event the fleet writes (src/store/lease.ts). */
export const FLEET_EVENT_KINDS = ['ips_unattended', 'ips_attended'] as const;

/**
 * The fleet section's data from the lease view, the plan's events and its
 * lane-days; `dayOf` gives an event's plan-local day.
 */
export function reportFleet(plan: Plan, now: FleetView, events: readonly EventFields[], volume: readonly Volume[], realNow: number, dayOf: (at: number) => string): ReportFleet {
  const fleetEvents = events.filter((e) => (FLEET_EVENT_KINDS as readonly string[]).includes(e.kind)).map((e) => fleetEvent(e, dayOf));
  const hosts = [...new Set([...now.daemons.map((d) => d.host), ...fleetEvents.flatMap((e) => [e.host, ...e.from]), ...plan.ips.flatMap((i) => i.hosts ?? [])])].sort();
  // IPs another host sent from before (taken over): their totals are not the current holder's alone.
  const moved = new Set(fleetEvents.filter((e) => e.kind === 'taken over').flatMap((e) => e.ips));
  const holder = new Map(now.ips.map((i) => [i.ip, i.host]));
  const owner = new Map<string, { host: string | null; basis: Attribution | null }>();
  for (const ip of plan.ips) {
    const pinned = ip.hosts?.length === 1 ? ip.hosts[0]! : null;
    const h = holder.get(ip.address) ?? null;
    owner.set(ip.address, pinned !== null ? { host: pinned, basis: 'pinned' } : h !== null ? { host: h, basis: moved.has(ip.address) ? 'holder now, moved' : 'holder now' } : { host: null, basis: null });
  }
  const rows = new Map<string | null, { host: string | null; ips: Array<{ ip: string; basis: Attribution | null }>; sent: number; attempts: number; accepted: number }>();
  for (const [ip, o] of owner) {
    const r = rows.get(o.host) ?? { host: o.host, ips: [], sent: 0, attempts: 0, accepted: 0 };
    r.ips.push({ ip, basis: o.basis });
    rows.set(o.host, r);
  }
  for (const v of volume) {
    const r = rows.get(owner.get(v.ip)?.host ?? null);
    if (!r) continue;
    r.sent += v.sent; r.attempts += v.attempts; r.accepted += v.accepted;
  }
  const perHost = [...rows.values()].sort((a, b) => (a.host === null ? 1 : b.host === null ? -1 : a.host.localeCompare(b.host)));
  return { realNow, hosts, now, events: fleetEvents, perHost, single: hosts.length <= 1 && fleetEvents.length === 0 };
}

function fleetEvent(e: EventFields, dayOf: (at: number) => string): ReportFleetEvent {
  let c: { ips?: unknown; host?: unknown; pid?: unknown; from?: unknown } = {};
  try { c = JSON.parse(e.cause) as typeof c; } catch { /* an unreadable cause keeps its kind and time */ }
  const host = typeof c.host === 'string' ? c.host : '?';
  const from = Array.isArray(c.from) ? [...new Set(c.from.map((f: { host?: unknown }) => String(f?.host ?? '?')))] : [];
  const kind = e.kind === 'ips_unattended' ? 'unattended' : from.some((f) => f !== host) ? 'taken over' : 'taken back';
  return {
    at: e.at, day: dayOf(e.at), kind, host, pid: typeof c.pid === 'number' ? c.pid : null,
    ips: Array.isArray(c.ips) ? c.ips.map(String) : [], from, by: e.actor.replace(/^fleet:/, ''),
  };
}

const pct = (n: number, of: number) => (of > 0 ? `${((n / of) * 100).toFixed(1)}%` : '–');
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The fleet section of the page: one line for a single host, else who sends now, the events and volume per host. */
export function renderFleetSection(f: ReportFleet, timezone: string): string {
  const ago = (at: number) => `${esc(localStamp(at, timezone))} (${esc(duration(Math.max(0, f.realNow - at)))} ago)`;
  if (f.single) {
    const d = f.now.daemons[0];
    const line = d
      ? `Single host: ${esc(d.host)} (pid ${d.pid}) holds ${f.now.ips.filter((i) => i.host !== null).length} of ${f.now.ips.length} IPs, last heartbeat ${ago(d.heartbeatAt)}${d.unattended.length ? `; unattended: ${esc(d.unattended.join(' '))}` : ''}.`
      : 'Single host: no fleet data (no daemon holds an IP lease now; no IP was reported unattended or taken over).';
    return `<section><h2>Fleet</h2><p class="note" data-fleet="single">${line}</p></section>`;
  }
  const free = f.now.ips.filter((i) => i.host === null).map((i) => i.ip);
  const daemons = f.now.daemons.map((d) => `<tr class="${d.unattended.length ? 'paused' : 'ready'}"><td>${esc(d.host)}</td><td class="num">${d.pid}</td><td>${esc(d.ips.join(' '))}</td><td>${ago(d.heartbeatAt)}</td>`
    + `<td><span class="badge ${d.unattended.length ? 'paused' : 'ready'}">${d.unattended.length ? 'unattended' : 'attended'}</span>${d.unattended.length ? ` ${esc(d.unattended.join(' '))}` : ''}</td></tr>`).join('');
  const nowTable = f.now.daemons.length === 0
    ? '<p class="empty">No daemon holds an IP lease now (every daemon stopped cleanly, or none ran).</p>'
    : fold(f.now.daemons.length > FOLD, `${f.now.daemons.length} daemons`, `<table data-table="fleet-now"><thead><tr><th>host</th><th>pid</th><th>IPs</th><th>last heartbeat</th><th>state</th></tr></thead><tbody>${daemons}</tbody></table>`);

  const count = (k: ReportFleetEvent['kind']) => f.events.filter((e) => e.kind === k);
  const ipCount = (list: readonly ReportFleetEvent[]) => list.reduce((a, e) => a + e.ips.length, 0);
  const counts = (['unattended', 'taken back', 'taken over'] as const).map((k) => `${plural(count(k).length, 'time')} ${k} (${plural(ipCount(count(k)), 'IP')})`).join(', ');
  const eventRows = f.events.map((e) => `<tr class="${e.kind === 'unattended' ? 'paused' : 'ready'}"><td>${esc(localStamp(e.at, timezone))}</td><td>${esc(e.kind)}</td><td>${esc(e.host)}${e.pid !== null ? ` (pid ${e.pid})` : ''}</td><td>${esc(e.ips.join(' '))}</td><td>${esc(e.from.join(', '))}</td><td>${esc(e.by)}</td></tr>`).join('');
  const eventTable = f.events.length === 0
    ? '<p class="empty ok">No IP went unattended or changed hands.</p>'
    : fold(f.events.length > FOLD, `${f.events.length} fleet events`, `<table data-table="fleet-events"><thead><tr><th>at (${esc(timezone)})</th><th>event</th><th>host</th><th>IPs</th><th>taken from</th><th>reported by</th></tr></thead><tbody>${eventRows}</tbody></table>`);

  const mark = (b: Attribution | null) => (b === 'holder now' ? ' †' : b === 'holder now, moved' ? ' ‡' : '');
  const hostRows = f.perHost.map((h) => `<tr><td>${h.host === null ? '<i>no host known</i>' : esc(h.host)}</td><td>${esc(h.ips.map((i) => `${i.ip}${mark(i.basis)}`).join(' '))}</td>`
    + `<td class="num">${int(h.sent)}</td><td class="num">${int(h.attempts)}</td><td class="num">${int(h.accepted)}</td><td class="num">${pct(h.accepted, h.attempts)}</td></tr>`).join('');
  const hostTable = `<table data-table="fleet-hosts"><thead><tr><th>host</th><th>IPs</th><th>sent</th><th>attempts</th><th>accepted</th><th>accepted / attempts</th></tr></thead><tbody>${hostRows}</tbody></table>`
    + '<p class="note">All days so far, summed over each IP\'s lanes. Attempts do not record the daemon that made them: an IP the plan pins to one host (<code>ips[].host</code>) counts for that host; '
    + 'any other IP for the host holding it now (†), which may not be the host that sent all of it (‡: another host sent from it before a takeover); one nobody holds now for no host.</p>';

  return `<section><h2>Fleet</h2><p class="note">${plural(f.hosts.length, 'host')} (${esc(f.hosts.join(', '))}); now ${plural(f.now.daemons.length, 'daemon')}, ${f.now.attended} of ${f.now.ips.length} IPs attended${free.length ? `; held by no daemon: ${esc(free.join(', '))}` : ''}. Heartbeat ages are wall-clock, as of ${esc(localStamp(f.realNow, timezone))}.</p>`
    + `<h3>Who sends from which IP now</h3>${nowTable}`
    + `<h3>IPs unattended, taken back and taken over</h3><p class="note">${counts}.</p>${eventTable}`
    + `<h3>Volume per host</h3>${hostTable}</section>`;
}
