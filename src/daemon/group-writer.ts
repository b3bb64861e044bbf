/**
 * Commits writes in groups: every write asked for within `delayMs` of the
 * first one of a group (with 0: while the event loop is busy, until its next
 * turn) goes into one transaction, so a burst of SMTP results costs one
 * commit instead of one each. A write's promise
 * settles when its group is committed (or failed: then every write of the
 * group rejects, and each caller may ask again on its own).
 */
export class GroupWriter<T> {
  readonly #write: (items: T[]) => Promise<void>;
  readonly #maxGroup: number;
  readonly #delayMs: number;
  #queue: Array<{ item: T; resolve: () => void; reject: (e: unknown) => void }> = [];
  #scheduled = false;

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
      if (this.#queue.length >= this.#maxGroup) void this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        if (this.#delayMs > 0) setTimeout(() => void this.#flush(), this.#delayMs);
        else setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    const group = this.#queue.splice(0);
    if (group.length === 0) return;
    try {
      await this.#write(group.map((g) => g.item));
      for (const g of group) g.resolve();
    } catch (e) {
      for (const g of group) g.reject(e);
    }
  }
}
