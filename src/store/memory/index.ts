/**
 * The in-memory store: the `Store` interface over plain JavaScript tables,
 * for simulation (a launch plan's few hundred thousand messages in seconds,
 * where SQLite spends minutes in statements). It has the SQL store's
 * semantics operation for operation: the same rows and field names, order,
 * ids (from 1 per table), return values, and a thrown error where SQL would
 * break a constraint; the conformance suite (test/store/conformance) runs the
 * same tests against both.
 *
 * Transactions behave like SQLite's single connection: `transaction(fn)`
 * holds the store until `fn` settles (operations called on the store itself
 * meanwhile wait their turn; those on the transaction's store run at once),
 * and undoes everything `fn` did if it throws. Every operation is atomic on
 * its own too.
 *
 * It keeps a message only while an operation can still read it: in flight,
 * deferred, routed, or accepted and waiting for its placement. Past that only
 * its Message-ID stays (the unique constraint), and what it counted is in the
 * lane-day and per-lane tallies, so a simulation's memory follows the queue,
 * not the number of messages sent. The one difference from SQL that follows:
 * an attempt or a placement written for a released message is refused
 * (STORE_RELEASED), where SQL would take it; the daemon never writes either.
 */
import type { Store, StoreOps } from '../store.js';
import * as Days from './days.js';
import * as Events from './events.js';
import * as Fleet from './fleet.js';
import * as Lanes from './lanes.js';
import * as Messages from './messages.js';
import * as Placements from './placements.js';
import * as Routed from './routed.js';
import * as Runs from './runs.js';
import { atomically, MemState, rollbackTo } from './state.js';

/** An operation of `Store` as a synchronous function of the memory state. */
type MemOps = {
  [K in keyof StoreOps]: StoreOps[K] extends (...a: infer A) => Promise<infer R> ? (s: MemState, ...a: A) => R : never;
};

/** Every operation's memory implementation; the compiler checks each against the interface. */
const OPS: MemOps = {
  ensureLanes: Lanes.ensureLanes, loadLanes: Lanes.loadLanes, laneGauges: Lanes.laneGauges, setLaneShaping: Lanes.setLaneShaping,
  addHold: Lanes.addHold, removeHolds: Lanes.removeHolds, lapseHolds: Lanes.lapseHolds, listHolds: Lanes.listHolds,
  acquireIpLeases: Fleet.acquireIpLeases, renewIpLeases: Fleet.renewIpLeases, releaseIpLeases: Fleet.releaseIpLeases, ipLeases: Fleet.ipLeases,
  reportUnattended: Fleet.reportUnattended, claimPeriodic: Fleet.claimPeriodic, advanceCursor: Fleet.advanceCursor, fleetCursor: Fleet.fleetCursor,
  recordForecast: Days.recordForecast,
  startRun: Runs.startRun, endRun: Runs.endRun, daemonNow: Runs.daemonNow, storeNow: Runs.storeNow, lastRun: Runs.lastRun,
  getLaneDay: Days.getLaneDay, previousLaneDay: Days.previousLaneDay, laneDays: Days.laneDays, openLaneDay: Days.openLaneDay,
  decideLaneDay: Days.decideLaneDay, undecidedDays: Days.undecidedDays, unsettledMessages: Days.unsettledMessages,
  laneHistory: Days.laneHistory, decisionTallies: Days.decisionTallies, laneDecisions: Days.laneDecisions, latestLaneDay: Days.latestLaneDay,
  createMessage: Messages.createMessage, createMessages: Messages.createMessages, claimDueRetries: Messages.claimDueRetries,
  returnUnsent: Messages.returnUnsent, recordAttempts: Messages.recordAttempts, recordAttempt: Messages.recordAttempt,
  writeAttempt: Messages.writeAttempt, recoverInFlight: Messages.recoverInFlight, queueCounts: Messages.queueCounts,
  pendingRetries: Messages.pendingRetries, attemptOutcomeCounts: Messages.attemptOutcomeCounts, nextRetryDue: Messages.nextRetryDue,
  addEvent: Events.addEvent, listEvents: Events.listEvents, lastStateEvent: Events.lastStateEvent, lastIpEvent: Events.lastIpEvent,
  eventsAfter: Events.eventsAfter, lastEventId: Events.lastEventId, eventIdsAfter: Events.eventIdsAfter, newestEventAt: Events.newestEventAt,
  eventKindsSeen: Events.eventKindsSeen, recentEvents: Events.recentEvents,
  pendingPlacements: Placements.pendingPlacements, recordPlacements: Placements.recordPlacements,
  dueEngagements: Placements.dueEngagements, markEngaged: Placements.markEngaged,
  recordDnsblResults: Placements.recordDnsblResults, lastDnsblVerdicts: Placements.lastDnsblVerdicts,
  latestDnsblResults: Placements.latestDnsblResults, dnsblHistory: Placements.dnsblHistory,
  recordRoutedDelivery: Routed.recordRoutedDelivery, recordRoutedDeliveries: Routed.recordRoutedDeliveries,
  saveLogPosition: Routed.saveLogPosition, loadLogPosition: Routed.loadLogPosition, deferredRouted: Routed.deferredRouted,
  routedSince: Routed.routedSince, lastReplies: Routed.lastReplies, replyCounts: Routed.replyCounts, laneQueues: Routed.laneQueues,
  dayReplies: Routed.dayReplies,
};

/** Names of the memory store's operations (a test holds them equal to the interface's). */
export const MEMORY_OPERATIONS: readonly string[] = Object.freeze(Object.keys(OPS).sort());

/** One holder at a time, the others queued in order (SQLite's single connection). */
class Turn {
  #held = false;
  readonly #queue: Array<() => void> = [];
  get held(): boolean { return this.#held; }
  take(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#queue.push(resolve));
  }
  give(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#held = false;
  }
}

type AnyOp = (s: MemState, ...a: unknown[]) => unknown;

export interface MemoryStoreOptions {
  /**
   * The seed mailboxes whose placements will be asked (`pendingPlacements`):
   * an accepted message to any other recipient is released at once.
   * Default: every recipient, so an accepted message is held until its
   * placement is recorded. `[]` for a run with no placement poller (a
   * simulation). `pendingPlacements` for a mailbox not listed throws
   * STORE_RELEASED rather than answer without the messages released.
   */
  readonly placementMailboxes?: readonly string[];
}

/** The in-memory store, with what it holds (tests and measurements). */
export interface MemoryStore extends Store {
  /** Messages held now: open, routed, or accepted awaiting a placement (the others were released). */
  heldMessages(): number;
}

/**
 * A new, empty in-memory store.
 *
 * @example
 * // A simulation: no placement poller runs, so accepted messages are released at once.
 * const store = memoryStore({ placementMailboxes: [] });
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const s = new MemState();
  if (options.placementMailboxes !== undefined) s.placementMailboxes = new Set(options.placementMailboxes);
  const turn = new Turn();

  const run = (op: AnyOp, args: unknown[]): Promise<unknown> => {
    try {
      return Promise.resolve(atomically(s, () => op(s, ...args)));
    } catch (e) {
      return Promise.reject(e);
    }
  };
  const rootOps: Record<string, unknown> = {};
  const txOps: Record<string, unknown> = {};
  for (const [name, op] of Object.entries(OPS) as Array<[string, AnyOp]>) {
    // Outside a transaction an operation waits for the one in progress, like a statement on SQLite's one connection.
    rootOps[name] = (...args: unknown[]) => (turn.held ? turn.take().then(() => run(op, args)).finally(() => turn.give()) : run(op, args));
    txOps[name] = (...args: unknown[]) => run(op, args);
  }

  const close = async (): Promise<void> => {
    await turn.take();
    s.closed = true;
    turn.give();
  };
  const tx: Store = {
    ...(txOps as unknown as StoreOps), kind: 'memory', location: 'memory', close,
    transaction: (fn) => fn(tx),
  };
  const root: MemoryStore = {
    ...(rootOps as unknown as StoreOps), kind: 'memory', location: 'memory', close,
    heldMessages: () => s.messages.size,
    transaction: async (fn) => {
      await turn.take();
      try {
        s.assertOpen();
        const log: Array<() => void> = [];
        s.undo = log;
        try {
          const r = await fn(tx);
          return r;
        } catch (e) {
          rollbackTo(s, log, 0);
          throw e;
        } finally {
          s.undo = null;
        }
      } finally {
        turn.give();
      }
    },
  };
  return root;
}
