import { describe, expect, it } from 'vitest';
import { LATE_EVENT_MS, LateEventIds } from '../../src/store/late-events.js';
import { memoryStore } from '../../src/store/memory/index.js';

describe('LateEventIds', () => {
  it('notes the ids of a range not visible, gives each once when it shows up, and forgets one missing too long', async () => {
    const store = memoryStore();
    const add = () => store.addEvent({ at: 1, plan: 'p', kind: 'note', actor: 'test' });
    for (let i = 0; i < 3; i++) await add();
    const late = new LateEventIds(store);
    await late.note(1, 6, 1000); // ids 4, 5, 6 not there
    expect(late.size).toBe(3);
    expect(await late.arrived(1000)).toEqual([]);
    await add();
    await add();
    expect(await late.arrived(2000)).toEqual([4, 5]);
    expect(await late.arrived(2000)).toEqual([]);
    expect(late.size).toBe(1);
    expect(await late.arrived(1000 + LATE_EVENT_MS + 1)).toEqual([]);
    expect(late.size).toBe(0);
    await add();
    expect(await late.arrived(1000 + LATE_EVENT_MS + 2)).toEqual([]); // forgotten: not given
    await late.note(6, 6, 0);
    expect(late.size).toBe(0);
  });
});
