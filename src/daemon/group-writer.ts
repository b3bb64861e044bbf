/**
 * Commits writes in groups: every write asked for within `delayMs` of the
 * first one of a group (with 0: while the event loop is busy, until its next
 * turn) goes into one transaction, so a burst of SMTP results costs one
 * commit instead of one each. One group commits at a time: writes asked for
 * while a group commits wait for it and then go together as the next group
 * (at once, with no further delay). So the groups grow with the commit's
 * latency instead of piling up as concurrent transactions that would wait on
 * each other's row locks (the same lane-day's counters) on PostgreSQL. A
 * write's promise settles when its group is committed (or failed: then every
 * write of the group rejects, and each caller may ask again on its own).
 */
export class GroupWriter<T> {
  readonly #write: (items: T[]) => Promise<void>;
  readonly #maxGroup: number;
  readonly #delayMs: number;
  #queue: Array<{ item: T; resolve: () => void; reject: (e: unknown) => void }> = [];
  /** The group commit under way (it commits what queued meanwhile before it ends). */
  #running: Promise<void> | null = null;
  /** The delay (or turn of the event loop) before the next group starts. */
  #timer: { cancel: () => void } | null = null;

  /** `write` commits one group, all or nothing; a group holds at most `maxGroup` writes. */
  constructor(write: (items: T[]) => Promise<void>, maxGroup = 256, delayMs = 0) {
    this.#write = write;
    this.#maxGroup = maxGroup;
    this.#delayMs = delayMs;
  }

  /** Queues one write; resolves once the group it joined is committed. */
  write(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#running) return; // the commit under way takes it next
      if (this.#queue.length >= this.#maxGroup) this.#start();
      else if (!this.#timer) {
        if (this.#delayMs > 0) {
          const t = setTimeout(() => this.#start(), this.#delayMs);
          this.#timer = { cancel: () => clearTimeout(t) };
        } else {
          const t = setImmediate(() => this.#start());
          this.#timer = { cancel: () => clearImmediate(t) };
        }
      }
    });
  }

  #start(): void {
    this.#timer?.cancel();
    this.#timer = null;
    if (this.#running || this.#queue.length === 0) return;
    this.#running = this.#drain().finally(() => { this.#running = null; });
  }

  /** Commits groups until nothing waits. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0, this.#maxGroup);
      try {
        await this.#write(group.map((g) => g.item));
        for (const g of group) g.resolve();
      } catch (e) {
        for (const g of group) g.reject(e);
      }
    }
  }
}
