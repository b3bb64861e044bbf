import { describe, expect, it } from 'vitest';
import { KeyedPool, type Poolable } from '../../src/send/pool.js';

class Conn implements Poolable {
  usable = true;
  quits = 0;
  quit(): void {
    this.quits++;
    this.usable = false;
  }
}

const limits = { maxConnections: 1, maxMessagesPerConnection: 3, idleMs: 60_000 };

describe('KeyedPool', () => {
  it('hands out an empty slot, then reuses the released connection', async () => {
    const pool = new KeyedPool<Conn>(limits);
    const a = await pool.acquire('k');
    expect(a.resource).toBeNull();
    const c = new Conn();
    a.release(c, true);
    const b = await pool.acquire('k');
    expect(b.resource).toBe(c);
    expect(b.messages).toBe(1);
    b.release(c, true);
    pool.close();
    expect(c.quits).toBe(1);
  });

  it('queues callers of a full key in order and leaves other keys alone', async () => {
    const pool = new KeyedPool<Conn>(limits);
    const first = await pool.acquire('k');
    const order: string[] = [];
    const second = pool.acquire('k').then((l) => (order.push('second'), l));
    const third = pool.acquire('k').then((l) => (order.push('third'), l));
    const other = await pool.acquire('other');
    expect(other.resource).toBeNull();
    expect(pool.stats('k')).toEqual({ open: 1, idle: 0, waiting: 2 });
    const c = new Conn();
    first.release(c, true);
    const s = await second;
    expect(s.resource).toBe(c);
    s.release(c, false); // an error: discarded, the next caller must open a new one
    const t = await third;
    expect(t.resource).toBeNull();
    expect(order).toEqual(['second', 'third']);
    expect(c.quits).toBe(1);
    t.release(null, false);
    other.release(null, false);
    expect(pool.stats('k')).toEqual({ open: 0, idle: 0, waiting: 0 });
  });

  it('retires a connection after maxMessagesPerConnection', async () => {
    const pool = new KeyedPool<Conn>(limits);
    const c = new Conn();
    let lease = await pool.acquire('k');
    for (let i = 0; i < 3; i++) {
      lease.release(c, true);
      lease = await pool.acquire('k');
    }
    expect(lease.resource).toBeNull();
    expect(c.quits).toBe(1);
    lease.release(null, false);
  });

  it('skips an idle connection the server has closed meanwhile', async () => {
    const pool = new KeyedPool<Conn>(limits);
    const c = new Conn();
    (await pool.acquire('k')).release(c, true);
    c.usable = false;
    const lease = await pool.acquire('k');
    expect(lease.resource).toBeNull();
    expect(pool.stats('k').open).toBe(1);
    lease.release(null, false);
  });

  it('quits idle connections after idleMs', async () => {
    const pool = new KeyedPool<Conn>({ ...limits, idleMs: 20 });
    const c = new Conn();
    (await pool.acquire('k')).release(c, true);
    await new Promise((r) => setTimeout(r, 60));
    expect(c.quits).toBe(1);
    expect(pool.stats('k')).toEqual({ open: 0, idle: 0, waiting: 0 });
  });

  it('refuses nonsensical limits', () => {
    expect(() => new KeyedPool<Conn>({ ...limits, maxConnections: 0 })).toThrow(RangeError);
  });
});
