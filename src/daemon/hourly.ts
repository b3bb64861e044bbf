/**
 * A lane's counters for the current hour of plan time (UTC hours), and the
 * info line that closes each hour. Seed sends and routed real mail both count
 * here; routing reads the hour's carried messages from them. Pure apart from
 * the log line.
 */
import type { Logger } from '../util/log.js';

export interface HourCounts {
  /** The hour, `YYYY-MM-DDTHH` (UTC); '' before the first. */
  readonly key: string;
  sent: number;
  routed: number;
  accepted: number;
  deferred: number;
  bounced: number;
  failed: number;
}

/** How one recorded answer counts: the message was accepted, deferred, bounced, or failed otherwise (expired, a protocol or DNS failure). */
export type HourTally = 'accepted' | 'deferred' | 'bounced' | 'failed';

/** The hour of plan time an instant falls in. */
export const hourKey = (now: number): string => new Date(now).toISOString().slice(0, 13);

export function emptyHour(key: string): HourCounts {
  return { key, sent: 0, routed: 0, accepted: 0, deferred: 0, bounced: 0, failed: 0 };
}

/**
 * How an answer counts. The message's status wins for acceptance; a deferred outcome counts as
 * deferred even when the message then expired; a final status `bounced` as bounced; anything
 * else failed.
 */
export function hourTally(accepted: boolean, outcome: string, bounced: boolean): HourTally {
  if (accepted) return 'accepted';
  if (outcome === 'deferred') return 'deferred';
  if (bounced) return 'bounced';
  return 'failed';
}

/** Seed sends and routed mail carried in the hour `key` (0 when the counters are of another hour). */
export function hourCarried(h: HourCounts, key: string): number {
  return h.key === key ? h.sent + h.routed : 0;
}

/**
 * Moves the counters to hour `key`: when the hour changes, the finished hour gets its info line
 * (when anything happened in it) and the counters start again at zero.
 */
export function rollHour(h: HourCounts, key: string, log: Logger, state: { inFlight: number; stage: number; state: string }): HourCounts {
  if (h.key === key) return h;
  if (h.key !== '' && h.sent + h.routed + h.accepted + h.deferred + h.bounced + h.failed > 0) {
    log.info({ hour: `${h.key}:00Z`, sent: h.sent, routed: h.routed, accepted: h.accepted, deferred: h.deferred, bounced: h.bounced, failed: h.failed, in_flight: state.inFlight, stage: state.stage, state: state.state }, 'hourly');
  }
  return emptyHour(key);
}
