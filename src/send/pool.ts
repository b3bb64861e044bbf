/**
 * A small connection pool keyed by destination: at most `maxConnections`
 * open per key, each carrying at most `maxMessagesPerConnection` messages.
 * Keys are independent, so a dead destination only ever holds its own slots.
 */

/** What the pool needs from a connection. */
export interface Poolable {
  /** False once the connection failed or the server closed it. */
  readonly usable: boolean;
  /** End the connection politely. */
  quit(): void;
}

/** Limits for every key. */
export interface PoolLimits {
  readonly maxConnections: number;
  readonly maxMessagesPerConnection: number;
  /** How long an idle connection is kept for the next message (ms). */
  readonly idleMs: number;
}

/**
 * A slot in a key's pool. `resource` is null when the holder must open a
 * connection itself. Exactly one `release` per lease.
 */
export interface Lease<R extends Poolable> {
  readonly resource: R | null;
  /** Messages the connection carried before this lease. */
  readonly messages: number;
  /** Give the slot back; `reusable` false (or no resource) closes the connection. */
  release(resource: R | null, reusable: boolean): void;
}

interface Idle<R> {
  readonly resource: R;
  readonly messages: number;
  readonly timer: NodeJS.Timeout;
}

interface KeyState<R extends Poolable> {
  open: number;
  readonly idle: Idle<R>[];
  readonly waiters: ((lease: Lease<R>) => void)[];
}

/** Keyed connection pool. */
export class KeyedPool<R extends Poolable> {
  readonly #limits: PoolLimits;
  readonly #keys = new Map<string, KeyState<R>>();
  #closed = false;

  constructor(limits: PoolLimits) {
    for (const [name, v] of Object.entries(limits)) {
      if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`pool ${name} must be a positive integer (got ${String(v)})`);
    }
    this.#limits = Object.freeze({ ...limits });
  }

  /** Wait for a slot on `key` (FIFO behind earlier callers of the same key). */
  acquire(key: string): Promise<Lease<R>> {
    const state = this.#state(key);
    while (state.idle.length > 0) {
      const idle = state.idle.pop()!;
      clearTimeout(idle.timer);
      if (idle.resource.usable) return Promise.resolve(this.#lease(key, idle.resource, idle.messages));
      idle.resource.quit();
      state.open--;
    }
    if (state.open < this.#limits.maxConnections) {
      state.open++;
      return Promise.resolve(this.#lease(key, null, 0));
    }
    return new Promise((resolve) => state.waiters.push(resolve));
  }

  /** Open connections (busy + idle) and waiters for `key`, for tests and metrics. */
  stats(key: string): { open: number; idle: number; waiting: number } {
    const s = this.#keys.get(key);
    return { open: s?.open ?? 0, idle: s?.idle.length ?? 0, waiting: s?.waiters.length ?? 0 };
  }

  /** Quit idle connections; connections in use are quit when released. */
  close(): void {
    this.#closed = true;
    for (const [key, state] of this.#keys) {
      for (const idle of state.idle.splice(0)) {
        clearTimeout(idle.timer);
        idle.resource.quit();
        state.open--;
      }
      this.#forget(key, state);
    }
  }

  #state(key: string): KeyState<R> {
    let s = this.#keys.get(key);
    if (!s) {
      s = { open: 0, idle: [], waiters: [] };
      this.#keys.set(key, s);
    }
    return s;
  }

  #lease(key: string, resource: R | null, messages: number): Lease<R> {
    let released = false;
    return {
      resource,
      messages,
      release: (r, reusable) => {
        if (released) return;
        released = true;
        this.#release(key, r, reusable, messages + (r ? 1 : 0));
      },
    };
  }

  #release(key: string, resource: R | null, reusable: boolean, messages: number): void {
    const state = this.#state(key);
    const keep = resource !== null && reusable && resource.usable && !this.#closed && messages < this.#limits.maxMessagesPerConnection;
    if (!keep) {
      resource?.quit();
      state.open--;
      const waiter = state.waiters.shift();
      if (waiter) {
        state.open++;
        waiter(this.#lease(key, null, 0));
      }
      this.#forget(key, state);
      return;
    }
    const waiter = state.waiters.shift();
    if (waiter) return waiter(this.#lease(key, resource, messages));
    const timer = setTimeout(() => {
      const i = state.idle.findIndex((x) => x.resource === resource);
      if (i < 0) return;
      state.idle.splice(i, 1);
      resource.quit();
      state.open--;
      this.#forget(key, state);
    }, this.#limits.idleMs);
    // An idle connection must not keep the process alive.
    timer.unref();
    state.idle.push({ resource, messages, timer });
  }

  #forget(key: string, state: KeyState<R>): void {
    if (state.open === 0 && state.waiters.length === 0) this.#keys.delete(key);
  }
}
