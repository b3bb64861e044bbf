/**
 * The lanes a daemon drives, as it holds them between ticks: each lane's row
 * (stage, holds, shaping), its open day, its catch-up bucket, its sends in
 * flight and its hour's counters; and the book that finds them and re-reads
 * their rows when another process may have changed them.
 */
import type { Plan, PlanIp, Provider } from '../plan/types.js';
import type { Pace } from '../schedule/due.js';
import type * as q from '../store/queries.js';
import type { Store } from '../store/store.js';
import { LateEventIds } from '../store/late-events.js';
import type { Logger } from '../util/log.js';
import { emptyHour, rollHour, type HourCounts } from './hourly.js';

/** The lane's day as the daemon sends it: its stage, target and spread window, and how many it has sent. */
export interface OpenDay {
  readonly date: string;
  readonly stage: number;
  readonly target: number;
  /** Spread window of the day's sends (plan time). */
  readonly from: number;
  readonly until: number;
  sent: number;
  decided: boolean;
}

export interface Lane {
  row: q.LaneRow;
  readonly ip: PlanIp;
  readonly provider: Provider;
  readonly log: Logger;
  day: OpenDay | null;
  /** Catch-up token bucket (null: starts afresh). */
  pace: Pace | null;
  /** This lane's messages in flight. */
  inFlight: number;
  hour: HourCounts;
}

/** An event about one lane, with its id, IP and provider filled in. */
export function laneEvent(plan: string, lane: Lane, at: number, e: Omit<q.EventInput, 'at' | 'plan' | 'laneId' | 'ip' | 'provider'>): q.EventInput {
  return { at, plan, laneId: lane.row.id, ip: lane.ip.address, provider: lane.provider.name, ...e };
}

/** Moves the lane's hour counters to hour `key` (closing the finished hour with its info line). */
export function rollLaneHour(lane: Lane, key: string): void {
  if (lane.hour.key === key) return;
  lane.hour = rollHour(lane.hour, key, lane.log, { inFlight: lane.inFlight, stage: lane.row.stage, state: lane.row.state });
}

/** The earliest `until` of these holds (Infinity when none ends by itself). */
export function earliestLapse(holds: ReadonlyArray<{ readonly until: number | null }>): number {
  let at = Infinity;
  for (const h of holds) if (h.until !== null && h.until < at) at = h.until;
  return at;
}

/** At the first read, how many of the newest ids are checked for one not yet visible (PostgreSQL). */
const FIRST_LOOK = 100;

export class LaneBook {
  readonly #store: Store;
  readonly #plan: Plan;
  readonly #onResume: (lane: { ip: string; provider: string }) => void;
  readonly #all: Lane[] = [];
  readonly #byId = new Map<number, Lane>();
  readonly #byProvider = new Map<string, Lane[]>();
  /** Newest event id seen: lanes are re-read only when it moves. */
  #eventsSeen = -1;
  /** PostgreSQL only: ids at or below the newest seen that were not visible then (a late one makes the lanes read again). */
  readonly #late: LateEventIds | null;
  /** Real time lanes were last re-read. */
  #readAt = 0;
  /** Newest event id when the holds' next lapse was read (-1: never). */
  #holdsSeen = -1;
  /** Earliest end of a timed hold of the plan, as read then (Infinity: none). */
  #nextLapse = Infinity;

  /** `onResume` hears each operator resume seen while re-reading (the rule engine forgets that lane). */
  constructor(plan: Plan, store: Store, onResume: (lane: { ip: string; provider: string }) => void) {
    this.#plan = plan;
    this.#store = store;
    this.#onResume = onResume;
    this.#late = store.kind === 'postgres' ? new LateEventIds(store) : null;
  }

  /** Takes the store's lane rows; a row whose IP or provider the plan no longer has is left out. */
  add(rows: readonly q.LaneRow[], log: Logger): void {
    const plan = this.#plan;
    for (const row of rows) {
      const ip = plan.ips.find((i) => i.address === row.ip);
      const provider = plan.providers.find((p) => p.name === row.provider);
      if (!ip || !provider) continue; // a lane from an earlier version of the plan
      const lane: Lane = { row, ip, provider, log: log.child({ ip: row.ip, provider: row.provider }), day: null, pace: null, inFlight: 0, hour: emptyHour('') };
      this.#all.push(lane);
      this.#byId.set(row.id, lane);
      this.#byProvider.set(provider.name, [...(this.#byProvider.get(provider.name) ?? []), lane]);
    }
  }

  get all(): readonly Lane[] { return this.#all; }
  byId(id: number): Lane | undefined { return this.#byId.get(id); }
  ofProvider(name: string): readonly Lane[] { return this.#byProvider.get(name) ?? []; }
  find(ip: string, provider: string): Lane | undefined {
    return this.#all.find((l) => l.ip.address === ip && l.provider.name === provider);
  }
  /** Real milliseconds since the rows were last re-read (or checked to be current). */
  get readAgoMs(): number { return Date.now() - this.#readAt; }

  /**
   * Once per tick: lapses the holds whose end has come, then re-reads the lanes when anything
   * may have changed them. Holds may be changed by other processes (warmup pause/resume, another
   * daemon of a fleet) and by this one (the DNSBL monitor, rules, the day-end policy), and every
   * hold change writes an event in its transaction, so the newest event id, one cheap read, says
   * whether the holds changed since they were last read: the lapse runs only when they did, or
   * when the earliest end read then has come. On PostgreSQL event ids come from a sequence and
   * may become visible out of order, so there the lapse runs on every tick, as before.
   */
  async sync(now: number): Promise<void> {
    const store = this.#store;
    let seen = await store.lastEventId();
    const everyTick = store.kind === 'postgres';
    if (everyTick || seen !== this.#holdsSeen || now >= this.#nextLapse) {
      // Suspensions and timed pauses end by themselves: each lapse removes only its own hold.
      if ((await store.lapseHolds(this.#plan.name, now)).length > 0) seen = await store.lastEventId();
      if (!everyTick) {
        // Read after the id: a hold changed meanwhile has a newer event, and is read again next tick.
        this.#nextLapse = earliestLapse(await store.listHolds(this.#plan.name));
        this.#holdsSeen = seen;
      }
    }
    await this.#reread(seen);
  }

  /**
   * Re-reads the lanes when an event was written since they were last read (every lane state
   * change, by any process, writes one), so a change takes effect within one tick.
   * An operator's resume also clears what the rule engine remembers about
   * those lanes, so a rule muted by its earlier firing acts again.
   */
  async reload(): Promise<void> {
    await this.#reread(await this.#store.lastEventId());
  }

  async #reread(seen: number): Promise<void> {
    const now = (this.#readAt = Date.now());
    const store = this.#store;
    const late = this.#late && this.#late.size > 0 ? await this.#late.arrived(now) : [];
    if (seen === this.#eventsSeen && late.length === 0) return;
    if (this.#eventsSeen >= 0) {
      const from = Math.min(this.#eventsSeen, ...late.map((id) => id - 1));
      for (const e of await store.eventsAfter(this.#plan.name, { id: from }, 10_000)) {
        if (e.id <= this.#eventsSeen && !late.includes(e.id)) continue; // handled when it was read
        if (e.kind === 'operator_resume' && e.ip && e.provider) this.#onResume({ ip: e.ip, provider: e.provider });
      }
    }
    if (this.#late && seen > this.#eventsSeen) await this.#late.note(this.#eventsSeen >= 0 ? this.#eventsSeen : Math.max(0, seen - FIRST_LOOK), seen, now);
    this.#eventsSeen = seen;
    for (const row of await store.loadLanes(this.#plan.name)) {
      const lane = this.#byId.get(row.id);
      if (!lane) continue;
      // A lane back from a hold starts its catch-up bucket afresh.
      if (lane.row.state !== 'active' && row.state === 'active') lane.pace = null;
      lane.row = row;
    }
  }

  /** Re-reads the rows of these lanes (after a hold changed them). */
  async refresh(ids: readonly number[]): Promise<void> {
    const rows = new Map((await this.#store.loadLanes(this.#plan.name)).map((r) => [r.id, r]));
    for (const id of ids) { const l = this.#byId.get(id); const row = rows.get(id); if (l && row) l.row = row; }
  }
}
