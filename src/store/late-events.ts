/**
 * Event ids a reader went past without seeing them. On PostgreSQL an event's id comes from a
 * sequence when its row is written and becomes visible when its transaction commits, so a
 * reader that goes on from the newest id it saw can miss an event whose transaction took a
 * lower id and committed later (a pause, a DNSBL listing). The reader notes the ids of the range
 * it went past that were not there, and asks at its next read which of them have shown up. An id
 * missing for longer than `waitMs` (real time) is forgotten: its transaction rolled back.
 * SQLite and the memory store write one transaction at a time, so their ids are never late.
 */
import type { Store } from './store.js';

/** How long (real ms) an event id not yet visible is waited for: its transaction may still commit. */
export const LATE_EVENT_MS = 60_000;
/** At most this many ids looked at per range (more events than that between two reads: the rest are not checked). */
const MAX_LOOK = 10_000;

export class LateEventIds {
  readonly #store: Pick<Store, 'eventIdsAfter'>;
  readonly #waitMs: number;
  /** Missing id -> real time it was first missed. */
  readonly #missing = new Map<number, number>();

  constructor(store: Pick<Store, 'eventIdsAfter'>, waitMs = LATE_EVENT_MS) {
    this.#store = store;
    this.#waitMs = waitMs;
  }

  /** Ids being waited for. */
  get size(): number { return this.#missing.size; }

  /** Notes the ids in (`after`, `upTo`] (every plan's) that are not visible now. */
  async note(after: number, upTo: number, now: number): Promise<void> {
    const limit = Math.min(upTo - after, MAX_LOOK);
    if (limit <= 0) return;
    const ids = await this.#store.eventIdsAfter(after, limit);
    // A full page covers the ids up to its last only.
    const end = ids.length === limit ? ids[ids.length - 1] ?? after : upTo;
    let next = after + 1;
    for (const id of ids) {
      for (; next < id && next <= end; next++) this.#missing.set(next, now);
      next = id + 1;
    }
    for (; next <= end; next++) this.#missing.set(next, now);
  }

  /** The noted ids visible now (no longer waited for), ascending; those missing too long are forgotten. */
  async arrived(now: number): Promise<number[]> {
    for (const [id, since] of this.#missing) if (now - since > this.#waitMs) this.#missing.delete(id);
    if (this.#missing.size === 0) return [];
    const ids = [...this.#missing.keys()];
    const low = Math.min(...ids);
    const high = Math.max(...ids);
    const late = (await this.#store.eventIdsAfter(low - 1, high - low + 1)).filter((id) => this.#missing.has(id));
    for (const id of late) this.#missing.delete(id);
    return late;
  }
}
