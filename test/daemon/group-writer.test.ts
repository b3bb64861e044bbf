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
