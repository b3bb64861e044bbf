import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/store/open.js';
import * as q from '../../src/store/queries.js';

const dir = mkdtempSync(join(tmpdir(), 'warmup-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('opening the store', () => {
  it('creates the database, its -wal and its -shm readable by the owner only (0600), whatever the umask', async () => {
    const old = process.umask(0o022);
    try {
      const path = join(dir, 'private.db');
      const store = await openSqlite(path);
      await q.ensureLanes(store.db, 'p', [{ ip: '127.0.0.2', provider: 'gmail' }], 1);
      for (const f of [path, `${path}-wal`, `${path}-shm`]) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
      await store.close();
    } finally {
      process.umask(old);
    }
  });

  it('tightens a database an older version created 0644', async () => {
    const path = join(dir, 'old.db');
    writeFileSync(path, '', { mode: 0o644 });
    const store = await openSqlite(path);
    await store.close();
    expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
  });

  it('a write transaction takes the lock first: another process committing between its read and its write cannot make it fail', async () => {
    const path = join(dir, 'locks.db');
    const store = await openSqlite(path);
    await q.ensureLanes(store.db, 'p', [{ ip: '127.0.0.2', provider: 'gmail' }], 1);
    // The other process: a second connection that does not wait for locks.
    const other = new BetterSqlite3(path);
    other.pragma('busy_timeout = 0');
    let otherResult = '';
    await store.db.transaction().execute(async (trx) => {
      await trx.selectFrom('lanes').selectAll().execute();
      try {
        other.prepare("update lanes set updated_at = 2").run();
        otherResult = 'committed';
      } catch (e) {
        otherResult = (e as { code?: string }).code ?? 'error';
      }
      // With a deferred BEGIN this write fails with SQLITE_BUSY_SNAPSHOT ("database is locked").
      await trx.updateTable('lanes').set({ updated_at: 3 }).execute();
    });
    other.close();
    expect(otherResult).toBe('SQLITE_BUSY');
    expect((await store.db.selectFrom('lanes').select('updated_at').executeTakeFirstOrThrow()).updated_at).toBe(3);
    await store.close();
  });
});
