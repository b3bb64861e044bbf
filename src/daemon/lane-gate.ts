/**
 * May this lane take mail now? The one place that answers it for routed mail
 * (and the place to adapt when lane state changes shape). Pure.
 */
import type { LaneRow } from '../store/schema.js';

/**
 * True when no hold is on the lane at `now`: its summary state is active, or
 * every hold on it has lapsed (`state_until`, the last lapse, is past; the
 * daemon removes lapsed holds at its next tick). See src/store/holds.ts.
 */
export function laneTakesMail(row: Pick<LaneRow, 'state' | 'state_until'>, now: number): boolean {
  if (row.state === 'active') return true;
  return row.state_until !== null && row.state_until <= now;
}
