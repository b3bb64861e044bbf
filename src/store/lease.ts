/**
 * A fleet's leases: one row per plan and IP naming the host and pid of the
 * daemon that sends from it, with a heartbeat. A daemon wanting an IP a live
 * daemon holds does not get it; a lease whose heartbeat stopped (kill -9, a
 * crashed host), or whose process is gone on this host, is taken over. Also
 * the fleet's once-only claims (periodic tasks, the alert cursor). Times of
 * the leases are wall-clock milliseconds: they are about real processes, not
 * the daemon's (possibly accelerated) plan clock.
 *
 * (The `leases` table, one lease per plan, is what daemons before fleets
 * held; nothing writes it now, and `warmup store copy` still reads it.)
 */
import type { Db } from './schema.js';
import { sqlRows } from './prepared.js';
import * as Reads from './reads.js';
import { ipView } from './reads.js';
import { inTransaction } from './transaction.js';

/** The caller asking for the lease. */
export interface LeaseClaim {
  readonly host: string;
  readonly pid: number;
  /** Random: only this claim renews or releases what it acquired. */
  readonly token: string;
  /** Wall-clock now (ms). */
  readonly now: number;
  /**
   * This daemon's staleness window: kept with each lease it takes, by which every daemon judges
   * that lease (a lease from before it was kept is judged by the reader's own).
   */
  readonly staleMs: number;
  /** Whether a process of this host is running (a dead pid's lease is taken over at once). */
  readonly alive: (pid: number) => boolean;
  /** The daemon's (possibly accelerated) clock, for the events an IP lease writes (default `now`). */
  readonly clockNow?: number;
}

/** Who holds an IP of a fleet, as `warmup status` shows it. */
export interface IpLeaseView {
  readonly ip: string;
  readonly host: string;
  readonly pid: number;
  readonly acquiredAt: number;
  readonly heartbeatAt: number;
  /** When another daemon reported its heartbeat stopped, or null while attended. */
  readonly unattendedAt: number | null;
  /** The holder's staleness window (ms), or null on a lease from before it was kept. */
  readonly staleMs: number | null;
}

/** What {@link acquireIpLeases} got. */
export interface IpLeaseResult {
  /** IPs now this claim's, with who held them before (null: nobody, or this claim already). */
  readonly taken: ReadonlyArray<{ readonly ip: string; readonly from: IpLeaseView | null }>;
  /** IPs a live daemon holds. */
  readonly held: ReadonlyArray<{ readonly ip: string; readonly holder: IpLeaseView }>;
}


/**
 * Takes the lease of each IP in `ips` that no live daemon holds: free, this
 * claim's already, stale (heartbeat older than `staleMs`), or held by a dead
 * pid of this same host (after kill -9). Each IP is taken by a conditional
 * write, so two daemons racing for one IP cannot both get it. IPs taken from
 * another holder (or that were reported unattended) get an `ips_attended`
 * event naming them. One transaction.
 */
export async function acquireIpLeases(db: Db, plan: string, ips: readonly string[], claim: LeaseClaim): Promise<IpLeaseResult> {
  if (ips.length === 0) return { taken: [], held: [] };
  return inTransaction(db, async (trx) => {
    const rows = new Map((await trx.selectFrom('ip_leases').selectAll().where('plan', '=', plan).where('ip', 'in', [...ips]).execute()).map((r) => [r.ip, r]));
    const taken: Array<{ ip: string; from: IpLeaseView | null }> = [];
    const held: Array<{ ip: string; holder: IpLeaseView }> = [];
    const values = { host: claim.host, pid: claim.pid, token: claim.token, acquired_at: claim.now, heartbeat_at: claim.now, unattended_at: null, stale_ms: claim.staleMs };
    for (const ip of ips) {
      const row = rows.get(ip);
      if (!row) {
        const r = await trx.insertInto('ip_leases').values({ plan, ip, ...values }).onConflict((oc) => oc.columns(['plan', 'ip']).doNothing()).returning('ip').executeTakeFirst();
        if (r) taken.push({ ip, from: null });
        else {
          // Another daemon inserted it after this one read (PostgreSQL: its commit is visible to a new
          // statement): name it, so a start that got no IP says who holds them rather than nobody.
          const winner = await trx.selectFrom('ip_leases').selectAll().where('plan', '=', plan).where('ip', '=', ip).executeTakeFirst();
          if (winner) held.push({ ip, holder: ipView(winner) });
        }
        continue;
      }
      const holder = ipView(row);
      const mine = row.token === claim.token;
      const stale = claim.now - holder.heartbeatAt > (holder.staleMs ?? claim.staleMs) || (row.host === claim.host && holder.pid !== claim.pid && !claim.alive(holder.pid));
      if (!mine && !stale) { held.push({ ip, holder }); continue; }
      // Conditional on the row still being as read: the token, and for a takeover the heartbeat too.
      // Its holder may renew between the read and this write (PostgreSQL re-checks the condition on
      // the row the renewal committed); on the token alone the takeover went through anyway, and both
      // daemons sent from the IP until the holder's next renewal.
      let q = trx.updateTable('ip_leases').set(mine ? { heartbeat_at: claim.now, unattended_at: null } : values)
        .where('plan', '=', plan).where('ip', '=', ip).where('token', '=', row.token);
      if (!mine) q = q.where('heartbeat_at', '=', row.heartbeat_at);
      const r = await q.executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0) taken.push({ ip, from: mine ? null : holder });
      else held.push({ ip, holder });
    }
    const back = taken.filter((t) => t.from !== null);
    if (back.length > 0) {
      const from = [...new Set(back.map((t) => `${t.from!.host} (pid ${t.from!.pid})`))].join(', ');
      await trx.insertInto('events').values({
        at: claim.clockNow ?? claim.now, plan, lane_id: null, ip: null, provider: null, kind: 'ips_attended', from_state: 'unattended', to_state: 'attended', actor: `fleet:${claim.host}`,
        cause: JSON.stringify({ reason: `${back.map((t) => t.ip).join(', ')} now sent from by ${claim.host} (pid ${claim.pid}), taken from ${from}`, ips: back.map((t) => t.ip), host: claim.host, pid: claim.pid, from: back.map((t) => ({ ip: t.ip, host: t.from!.host, pid: t.from!.pid, heartbeatAt: t.from!.heartbeatAt })) }),
      }).execute();
    }
    return { taken, held };
  });
}

/**
 * The heartbeat of every IP lease of this daemon (`token`): returns the IPs
 * still its own. An IP another daemon took over (its heartbeat was late) is
 * no longer among them: the caller stops sending from it at once.
 */
export async function renewIpLeases(db: Db, plan: string, token: string, now: number): Promise<string[]> {
  const rows = await db.updateTable('ip_leases').set({ heartbeat_at: now, unattended_at: null })
    .where('plan', '=', plan).where('token', '=', token).returning('ip').execute();
  return rows.map((r) => r.ip).sort();
}

/** Gives up this daemon's IP leases (a clean stop), or only `ips`. */
export async function releaseIpLeases(db: Db, plan: string, token: string, ips?: readonly string[]): Promise<void> {
  let q = db.deleteFrom('ip_leases').where('plan', '=', plan).where('token', '=', token);
  if (ips !== undefined) {
    if (ips.length === 0) return;
    q = q.where('ip', 'in', [...ips]);
  }
  await q.execute();
}

/** Every IP lease of a plan (status, metrics: which host holds which IP, last heartbeat). */
export function ipLeases(db: Db, plan: string): Promise<IpLeaseView[]> {
  return Reads.ipLeases(sqlRows(db), plan);
}

/**
 * Reports the IPs whose daemon stopped heartbeating (older than its own
 * staleness window, or `staleMs` on a lease from before it was kept):
 * marks their leases unattended and writes one `ips_unattended` event per
 * silent daemon naming its IPs, all in one transaction. The mark is a
 * conditional write, so across a fleet each silence is reported once,
 * whichever daemon notices it. Returns the IPs reported now.
 */
export async function reportUnattended(db: Db, plan: string, realNow: number, staleMs: number, clockNow: number, by: string): Promise<string[]> {
  return inTransaction(db, async (trx) => {
    const silent = (await trx.selectFrom('ip_leases').selectAll().where('plan', '=', plan).where('unattended_at', 'is', null).orderBy('ip').execute())
      .filter((row) => Number(row.heartbeat_at) < realNow - Number(row.stale_ms ?? staleMs));
    const byHolder = new Map<string, IpLeaseView[]>();
    for (const row of silent) {
      // Conditional on the heartbeat read: a renewal in between means the daemon is not silent.
      const r = await trx.updateTable('ip_leases').set({ unattended_at: realNow }).where('plan', '=', plan).where('ip', '=', row.ip)
        .where('token', '=', row.token).where('heartbeat_at', '=', row.heartbeat_at).where('unattended_at', 'is', null).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) continue;
      const key = `${row.host} ${row.pid} ${row.token}`;
      byHolder.set(key, [...(byHolder.get(key) ?? []), ipView(row)]);
    }
    for (const leases of byHolder.values()) {
      const { host, pid, heartbeatAt } = leases[0]!;
      const ips = leases.map((l) => l.ip);
      const ago = Math.round((realNow - heartbeatAt) / 1000);
      await trx.insertInto('events').values({
        at: clockNow, plan, lane_id: null, ip: null, provider: null, kind: 'ips_unattended', from_state: 'attended', to_state: 'unattended', actor: `fleet:${by}`,
        cause: JSON.stringify({ reason: `${ips.join(', ')} unattended: the daemon of host ${host} (pid ${pid}) stopped heartbeating ${ago}s ago`, ips, host, pid, heartbeatAt, reportedBy: by }),
      }).execute();
    }
    return [...byHolder.values()].flat().map((l) => l.ip);
  });
}

/**
 * Claims a periodic task of the fleet (a DNSBL pass) when it is due: true for
 * exactly one caller per period, whichever host asks first; the next one is
 * due `intervalMs` later (clock ms). One conditional write.
 */
export async function claimPeriodic(db: Db, plan: string, kind: string, now: number, intervalMs: number, host: string): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    await trx.insertInto('fleet_claims').values({ plan, kind, next_at: now, cursor: 0, host, claimed_at: now })
      .onConflict((oc) => oc.columns(['plan', 'kind']).doNothing()).execute();
    const r = await trx.updateTable('fleet_claims').set({ next_at: now + intervalMs, host, claimed_at: now })
      .where('plan', '=', plan).where('kind', '=', kind).where('next_at', '<=', now).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  });
}

/**
 * Moves a fleet's shared cursor (the last event forwarded as an alert) from
 * `from` to `to`: true for the one caller whose `from` was still current (it
 * forwards those events); false when another daemon moved it first. A
 * missing cursor starts at `from`.
 */
export async function advanceCursor(db: Db, plan: string, kind: string, from: number, to: number, host: string, now: number): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    await trx.insertInto('fleet_claims').values({ plan, kind, next_at: 0, cursor: from, host, claimed_at: now })
      .onConflict((oc) => oc.columns(['plan', 'kind']).doNothing()).execute();
    const r = await trx.updateTable('fleet_claims').set({ cursor: to, host, claimed_at: now })
      .where('plan', '=', plan).where('kind', '=', kind).where('cursor', '=', from).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  });
}

/** Where a fleet's shared cursor stands, or null before its first move. */
export async function fleetCursor(db: Db, plan: string, kind: string): Promise<number | null> {
  const r = await db.selectFrom('fleet_claims').select('cursor').where('plan', '=', plan).where('kind', '=', kind).executeTakeFirst();
  return r ? Number(r.cursor) : null;
}
