import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/types.js';
import { openStoreFor, storeTarget } from '../../src/store/select.js';

const dir = mkdtempSync(join(tmpdir(), 'warmup-select-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const plan = { name: 'sel', storePath: join(dir, 'plan.db') } as Plan;

describe('openStoreFor: the store a command asks for', () => {
  it.each([
    ['the plan\'s store when no --db is given', undefined, undefined, join(dir, 'plan.db')],
    ['--db as given when no folder is named', 'x/other.db', undefined, 'x/other.db'],
    ['--db taken from the command\'s folder', 'other.db', '/srv/w', '/srv/w/other.db'],
    ['an absolute --db as is', '/var/lib/w.db', '/srv/w', '/var/lib/w.db'],
  ])('%s', (_t, db, cwd, path) => {
    expect(storeTarget(plan, db, cwd)).toEqual({ kind: 'sqlite', path });
  });

  it('opens a SQLite store that says what and where it is, and writes through it', async () => {
    const store = await openStoreFor({ plan });
    try {
      expect(store).toMatchObject({ kind: 'sqlite', location: join(dir, 'plan.db') });
      const [lane] = await store.ensureLanes('sel', [{ ip: '127.0.0.2', provider: 'gmail' }], 1);
      await store.transaction(async (tx) => { await tx.addEvent({ at: 2, plan: 'sel', laneId: lane!.id, kind: 'x', actor: 'test', cause: {} }); });
      expect((await store.listEvents('sel')).map((e) => e.kind)).toEqual(['x']);
    } finally {
      await store.close();
    }
  });

  it('refuses to read a store that does not exist (STORE_MISSING), creating nothing', async () => {
    await expect(openStoreFor({ plan, db: join(dir, 'none.db'), readonly: true })).rejects.toMatchObject({ code: 'STORE_MISSING' });
  });
});
