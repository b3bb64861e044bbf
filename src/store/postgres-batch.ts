/**
 * The lane-day counters moved by the send path (a tick's `sent`, a group of
 * attempts' outcomes, expired retries): one statement per transaction on
 * PostgreSQL, where each statement is a network round trip and a fleet
 * daemon holding many lanes would otherwise pay one per lane-day per tick and
 * per group commit, holding the rows it locked meanwhile. SQLite, in process,
 * keeps one statement per lane-day (no round trip to save). Statements are
 * plain SQL text written once per set of counters (src/store/prepared.ts).
 */
import type { Db, LaneDaysTable } from './schema.js';
import { rows as run } from './prepared.js';
import { isPostgres } from './transaction.js';

/** The counters of a lane-day that only ever grow. */
export type LaneDayCounter = keyof { [K in keyof LaneDaysTable as LaneDaysTable[K] extends import('kysely').Generated<number> ? K : never]: true };

/** What to add to one lane-day's counters (absent: 0). */
export interface LaneDayAdd {
  readonly laneId: number;
  readonly day: string;
  readonly add: Partial<Record<LaneDayCounter, number>>;
}

/**
 * Adds to the `counters` of each lane-day in `rows` (each lane-day once) and
 * returns each one's `sent` after it, keyed `laneId|day` (a lane-day with no
 * row is not in it). Rows are locked in (lane id, day) order, the order every
 * transaction of the store locks counter rows in (no deadlock between a
 * tick's `sent` and a group's outcomes).
 */
export async function addToLaneDays(trx: Db, rows: readonly LaneDayAdd[], counters: readonly LaneDayCounter[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (rows.length === 0) return out;
  const sorted = [...rows].sort((a, b) => a.laneId - b.laneId || (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  const text = statement(isPostgres(trx), counters);
  if (isPostgres(trx)) {
    const params = [sorted.map((r) => r.laneId), sorted.map((r) => r.day), ...counters.map((c) => sorted.map((r) => r.add[c] ?? 0))];
    for (const r of await run<{ lane_id: number; day: string; sent: number }>(trx, text, params)) out.set(`${r.lane_id}|${r.day}`, Number(r.sent));
  } else {
    for (const r of sorted) {
      const [row] = await run<{ sent: number }>(trx, text, [...counters.map((c) => r.add[c] ?? 0), r.laneId, r.day]);
      if (row) out.set(`${r.laneId}|${r.day}`, Number(row.sent));
    }
  }
  return out;
}

const texts = new Map<string, string>();

/**
 * SQLite: one lane-day's update. PostgreSQL: the additions as arrays
 * (`unnest`), the rows locked first in order (a materialized ordered
 * `select ... for update`: PostgreSQL locks the rows as the sort returns
 * them), then all updated from the arrays in one statement.
 */
function statement(pg: boolean, counters: readonly LaneDayCounter[]): string {
  const key = `${pg}:${counters.join(',')}`;
  let text = texts.get(key);
  if (text === undefined) {
    if (pg) {
      const names = ['lane_id', 'day', ...counters].map((c) => `"${c}"`).join(', ');
      const arrays = ['?::bigint[]', '?::text[]', ...counters.map(() => '?::int[]')].join(', ');
      text = `with v (${names}) as (select * from unnest(${arrays})), `
        + 'locked as materialized (select d."lane_id", d."day" from "lane_days" d join v on d."lane_id" = v."lane_id" and d."day" = v."day" order by d."lane_id", d."day" for update of d) '
        + `update "lane_days" as d set ${counters.map((c) => `"${c}" = d."${c}" + v."${c}"`).join(', ')} from v join locked on locked."lane_id" = v."lane_id" and locked."day" = v."day" `
        + 'where d."lane_id" = v."lane_id" and d."day" = v."day" returning d."lane_id", d."day", d."sent"';
    } else {
      text = `update "lane_days" set ${counters.map((c) => `"${c}" = "${c}" + ?`).join(', ')} where "lane_id" = ? and "day" = ? returning "sent"`;
    }
    texts.set(key, text);
  }
  return text;
}
