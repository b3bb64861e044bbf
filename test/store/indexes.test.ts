import { readdirSync, readFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import { attemptOutcomeCounts } from '../../src/store/messages.js';
import { migrate } from '../../src/store/open.js';
import { dayReplies, lastReplies, replyCounts } from '../../src/store/replies.js';
import type { Database } from '../../src/store/schema.js';

/** A migrated in-memory store whose every prepared SQL text is kept, to EXPLAIN it. */
async function recordingStore() {
  const sqlite = new BetterSqlite3(':memory:');
  const texts: string[] = [];
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: {
    close: () => sqlite.close(),
    prepare: (sql: string) => { texts.push(sql); return sqlite.prepare(sql) as never; },
  } }) });
  const { error } = await migrate(db);
  if (error) throw error;
  texts.length = 0;
  return { db, sqlite, texts };
}

/** The indexes SQLite's plan for `sql` uses, from EXPLAIN QUERY PLAN (placeholders bound to null). */
function indexesUsed(sqlite: BetterSqlite3.Database, sql: string): string[] {
  const stmt = sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const rows = stmt.all(...Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => null)) as { detail: string }[];
  return rows.flatMap((r) => [...r.detail.matchAll(/USING (?:COVERING )?INDEX (\w+)/g)].map((m) => m[1]!));
}

describe('the indexes on attempts', () => {
  it('only the queries in src/store read attempts, and those this file explains', () => {
    const readers: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = `${dir}/${e.name}`;
        if (e.isDirectory()) walk(p);
        else if (/\.ts$/.test(e.name) && /selectFrom\('attempts'\)|join\('attempts'|\bfrom\s+attempts\b/i.test(readFileSync(p, 'utf8'))) readers.push(p.replace(/^.*\/src\//, 'src/'));
      }
    };
    walk(new URL('../../src', import.meta.url).pathname);
    // migrations.ts: the one-time backfills of lane_outcomes (0010) and lane_replies (0012);
    // messages.ts only writes attempts now.
    expect(readers.sort()).toEqual(['src/store/migrations.ts', 'src/store/replies.ts']);
  });

  it('no query reads attempts by message or by lane and time (attempts_message, attempts_lane_time are dropped); the last reply per lane is read from lane_last', async () => {
    const { db, sqlite, texts } = await recordingStore();
    const names = sqlite.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'attempts'").pluck().all();
    expect(names).not.toContain('attempts_message');
    expect(names).not.toContain('attempts_lane_time');
    expect(names).toEqual(expect.arrayContaining(['attempts_lane_day']));

    await lastReplies(db, [1]);
    const last = texts.splice(0);
    expect(last).toHaveLength(1);
    expect(last[0]).toMatch(/from "lane_last"/);
    expect(indexesUsed(sqlite, last[0]!)).toEqual([]); // its primary key is the rowid: no index besides
    last.length = 0;
    // The day's replies per lane come from their running counts, seeking its primary key.
    await replyCounts(db, [1], '2026-12-01');
    await replyCounts(db, [1], '2026-12-01', ['deferred']);
    const counts = texts.splice(0);
    expect(counts.length).toBeGreaterThanOrEqual(1);
    for (const t of counts) {
      expect(t).not.toMatch(/"attempts"/);
      expect(t).toMatch(/from "lane_replies"/);
      expect(indexesUsed(sqlite, t)).toEqual(['sqlite_autoindex_lane_replies_1']);
    }
    await dayReplies(db, 1, '2026-12-01');
    const all = [...last, ...texts].filter((t) => /"attempts"/.test(t));
    expect(all.length).toBeGreaterThanOrEqual(1);
    // Metrics read the running counts, never the attempts table.
    await attemptOutcomeCounts(db, 'p');
    expect(texts.splice(all.length - last.length).filter((t) => /"attempts"/.test(t))).toEqual([]);
    for (const t of all) expect(indexesUsed(sqlite, t)).not.toContain('attempts_message');
    for (const t of texts.filter((x) => /"attempts"/.test(x) && /"day" = \?/.test(x))) expect(indexesUsed(sqlite, t)).toContain('attempts_lane_day');
    await db.destroy();
  });
});
