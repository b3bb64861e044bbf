/**
 * The one store interface: every read and write the daemon, the commands, the
 * report, the metrics and the simulation make, named by concept. Callers hold a
 * `Store` and never see SQL or the engine behind it.
 *
 * The operations are the query modules' functions without their first
 * argument (the database or transaction), so an implementation over SQL binds
 * them (see `sqlStore`) and any other implementation (memory) must match them
 * exactly; the compiler checks both against this one definition.
 *
 * Implementations: SQLite (the default, `openStore`), an in-memory store for
 * simulation, and PostgreSQL for a fleet (same SQL through kysely).
 */
import type * as Lanes from './lanes.js';
import type * as Holds from './holds.js';
import type * as Lease from './lease.js';
import type * as Days from './days.js';
import type * as Messages from './messages.js';
import type * as Runs from './runs.js';
import type * as Events from './events.js';
import type * as Placements from './placements.js';
import type * as Dnsbl from './dnsbl.js';
import type * as Routed from './routed.js';
import type * as Replies from './replies.js';
import type { Db } from './schema.js';

/** A query function of `(db, ...args)` as the method `(...args)`. */
type Bound<F> = F extends (db: Db, ...args: infer A) => infer R ? (...args: A) => R : never;

/** The database functions of a query module (its first parameter is the database), bound. */
export type Ops<M> = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [K in keyof M as M[K] extends (db: Db, ...args: any[]) => any ? K : never]: Bound<M[K]>;
};

/** Lanes (IP x provider) and their shaping (rate cut, connection cap). */
export type LaneOps = Ops<typeof Lanes>;
/** Holds on lanes (operator, policy, dnsbl, rule, breaker) and the state they summarise. */
export type HoldOps = Ops<typeof Holds>;
/** A fleet's IP leases (host, pid, heartbeat) and once-only claims. */
export type LeaseOps = Ops<typeof Lease>;
/** Lane days: opened with their target, decided once at day end. */
export type DayOps = Ops<typeof Days>;
/** Messages and attempts: created, claimed, recorded, recovered, counted. */
export type MessageOps = Ops<typeof Messages>;
/** Daemon runs and the daemon's (possibly accelerated) clock. */
export type RunOps = Ops<typeof Runs>;
/** The event log. */
export type EventOps = Ops<typeof Events>;
/** Inbox placement checks and seed engagement. */
export type PlacementOps = Ops<typeof Placements>;
/** DNSBL answers per IP. */
export type DnsblOps = Ops<typeof Dnsbl>;
/** Mail Postfix delivered through a lane (routing), and the maillog position. */
export type RoutedOps = Ops<typeof Routed>;
/** SMTP replies per lane and day, and queues. */
export type ReplyOps = Ops<typeof Replies>;

export type StoreOps = LaneOps & HoldOps & LeaseOps & DayOps & MessageOps & RunOps & EventOps
  & PlacementOps & DnsblOps & RoutedOps & ReplyOps;

export type StoreKind = 'sqlite' | 'postgres' | 'memory';

export interface Store extends StoreOps {
  readonly kind: StoreKind;
  /** Where it lives, fit to print: a file path, a URL without its password, or `memory`. */
  readonly location: string;
  /**
   * Runs `fn` in one transaction: everything it does through the store it is
   * given commits together or not at all. Called inside a transaction, it
   * joins it.
   */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
