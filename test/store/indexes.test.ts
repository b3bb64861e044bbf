import { readdirSync, readFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import { attemptOutcomeCounts, createMessages, recordAttempts } from '../../src/store/messages.js';
import { pendingPlacements, recordPlacements } from '../../src/store/placements.js';
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
  return plainPlan(sqlite, sql).flatMap((detail) => [...detail.matchAll(/USING (?:COVERING )?INDEX (\w+)/g)].map((m) => m[1]!));
}

/** The query plan's lines. */
function plainPlan(sqlite: BetterSqlite3.Database, sql: string): string[] {
  const stmt = sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  return (stmt.all(...Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => null)) as { detail: string }[]).map((r) => r.detail);
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
    // The day's replies per lane come from their running counts, seeking its primary key (day first: migration 0015).
    await replyCounts(db, [1], '2026-12-01');
    await replyCounts(db, [1], '2026-12-01', ['deferred']);
    const counts = texts.splice(0);
    expect(counts.length).toBeGreaterThanOrEqual(1);
    for (const t of counts) {
      expect(t).not.toMatch(/"attempts"/);
      expect(t).toMatch(/from "lane_replies"/);
      expect(plainPlan(sqlite, t)).toEqual(['SEARCH lane_replies USING PRIMARY KEY (day=? AND lane_id=?)']);
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

describe('the partial indexes of migrations 0014 and 0016', () => {
  it('hold only the rows their readers ask for, and those readers use them', async () => {
    const { db, sqlite, texts } = await recordingStore();
    const sqlOf = (name: string) => sqlite.prepare("select sql from sqlite_master where type = 'index' and name = ?").pluck().get(name) as string | undefined;
    expect(sqlOf('messages_recipient_status')).toBeUndefined();
    expect(sqlOf('messages_accepted_recipient')).toBeUndefined(); // narrowed again by 0016
    expect(sqlOf('messages_placement_pending')).toMatch(/where "status" = 'accepted' and "placed_at" is null$/);
    expect(sqlOf('attempts_lane_day')).toMatch(/where "outcome" <> 'accepted'$/);
    // The day-end evidence (a lane-day's replies other than acceptances).
    await dayReplies(db, 1, '2026-12-01');
    const evidence = texts.splice(0);
    expect(evidence).toHaveLength(1);
    expect(indexesUsed(sqlite, evidence[0]!)).toEqual(['attempts_lane_day']);
    // Placement polling (accepted messages to the seed mailboxes with no placement yet).
    await pendingPlacements(db, 'p', ['a@x.test', 'b@x.test']);
    const pending = texts.splice(0);
    expect(pending).toHaveLength(1);
    expect(indexesUsed(sqlite, pending[0]!)).toContain('messages_placement_pending');
    await db.destroy();
  });

  it('a message in flight, an accepted attempt or a placed message has no entry in them', async () => {
    const { db, sqlite } = await recordingStore();
    await db.insertInto('lanes').values({ plan: 'p', ip: '127.0.0.2', provider: 'x', stage: 0, state: 'active', rate_factor: 1, holds_in_row: 0, updated_at: 0 }).execute();
    await db.insertInto('lane_days').values({ lane_id: 1, day: '2026-12-01', stage: 0, target: 10, spread_from: 0, spread_until: 1, decision: null, decided_at: null }).execute();
    const [m1, m2] = await createMessages(db, [
      { laneId: 1, day: '2026-12-01', recipient: 'a@x.test', messageId: 'm1@x.test' }, { laneId: 1, day: '2026-12-01', recipient: 'a@x.test', messageId: 'm2@x.test' },
    ], 1);
    const entries = (index: string) => sqlite.prepare(`select count(*) from "${index === 'messages_placement_pending' ? 'messages' : 'attempts'}" indexed by ${index} where ${index === 'messages_placement_pending' ? `"recipient" = 'a@x.test' and "status" = 'accepted' and "placed_at" is null` : `"lane_id" = 1 and "day" = '2026-12-01' and "outcome" <> 'accepted'`}`).pluck().get();
    const attempt = (id: number, outcome: 'accepted' | 'deferred') => ({ messageId: id, laneId: 1, day: '2026-12-01', startedAt: 2, latencyMs: 1, mxHost: null, mxAddress: null, outcome, code: outcome === 'accepted' ? 250 : 451, enhanced: null, reply: outcome === 'accepted' ? '250 ok' : '451 later', stage: 'data', retry: 0 });
    expect(entries('messages_placement_pending')).toBe(0);
    await recordAttempts(db, [
      { attempt: attempt(m1!.id, 'accepted'), result: { status: 'accepted', at: 3 } },
      { attempt: attempt(m2!.id, 'deferred'), result: { status: 'deferred', nextAttemptAt: 10 } },
    ]);
    expect(entries('messages_placement_pending')).toBe(1);
    expect(entries('attempts_lane_day')).toBe(1);
    expect((await dayReplies(db, 1, '2026-12-01')).map((r) => r.text)).toEqual(['451 later']);
    expect((await pendingPlacements(db, 'p', ['a@x.test'])).map((p) => p.id)).toEqual([m1!.id]);
    // Its placement recorded (found, or given up as missing), it leaves the index: no poll reads it again.
    await recordPlacements(db, 'p', [{ messageId: m1!.id, laneId: 1, day: '2026-12-01', mailbox: 'a@x.test', folder: null, placement: 'missing', arrivedAfterMs: null, checkedAt: 9, engageAt: null }], () => 0.2);
    expect(entries('messages_placement_pending')).toBe(0);
    expect(await pendingPlacements(db, 'p', ['a@x.test'])).toEqual([]);
    await db.destroy();
  });
});
