/**
 * The names of the `Store` interface's operations, spelled out: the compiler
 * checks this list against the interface (a missing or extra name fails to
 * compile), and a test against the operations the SQL store binds. For a
 * store that must name every operation without loading the query modules
 * (./sqlite-reader.ts).
 */
import type { StoreOps } from './store.js';

const OPERATIONS: Record<keyof StoreOps, true> = {
  laneDays: true, ensureLanes: true, loadLanes: true, laneGauges: true, setLaneShaping: true, addHold: true, removeHolds: true,
  lapseHolds: true, listHolds: true,
  acquireIpLeases: true, renewIpLeases: true, releaseIpLeases: true, ipLeases: true, reportUnattended: true,
  claimPeriodic: true, advanceCursor: true, fleetCursor: true, recordForecast: true,
  getLaneDay: true, previousLaneDay: true, openLaneDay: true, decideLaneDay: true, undecidedDays: true,
  unsettledMessages: true, laneHistory: true, decisionTallies: true, laneDecisions: true, latestLaneDay: true, createMessage: true,
  createMessages: true, claimDueRetries: true, returnUnsent: true, recordAttempts: true, recordAttempt: true,
  writeAttempt: true, recoverInFlight: true, queueCounts: true, pendingRetries: true, attemptOutcomeCounts: true,
  nextRetryDue: true, startRun: true, endRun: true, daemonNow: true, storeNow: true, lastRun: true, addEvent: true,
  listEvents: true, lastStateEvent: true, lastIpEvent: true, eventsAfter: true, lastEventId: true, eventIdsAfter: true,
  newestEventAt: true, eventKindsSeen: true, recentEvents: true, pendingPlacements: true, recordPlacements: true,
  dueEngagements: true, markEngaged: true, recordDnsblResults: true, lastDnsblVerdicts: true,
  latestDnsblResults: true, dnsblHistory: true, recordRoutedDelivery: true, recordRoutedDeliveries: true,
  saveLogPosition: true, loadLogPosition: true, deferredRouted: true, routedSince: true, lastReplies: true,
  replyCounts: true, laneQueues: true, dayReplies: true,
};

/** Every operation of `Store`, sorted. */
export const STORE_OPERATIONS: readonly (keyof StoreOps)[] = Object.freeze((Object.keys(OPERATIONS) as (keyof StoreOps)[]).sort());
