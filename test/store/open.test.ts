import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlite, openStore } from '../../src/store/open.js';
import { openSqliteReader, READER_OPERATIONS, statementRows } from '../../src/store/sqlite-reader.js';
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

describe('the read-only SQLite store', () => {
  it('reads what a writer wrote; the other operations load kysely on first use; writes fail; a missing file is STORE_MISSING', async () => {
    const path = join(dir, 'reader.db');
    const writer = await openStore(path);
    await writer.ensureLanes('p', [{ ip: '127.0.0.2', provider: 'gmail' }, { ip: '127.0.0.3', provider: 'gmail' }], 7);
    await writer.addEvent({ at: 9, plan: 'p', laneId: 1, ip: '127.0.0.2', provider: 'gmail', kind: 'note', actor: 'test', cause: {} });
    const reader = await openStore(path, { readonly: true });
    try {
      expect(READER_OPERATIONS).toContain('loadLanes');
      expect((await reader.loadLanes('p')).map((l) => [l.id, l.ip, l.updated_at])).toEqual([[1, '127.0.0.2', 7], [2, '127.0.0.3', 7]]);
      // Not one of the reader's own: through kysely over the same connection.
      expect((await reader.listEvents('p', {})).map((e) => e.kind)).toEqual(['note']);
      await expect(reader.ensureLanes('p', [{ ip: '127.0.0.4', provider: 'gmail' }], 8)).rejects.toThrow(/readonly/i);
      await expect(reader.transaction((tx) => tx.setLaneShaping(1, { rate_factor: 0.5, rate_until: null }, 9))).rejects.toThrow(/readonly/i);
      expect(await reader.storeNow('p', 123)).toBe(123);
    } finally {
      await reader.close();
      await writer.close();
    }
    // Closed before kysely was ever needed.
    const quick = openSqliteReader(path);
    expect(await quick.latestLaneDay('p', '2026-12-31')).toBeUndefined();
    await quick.close();
    await expect(openStore(join(dir, 'none.db'), { readonly: true })).rejects.toMatchObject({ code: 'STORE_MISSING' });
  });
});

describe('the read-only store\'s rows', () => {
  it('are the objects better-sqlite3 makes itself, whatever the column names (repeated, quoted); a __proto__ column is an own field', async () => {
    const sqlite = new BetterSqlite3(':memory:');
    try {
      const text = 'select 1 as "a", 2 as "a", 4 as "x y""z\\", null as "n" union all select 5, 6, 8, \'t\'';
      const rows = await statementRows(sqlite)(text, []);
      expect(rows).toEqual(sqlite.prepare(text).all());
      expect(rows.map((r) => Object.keys(r as object))).toEqual([['a', 'x y"z\\', 'n'], ['a', 'x y"z\\', 'n']]);
      const [odd] = await statementRows(sqlite)('select 3 as "__proto__", 1 as "b"', []) as Array<Record<string, unknown>>;
      expect(Object.getPrototypeOf(odd)).toBe(Object.prototype);
      expect(Object.entries(odd!)).toEqual([['__proto__', 3], ['b', 1]]);
    } finally {
      sqlite.close();
    }
  });

  it('carry every value and the statement\'s order through SQLite\'s JSON as better-sqlite3 gives them; a blob falls back to arrays', async () => {
    const sqlite = new BetterSqlite3(':memory:');
    try {
      sqlite.exec('create table t (id integer primary key, k integer, r real, s text, b blob)');
      const insert = sqlite.prepare('insert into t (k, r, s, b) values (?, ?, ?, ?)');
      const texts = ['plain', 'quote " and \\ backslash', 'tab\tnew\nline \u0001 del \u007f', 'é ü 日本 😀 \u2028', ''];
      const reals = [0.1 + 0.2, 1 / 3, 1e300, -2.5e-300, 2, 123456789.12345679, Number.MAX_VALUE, 5e-324];
      for (let i = 0; i < 40; i++) insert.run((i * 7919) % 41, reals[i % reals.length], texts[i % texts.length], null);
      insert.run(2 ** 53 + 2, null, null, null);
      insert.run(-(2 ** 62), Infinity, 'x', null);
      const rows = statementRows(sqlite);
      for (const text of [
        'select "id", "k", "r", "s" from "t" order by "k" desc, "id"',
        'select "s", count(*) as "n", max("r") as "top" from "t" group by "s" order by "n", "s"',
        'select "k", "r" from "t" where "k" > ? order by "r", "id" limit 9',
      ]) {
        const params = text.includes('?') ? [5] : [];
        const got = await rows(text, params);
        expect(got).toEqual(sqlite.prepare(text).all(...params));
        expect((got as Array<{ r?: number }>).map((r) => r.r)).toStrictEqual((sqlite.prepare(text).all(...params) as Array<{ r?: number }>).map((r) => r.r));
      }
      expect(await rows('select "id" from "t" where "id" < 0', [])).toEqual([]);
      // A blob: SQLite makes no JSON of it, the text is read as arrays from then on.
      sqlite.prepare('insert into t (k, b) values (?, ?)').run(1000, Buffer.from([0, 1, 2]));
      const blobText = 'select "k", "b" from "t" where "k" >= ? order by "k"';
      expect(await rows(blobText, [1000])).toEqual(sqlite.prepare(blobText).all(1000));
      expect(await rows(blobText, [1000])).toEqual(sqlite.prepare(blobText).all(1000));
    } finally {
      sqlite.close();
    }
  });
});
