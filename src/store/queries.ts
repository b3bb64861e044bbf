/**
 * Every query the daemon and the commands run, one named function each, by
 * concept: lanes, lane days, messages and attempts, runs, events, placements,
 * DNSBL answers.
 */
export type { Db, LaneRow, LaneDayRow } from './schema.js';
export * from './lanes.js';
export * from './holds.js';
export * from './lease.js';
export * from './days.js';
export * from './messages.js';
export * from './runs.js';
export * from './events.js';
export * from './placements.js';
export * from './dnsbl.js';
export * from './routed.js';
export * from './replies.js';
