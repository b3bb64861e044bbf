import { describe, expect, it } from 'vitest';
import { GroupWriter } from '../../src/daemon/group-writer.js';

describe('GroupWriter', () => {
  it('commits the writes asked for in one turn of the event loop as one group, in order', async () => {
    const groups: number[][] = [];
    const w = new GroupWriter<number>(async (items) => { groups.push(items); });
    await Promise.all([1, 2, 3].map((n) => w.write(n)));
    await w.write(4);
    expect(groups).toEqual([[1, 2, 3], [4]]);
  });

  it('caps a group and commits a full one at once', async () => {
    const groups: number[][] = [];
    const w = new GroupWriter<number>(async (items) => { groups.push(items); }, 2);
    await Promise.all([1, 2, 3, 4, 5].map((n) => w.write(n)));
    expect(groups).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('rejects every write of a failed group, and a write asked again joins a new group', async () => {
    let fail = true;
    const committed: number[][] = [];
    const w = new GroupWriter<number>(async (items) => {
      if (fail) { fail = false; throw new Error('disk full'); }
      committed.push(items);
    });
    const results = await Promise.allSettled([w.write(1), w.write(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await Promise.all([w.write(1), w.write(2)]);
    expect(committed).toEqual([[1, 2]]);
  });
});

describe('GroupWriter with a delay', () => {
  it('commits the writes asked for within the delay of a group\'s first one together', async () => {
    const groups: number[][] = [];
    const w = new GroupWriter<number>(async (items) => { groups.push(items); }, 256, 20);
    const a = w.write(1);
    await new Promise((r) => setImmediate(r)); // a later turn of the event loop, still within the delay
    const b = w.write(2);
    await Promise.all([a, b]);
    await w.write(3);
    expect(groups).toEqual([[1, 2], [3]]);
  });

  it('still commits a full group at once', async () => {
    const groups: number[][] = [];
    const w = new GroupWriter<number>(async (items) => { groups.push(items); }, 2, 10_000);
    await Promise.all([w.write(1), w.write(2)]);
    expect(groups).toEqual([[1, 2]]);
  });
});

describe('GroupWriter, one commit at a time', () => {
  it('queues the writes asked for while a group commits and commits them next, together, never two groups at once', async () => {
    const groups: number[][] = [];
    let open = 0;
    let most = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const w = new GroupWriter<number>(async (items) => {
      open++;
      most = Math.max(most, open);
      if (items[0] === 1) await gate;
      groups.push(items);
      open--;
    }, 256, 300);
    const first = w.write(1);
    await new Promise((r) => setTimeout(r, 350)); // the first group's delay is over: it commits (and waits at the gate)
    const later = [2, 3, 4].map((n) => w.write(n));
    await new Promise((r) => setTimeout(r, 350)); // longer than the delay: still queued behind the first
    expect(groups).toEqual([]);
    // The next group did not wait for a delay (300 ms) of its own: it committed before a 300 ms timer armed at the
    // release fired (one the writer armed after it would fire later still), however slow the machine.
    const delayOver = new Promise<'delay over'>((r) => setTimeout(() => r('delay over'), 300));
    release();
    expect(await Promise.race([Promise.all([first, ...later]).then(() => 'committed'), delayOver])).toBe('committed');
    expect(groups).toEqual([[1], [2, 3, 4]]);
    expect(most).toBe(1);
  });

  it('commits what queued behind a failed group', async () => {
    const groups: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const w = new GroupWriter<number>(async (items) => {
      if (items[0] === 1) { await gate; throw new Error('deadlock detected'); }
      groups.push(items);
    });
    const first = w.write(1);
    await new Promise((r) => setImmediate(r));
    const second = w.write(2);
    release();
    await expect(first).rejects.toThrow('deadlock detected');
    await second;
    expect(groups).toEqual([[2]]);
  });
});
