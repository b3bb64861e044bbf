/**
 * The single-daemon lease: one row per plan naming the host and pid of the
 * daemon that runs it, with a heartbeat. A second `warmup start` of the same
 * plan on the same database finds a fresh lease and refuses; a lease whose
 * heartbeat stopped (kill -9, a crashed host), or whose process is gone on
 * this host, is taken over. Times are wall-clock milliseconds: the lease is
 * about real processes, not the daemon's (possibly accelerated) plan clock.
 */
import type { Db } from './schema.js';
import { inTransaction } from './transaction.js';

/** Who holds a lease. */
export interface LeaseHolder {
  readonly host: string;
  readonly pid: number;
  readonly acquiredAt: number;
  readonly heartbeatAt: number;
}

/** The caller asking for the lease. */
export interface LeaseClaim {
  readonly host: string;
  readonly pid: number;
  /** Random: only this claim renews or releases what it acquired. */
  readonly token: string;
  /** Wall-clock now (ms). */
  readonly now: number;
  /** A heartbeat older than this is stale. */
  readonly staleMs: number;
  /** Whether a process of this host is running (a dead pid's lease is taken over at once). */
  readonly alive: (pid: number) => boolean;
}

export type LeaseResult =
  | { readonly ok: true; readonly takenOver: LeaseHolder | null }
  | { readonly ok: false; readonly holder: LeaseHolder };

/** Takes the plan's lease unless a live daemon holds it; one transaction. */
export async function acquireLease(db: Db, plan: string, claim: LeaseClaim): Promise<LeaseResult> {
  return inTransaction(db, async (trx) => {
    const row = await trx.selectFrom('leases').selectAll().where('plan', '=', plan).executeTakeFirst();
    const holder: LeaseHolder | null = row ? { host: row.host, pid: row.pid, acquiredAt: row.acquired_at, heartbeatAt: row.heartbeat_at } : null;
    if (row && holder) {
      const mine = row.token === claim.token;
      const stale = claim.now - row.heartbeat_at > claim.staleMs || (row.host === claim.host && row.pid !== claim.pid && !claim.alive(row.pid));
      if (!mine && !stale) return { ok: false, holder };
    }
    const values = { host: claim.host, pid: claim.pid, acquired_at: claim.now, heartbeat_at: claim.now, token: claim.token };
    if (row) await trx.updateTable('leases').set(values).where('plan', '=', plan).execute();
    else await trx.insertInto('leases').values({ plan, ...values }).execute();
    return { ok: true, takenOver: row && row.token !== claim.token ? holder : null };
  });
}

/** Moves the heartbeat on; false when the lease is no longer this token's (another daemon took it over). */
export async function renewLease(db: Db, plan: string, token: string, now: number): Promise<boolean> {
  const r = await db.updateTable('leases').set({ heartbeat_at: now }).where('plan', '=', plan).where('token', '=', token).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Gives the lease up (a clean stop), only if it is still this token's. */
export async function releaseLease(db: Db, plan: string, token: string): Promise<void> {
  await db.deleteFrom('leases').where('plan', '=', plan).where('token', '=', token).execute();
}

/** The plan's lease, if any (status shows who runs the plan). */
export async function currentLease(db: Db, plan: string): Promise<LeaseHolder | null> {
  const row = await db.selectFrom('leases').selectAll().where('plan', '=', plan).executeTakeFirst();
  return row ? { host: row.host, pid: row.pid, acquiredAt: row.acquired_at, heartbeatAt: row.heartbeat_at } : null;
}
