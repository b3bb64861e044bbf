/**
 * The in-memory store's tables, their indexes and its undo log. Rows have
 * exactly the columns (and defaults) of src/store/schema.ts; ids count from 1
 * per table like SQLite's AUTOINCREMENT (a rolled-back insert gives its id
 * back, as SQLite's sequence rolls back with the transaction).
 *
 * Every change goes through `patch`/`insert`-like helpers that record how to
 * reverse it, so an operation or a transaction that throws leaves nothing
 * behind (see `atomically`).
 *
 * Messages are the one table that is not kept whole: a message no operation
 * can read any more is released (see `releasable` in messages.ts), so a
 * simulation's memory follows what is in flight, not what was ever sent.
 */
import type { Selectable } from 'kysely';
import { WarmupError } from '../../util/errors.js';
import type {
  DnsblResultsTable, EventsTable, FleetClaimsTable, HoldsTable, IpLeasesTable, LaneDayRow, LaneRow, MessagesTable, Outcome, PlacementsTable, PostfixLogTable, RunsTable,
} from '../schema.js';

export type MessageRow = Selectable<MessagesTable>;
export type EventRow = Selectable<EventsTable>;
export type HoldRow = Selectable<HoldsTable>;
export type RunRow = Selectable<RunsTable>;
export type DnsblRow = Selectable<DnsblResultsTable>;
export type PlacementRow = Selectable<PlacementsTable>;
export type IpLeaseRow = Selectable<IpLeasesTable>;
export type FleetClaimRow = Selectable<FleetClaimsTable>;
export type LogRow = Selectable<PostfixLogTable>;

/** What the reply queries read of a non-accepted attempt (accepted ones are only counted). */
export interface AttemptReply {
  readonly id: number;
  readonly outcome: Outcome;
  readonly code: number | null;
  readonly enhanced: string | null;
  readonly reply: string | null;
}

/** The newest attempt of a lane (by started_at, then id), what `lastReplies` returns. */
export interface LaneLastAttempt {
  readonly id: number;
  readonly started_at: number;
  readonly outcome: Outcome;
  readonly code: number | null;
  readonly reply: string | null;
}

type Table = 'runs' | 'lanes' | 'messages' | 'attempts' | 'events' | 'dnsbl_results' | 'placements' | 'holds';

export const dayKey = (laneId: number, day: string): string => `${laneId}|${day}`;

/** A constraint the SQL schema enforces (unique, foreign key, not null) that a write broke. */
export function constraintFailed(what: string): WarmupError {
  return new WarmupError('STORE_CONSTRAINT', `constraint failed: ${what}`);
}

/** The memory store's data. One instance per store; operations take it as their first argument. */
export class MemState {
  /** Reversal of every change since the outermost operation or transaction began (null: none open). */
  undo: Array<() => void> | null = null;
  closed = false;
  readonly #seq: Record<Table, number> = { runs: 0, lanes: 0, messages: 0, attempts: 0, events: 0, dnsbl_results: 0, placements: 0, holds: 0 };

  readonly runs: RunRow[] = [];
  /** By id, in id order (lanes are never deleted). */
  readonly lanes = new Map<number, LaneRow>();
  /** `plan|ip|provider` -> lane (the unique constraint). */
  readonly laneByKey = new Map<string, LaneRow>();
  readonly laneDays = new Map<string, LaneDayRow>();
  /** Per lane, its days in day order. */
  readonly daysOfLane = new Map<number, LaneDayRow[]>();
  /** Lane days with no decision yet (the day-end pass reads these every tick). */
  readonly undecided = new Set<LaneDayRow>();
  /** The messages held, by id: open, awaiting a placement, or routed (the others are released). */
  readonly messages = new Map<number, MessageRow>();
  /** Message-ID -> message, for the messages held. */
  readonly messageByMessageId = new Map<string, MessageRow>();
  /** Message-IDs of released messages: the unique constraint still holds them, and a routed delivery's key may be one. */
  readonly releasedMessageIds = new Set<string>();
  /**
   * The seed mailboxes whose placements may be asked (null: every recipient).
   * An accepted message to another recipient can never be a pending placement.
   */
  placementMailboxes: ReadonlySet<string> | null = null;
  /** Per lane, its messages in flight or deferred (every queue query reads only these). */
  readonly openByLane = new Map<number, Set<MessageRow>>();
  /** Deferred messages of every lane (the next retry due is read every tick). */
  readonly deferred = new Set<MessageRow>();
  readonly routedMessages: MessageRow[] = [];
  /** Per lane-day, its non-accepted attempts in id order. */
  readonly repliesOfDay = new Map<string, AttemptReply[]>();
  readonly lastAttempt = new Map<number, LaneLastAttempt>();
  /** lane -> outcome -> attempts (lane_outcomes). */
  readonly laneOutcomes = new Map<number, Map<string, number>>();
  /** events[id - 1]. */
  readonly events: EventRow[] = [];
  readonly dnsbl: DnsblRow[] = [];
  readonly placements: PlacementRow[] = [];
  readonly placementByMessage = new Map<number, PlacementRow>();
  /** Message id -> Message-ID of a message with a placement (engagement reads it after the message is released). */
  readonly placedMessageIds = new Map<number, string>();
  readonly holds = new Map<number, HoldRow>();
  /** `plan|ip` -> the IP's lease (a fleet). */
  readonly ipLeases = new Map<string, IpLeaseRow>();
  /** `plan|kind` -> a fleet's claim (periodic task, shared cursor). */
  readonly fleetClaims = new Map<string, FleetClaimRow>();
  /** `plan|host` -> how far that host read its Postfix log. */
  readonly logPositions = new Map<string, LogRow>();

  /** Records how to reverse a change. */
  onUndo(fn: () => void): void {
    this.undo?.push(fn);
  }

  /** The last id given in `table` (ids rolled back are given back). */
  lastId(table: Table): number {
    return this.#seq[table];
  }

  nextId(table: Table): number {
    const id = ++this.#seq[table];
    this.onUndo(() => { this.#seq[table]--; });
    return id;
  }

  /** Sets columns of a row, undoably. */
  patch<T extends object>(row: T, changes: Partial<T>): void {
    const old: Partial<T> = {};
    for (const k of Object.keys(changes) as Array<keyof T>) old[k] = row[k];
    Object.assign(row, changes);
    this.onUndo(() => { Object.assign(row, old); });
  }

  /** Adds to numeric columns of a row, undoably. */
  add<T extends object>(row: T, deltas: Partial<Record<keyof T, number>>): void {
    const changes: Partial<Record<keyof T, number>> = {};
    let any = false;
    for (const k of Object.keys(deltas) as Array<keyof T>) {
      const d = deltas[k]!;
      if (d === 0) continue;
      changes[k] = (row[k] as number) + d;
      any = true;
    }
    if (any) this.patch(row, changes as Partial<T>);
  }

  mapSet<K, V>(map: Map<K, V>, key: K, value: V): void {
    const had = map.has(key);
    const old = map.get(key);
    map.set(key, value);
    this.onUndo(() => { if (had) map.set(key, old as V); else map.delete(key); });
  }

  mapDelete<K, V>(map: Map<K, V>, key: K): void {
    if (!map.has(key)) return;
    const old = map.get(key) as V;
    map.delete(key);
    this.onUndo(() => { map.set(key, old); });
  }

  setAdd<V>(set: Set<V>, value: V): void {
    if (set.has(value)) return;
    set.add(value);
    this.onUndo(() => { set.delete(value); });
  }

  setDelete<V>(set: Set<V>, value: V): void {
    if (!set.delete(value)) return;
    this.onUndo(() => { set.add(value); });
  }

  /** Appends to a list, undoably (undo runs newest first, so popping is exact). */
  push<V>(list: V[], value: V): void {
    list.push(value);
    this.onUndo(() => { list.pop(); });
  }

  assertOpen(): void {
    if (this.closed) throw new WarmupError('STORE_CLOSED', 'the memory store is closed');
  }
}

/**
 * Runs `fn` all or nothing: inside an open transaction as a savepoint (a
 * failing operation undoes only itself, like a failing SQL statement), else
 * as its own transaction.
 */
export function atomically<T>(s: MemState, fn: () => T): T {
  s.assertOpen();
  const outer = s.undo;
  const log = outer ?? [];
  const mark = log.length;
  s.undo = log;
  try {
    const r = fn();
    if (!outer) s.undo = null;
    return r;
  } catch (e) {
    rollbackTo(s, log, mark);
    s.undo = outer;
    throw e;
  }
}

/** Reverses every change in `log` after `mark`, newest first. */
export function rollbackTo(_s: MemState, log: Array<() => void>, mark: number): void {
  for (let i = log.length - 1; i >= mark; i--) log[i]!();
  log.length = mark;
}

/** A copy of a row: callers may keep or change what they get without touching the store. */
export function copy<T extends object>(row: T): T {
  return { ...row };
}

/** SQL `a < b` on text (BINARY collation; days and addresses are ASCII). */
export function cmp(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
