/**
 * Schema migrations, in code and in order. Never edit a shipped migration:
 * add the next one. The same migrations, with the same names and order, run
 * on SQLite and on PostgreSQL 15: the few types that differ go through
 * {@link types} (SQLite's schema is exactly what existing files have).
 */
import { PostgresAdapter, sql, type ColumnDefinitionBuilder, type Kysely, type Migration, type RawBuilder } from 'kysely';
import { NOT_ACCEPTED } from '../policy/reply-shape.js';
import { addReplyTallies, tallyReply, type ReplyTally } from './reply-tallies.js';
import type { Database } from './schema.js';

/** True when `db` runs on PostgreSQL (else SQLite). */
function onPostgres(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** The column types that differ between the two engines, for the database `db` runs on. */
export function types(db: Kysely<unknown>) {
  const pg = onPostgres(db);
  return {
    /**
     * A row id: SQLite's `integer primary key autoincrement` (what every
     * existing file has); on PostgreSQL a bigint identity (kysely's
     * autoIncrement would be MySQL's `auto_increment` there).
     */
    idType: pg ? 'bigint' as const : 'integer' as const,
    id: (c: ColumnDefinitionBuilder) => (pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()),
    /** A column holding another table's id (the same width as the id). */
    ref: pg ? 'bigint' as const : 'integer' as const,
    /** A float: SQLite's REAL is 8 bytes; PostgreSQL's `real` would be 4. */
    real: pg ? 'double precision' as const : 'real' as const,
  };
}

export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      const t = types(db);
      await db.schema.createTable('runs')
        .addColumn('id', t.idType, t.id)
        .addColumn('plan', 'text', (c) => c.notNull())
        .addColumn('plan_file', 'text')
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('speed', t.real, (c) => c.notNull().defaultTo(1))
        .addColumn('ended_at', 'bigint')
        .addColumn('end_reason', 'text')
        .execute();

      await db.schema.createTable('lanes')
        .addColumn('id', t.idType, t.id)
        .addColumn('plan', 'text', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('stage', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('state', 'text', (c) => c.notNull().defaultTo('active'))
        .addColumn('state_until', 'bigint')
        .addColumn('state_reason', 'text')
        .addColumn('rate_factor', t.real, (c) => c.notNull().defaultTo(1))
        .addColumn('rate_until', 'bigint')
        .addColumn('max_connections', 'integer')
        .addColumn('holds_in_row', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('decided_day', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('lanes_plan_ip_provider', ['plan', 'ip', 'provider'])
        .execute();

      await db.schema.createTable('messages')
        .addColumn('id', t.idType, t.id)
        .addColumn('lane_id', t.ref, (c) => c.notNull().references('lanes.id'))
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text', (c) => c.notNull().unique())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addUniqueConstraint('messages_lane_day_seq', ['lane_id', 'day', 'seq'])
        .execute();
      // The retry queue: what is due next, per status.
      await db.schema.createIndex('messages_status_due').on('messages').columns(['status', 'next_attempt_at']).execute();

      await db.schema.createTable('attempts')
        .addColumn('id', t.idType, t.id)
        .addColumn('message_id', t.ref, (c) => c.notNull().references('messages.id'))
        .addColumn('lane_id', t.ref, (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('latency_ms', 'integer')
        .addColumn('mx_host', 'text')
        .addColumn('mx_address', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('code', 'integer')
        .addColumn('enhanced', 'text')
        .addColumn('reply', 'text')
        .addColumn('stage', 'text')
        .addColumn('retry', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      // Per-lane per-day aggregates and the in-day sliding windows read this index.
      await db.schema.createIndex('attempts_lane_day').on('attempts').columns(['lane_id', 'day', 'outcome']).execute();
      await db.schema.createIndex('attempts_lane_time').on('attempts').columns(['lane_id', 'started_at']).execute();
      await db.schema.createIndex('attempts_message').on('attempts').columns(['message_id']).execute();

      await db.schema.createTable('lane_days')
        .addColumn('lane_id', t.ref, (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('stage', 'integer', (c) => c.notNull())
        .addColumn('target', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('spread_from', 'bigint', (c) => c.notNull())
        .addColumn('spread_until', 'bigint', (c) => c.notNull())
        .addColumn('decision', 'text')
        .addColumn('decided_at', 'bigint')
        .addColumn('sent', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('accepted', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('deferred', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('bounced', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('expired', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('retries', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('inbox', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('spam', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('missing', 'integer', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('lane_days_pk', ['lane_id', 'day'])
        .execute();

      await db.schema.createTable('events')
        .addColumn('id', t.idType, t.id)
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('plan', 'text', (c) => c.notNull())
        .addColumn('lane_id', t.ref)
        .addColumn('ip', 'text')
        .addColumn('provider', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('from_state', 'text')
        .addColumn('to_state', 'text')
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('cause', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
      await db.schema.createIndex('events_at').on('events').columns(['plan', 'at']).execute();

      await db.schema.createTable('dnsbl_results')
        .addColumn('id', t.idType, t.id)
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('zone', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('answer', 'text')
        .addColumn('meaning', 'text')
        .addColumn('txt', 'text')
        .execute();
      await db.schema.createIndex('dnsbl_ip_zone_at').on('dnsbl_results').columns(['ip', 'zone', 'at']).execute();

      await db.schema.createTable('placements')
        .addColumn('id', t.idType, t.id)
        .addColumn('message_id', t.ref, (c) => c.notNull().references('messages.id'))
        .addColumn('lane_id', t.ref, (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('mailbox', 'text', (c) => c.notNull())
        .addColumn('folder', 'text')
        .addColumn('placement', 'text', (c) => c.notNull())
        .addColumn('arrived_after_ms', 'bigint')
        .addColumn('checked_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('placements_lane_day').on('placements').columns(['lane_id', 'day']).execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of ['placements', 'dnsbl_results', 'events', 'lane_days', 'attempts', 'messages', 'lanes', 'runs']) {
        await db.schema.dropTable(t).execute();
      }
    },
  },
  '0002_placement_engagement': {
    // Placement polling finds "accepted messages to this seed with no placement yet" every few
    // minutes; engagement remembers per placement when (and whether) to act on the message.
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('placements_message').on('placements').column('message_id').unique().execute();
      await db.schema.createIndex('messages_recipient_status').on('messages').columns(['recipient', 'status']).execute();
      await db.schema.alterTable('placements').addColumn('engage_at', 'bigint').execute();
      await db.schema.alterTable('placements').addColumn('engaged_at', 'bigint').execute();
      await db.schema.alterTable('placements').addColumn('engaged', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('messages_recipient_status').execute();
      await db.schema.dropIndex('placements_message').execute();
      for (const c of ['engaged', 'engaged_at', 'engage_at']) await db.schema.alterTable('placements').dropColumn(c).execute();
    },
  },
  '0003_mailbox_deferrals': {
    // Per-mailbox answers (Gmail 450 4.2.1) say nothing about the IP: counted apart from lane deferrals.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('lane_days').addColumn('mailbox_deferred', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('lane_days').dropColumn('mailbox_deferred').execute();
    },
  },
  '0004_run_real_start': {
    // With the real start time and the speed, other processes can read the daemon's (accelerated) clock.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('runs').addColumn('real_started_at', 'bigint').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('runs').dropColumn('real_started_at').execute();
    },
  },
  '0005_lane_days_history': {
    // The launch forecast reads every lane's decisions: from this index alone, not the wide rows.
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('lane_days_history').on('lane_days').columns(['lane_id', 'day', 'decision']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('lane_days_history').execute();
    },
  },
  '0006_holds_and_lease': {
    // One `state` column that every actor overwrote becomes holds, one per (lane, kind, actor);
    // `state` stays as their summary. Existing non-active lanes get the hold of whoever set
    // their state last (an unknown actor counts as the operator's, so only a person lifts it).
    async up(db: Kysely<unknown>) {
      const t = types(db);
      await db.schema.createTable('holds')
        .addColumn('id', t.idType, t.id)
        .addColumn('plan', 'text', (c) => c.notNull())
        .addColumn('lane_id', t.ref, (c) => c.notNull().references('lanes.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('until', 'bigint')
        .addColumn('evidence', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('holds_lane_kind_actor', ['lane_id', 'kind', 'actor'])
        .execute();
      await db.schema.createIndex('holds_plan_until').on('holds').columns(['plan', 'until']).execute();
      await sql`
        insert into holds (plan, lane_id, kind, actor, reason, until, evidence, created_at, updated_at)
        select l.plan, l.id,
          case when e.actor = 'dnsbl' then 'dnsbl'
               when e.actor like 'rule:%' then 'rule'
               when e.actor like '%circuit-breaker%' then 'breaker'
               when e.actor = 'policy' then 'policy'
               else 'operator' end,
          case when e.actor is null or e.actor = 'daemon' then 'operator' else e.actor end,
          coalesce(l.state_reason, l.state), l.state_until, null, coalesce(e.at, l.updated_at), l.updated_at
        from lanes l
        left join events e on e.id = (select max(id) from events where lane_id = l.id and to_state = l.state)
        where l.state != 'active'`.execute(db);
      await db.schema.createTable('leases')
        .addColumn('plan', 'text', (c) => c.primaryKey())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('acquired_at', 'bigint', (c) => c.notNull())
        .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
        .addColumn('token', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('leases').execute();
      await db.schema.dropTable('holds').execute();
    },
  },
  '0007_routed_mail': {
    // Real mail routed through Postfix: marked on its message, counted beside seed sends per lane-day,
    // and the position warmup reached in Postfix's log (so a restart reads no line twice and misses none).
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('messages').addColumn('source', 'text', (c) => c.notNull().defaultTo('seed')).execute();
      for (const c of ['routed', 'routed_accepted', 'routed_deferred', 'routed_bounced', 'routed_failed']) {
        await db.schema.alterTable('lane_days').addColumn(c, 'integer', (col) => col.notNull().defaultTo(0)).execute();
      }
      await db.schema.createTable('postfix_log')
        .addColumn('plan', 'text', (c) => c.primaryKey())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('inode', 'text', (c) => c.notNull())
        .addColumn('offset', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('postfix_log').execute();
      for (const c of ['routed_failed', 'routed_bounced', 'routed_deferred', 'routed_accepted', 'routed']) await db.schema.alterTable('lane_days').dropColumn(c).execute();
      await db.schema.alterTable('messages').dropColumn('source').execute();
    },
  },
  '0008_drop_attempts_message_index': {
    // Nothing reads attempts by message (EXPLAIN QUERY PLAN of every query on attempts, held by
    // test/store/indexes.test.ts) and messages are never deleted, so the foreign key needs no
    // index on its child side: the index only cost bytes and a B-tree insert per attempt.
    // attempts_lane_time stays: the last reply of each lane (warmup status) seeks it.
    async up(db: Kysely<unknown>) {
      await db.schema.dropIndex('attempts_message').ifExists().execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.createIndex('attempts_message').on('attempts').columns(['message_id']).execute();
      },
    },
  '0009_reply_signals': {
    // Greylisting and list hygiene are counted apart from the lane's deferrals and policy bounces;
    // a message remembers its greylisting answers so the retry that succeeds can confirm them.
    async up(db: Kysely<unknown>) {
      for (const c of ['greylisted', 'greylist_passed', 'hygiene_bounced']) {
        await db.schema.alterTable('lane_days').addColumn(c, 'integer', (col) => col.notNull().defaultTo(0)).execute();
      }
      for (const c of ['greylisted', 'grey_suspect']) {
        await db.schema.alterTable('messages').addColumn(c, 'integer', (col) => col.notNull().defaultTo(0)).execute();
      }
    },
    async down(db: Kysely<unknown>) {
      for (const c of ['greylisted', 'grey_suspect']) await db.schema.alterTable('messages').dropColumn(c).execute();
      for (const c of ['greylisted', 'greylist_passed', 'hygiene_bounced']) await db.schema.alterTable('lane_days').dropColumn(c).execute();
    },
  },
  '0010_lane_outcomes': {
    // Attempts per lane and outcome kept as running counts beside the rows (Prometheus counters):
    // a scrape reads O(lanes) rows instead of grouping the whole attempts table.
    async up(db: Kysely<unknown>) {
      const t = types(db);
      await db.schema.createTable('lane_outcomes')
        .addColumn('lane_id', t.ref, (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('n', 'bigint', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('lane_outcomes_pk', ['lane_id', 'outcome'])
        .execute();
      await sql`insert into lane_outcomes (lane_id, outcome, n) select lane_id, outcome, count(*) from attempts group by lane_id, outcome`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('lane_outcomes').execute();
    },
  },
  '0011_fleet': {
    // A fleet: several daemons, one plan, one database. Each IP is leased by the daemon sending
    // from it (host, pid, heartbeat); work done once per fleet is claimed in fleet_claims; the
    // launch forecast after a day-end decision is kept with the day, written once.
    async up(db: Kysely<unknown>) {
      await db.schema.createTable('ip_leases')
        .addColumn('plan', 'text', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('token', 'text', (c) => c.notNull())
        .addColumn('acquired_at', 'bigint', (c) => c.notNull())
        .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
        .addColumn('unattended_at', 'bigint')
        .addPrimaryKeyConstraint('ip_leases_pk', ['plan', 'ip'])
        .execute();
      await db.schema.createTable('fleet_claims')
        .addColumn('plan', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('next_at', 'bigint', (c) => c.notNull())
        .addColumn('cursor', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('claimed_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('fleet_claims_pk', ['plan', 'kind'])
        .execute();
      await db.schema.alterTable('lane_days').addColumn('forecast', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('lane_days').dropColumn('forecast').execute();
      await db.schema.dropTable('fleet_claims').execute();
      await db.schema.dropTable('ip_leases').execute();
    },
  },
  '0012_lane_replies': {
    // What each lane-day was answered besides acceptances, as running counts per outcome and
    // reply shape kept beside the attempts rows: warmup status read one table row per deferral
    // of the day (most of its time on a big database); now O(lanes x distinct replies).
    async up(db: Kysely<unknown>) {
      await laneRepliesTable(db, 'lane_replies', ['lane_id', 'day', 'outcome', 'reply_key']).execute();
      await fillLaneReplies(db as Kysely<Database>);
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('lane_replies').execute();
    },
  },
  '0013_lane_last': {
    // Each lane's last attempt kept beside the attempts rows: warmup status sought it per lane
    // in the attempts (an index page and a table page per lane: ~1,200 page reads for 512 lanes).
    // That seek was all attempts_lane_time served: filled from it, then dropped (20 bytes and
    // a B-tree insert per attempt). A reader on an older file still has it for its fallback.
    async up(db: Kysely<unknown>) {
      const t = types(db);
      await db.schema.createTable('lane_last')
        .addColumn('lane_id', t.ref, (c) => c.primaryKey())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('code', 'integer')
        .addColumn('reply', 'text')
        .execute();
      await sql`insert into lane_last (lane_id, at, outcome, code, reply) select lane_id, started_at, outcome, code, reply from attempts
        where id in (select (select a.id from attempts a where a.lane_id = l.id order by a.started_at desc, a.id desc limit 1) from lanes l)`.execute(db);
      await db.schema.dropIndex('attempts_lane_time').ifExists().execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.createIndex('attempts_lane_time').on('attempts').columns(['lane_id', 'started_at']).execute();
      await db.schema.dropTable('lane_last').execute();
    },
  },
  '0014_narrow_hot_indexes': {
    // Each index entry a send writes is a B-tree page written to the WAL at the next commit, and
    // the hot path's cost follows the pages it writes (~27 per group commit before this). Two
    // indexes held rows no query reads through them:
    // - placement polling reads accepted messages by recipient; the index on (recipient, status)
    //   also held every message in flight, so each send moved an entry in it twice (in at
    //   creation, out and in again at its outcome), each on one of the seeds' pages;
    // - the day-end evidence reads a lane-day's replies other than acceptances; the index on
    //   (lane, day, outcome) also held every accepted attempt.
    // Both now hold only the rows their readers ask for (the reading queries name the status
    // or outcome as a literal, which SQLite needs to pick a partial index): ~19 pages per commit.
    // The placement index keeps `status` as its second column: without statistics SQLite would
    // otherwise prefer messages_status_due (status = 'accepted': every accepted message).
    async up(db: Kysely<unknown>) {
      await db.schema.dropIndex('messages_recipient_status').ifExists().execute();
      await sql`create index "messages_accepted_recipient" on "messages" ("recipient", "status") where "status" = 'accepted'`.execute(db);
      await db.schema.dropIndex('attempts_lane_day').ifExists().execute();
      await sql`create index "attempts_lane_day" on "attempts" ("lane_id", "day", "outcome") where "outcome" <> 'accepted'`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('attempts_lane_day').execute();
      await db.schema.createIndex('attempts_lane_day').on('attempts').columns(['lane_id', 'day', 'outcome']).execute();
      await db.schema.dropIndex('messages_accepted_recipient').execute();
      await db.schema.createIndex('messages_recipient_status').on('messages').columns(['recipient', 'status']).execute();
    },
  },
  '0015_lane_replies_by_day': {
    // Every reader of lane_replies asks for one day (`replyCounts`: a day's replies of the lanes
    // shown, every lane in `warmup status`), but the table was keyed lane first: a day's rows lay one per lane
    // across the whole primary-key index (and, where the rows were written lane by lane, the whole
    // table), so the newest day of 512 lanes took ~400 page reads in a fresh process, 10 ms of a
    // `warmup status` on a machine whose page faults and reads are dear. Keyed day first, and
    // WITHOUT ROWID on SQLite (the rows live in their key's B-tree: one B-tree per upsert instead
    // of a table and its index), a day's rows are a few neighbouring pages. The key's columns are
    // the same, so the writes' `on conflict` target still names it. PostgreSQL keeps its heap:
    // only the key's column order changes there.
    async up(db: Kysely<unknown>) {
      if (onPostgres(db)) {
        await sql`alter table "lane_replies" drop constraint "lane_replies_pk", add constraint "lane_replies_pk" primary key ("day", "lane_id", "outcome", "reply_key")`.execute(db);
        return;
      }
      await rebuildLaneReplies(db, ['day', 'lane_id', 'outcome', 'reply_key'], true);
    },
    async down(db: Kysely<unknown>) {
      if (onPostgres(db)) {
        await sql`alter table "lane_replies" drop constraint "lane_replies_pk", add constraint "lane_replies_pk" primary key ("lane_id", "day", "outcome", "reply_key")`.execute(db);
        return;
      }
      await rebuildLaneReplies(db, ['lane_id', 'day', 'outcome', 'reply_key'], false);
    },
  },
  '0016_routing_per_host': {
    // Routing real mail in a fleet: each host's daemon tails its own Postfix's log and its deferred
    // messages wait in its own Postfix's queue, so the log position is keyed (plan, host) and a routed
    // message names the host that logged it. What routing kept so far was one host's: the host of the
    // plan's newest run (lower-cased, as `warmup start` names hosts), or '' for a plan never run.
    async up(db: Kysely<unknown>) {
      if (onPostgres(db)) {
        // kysely runs PostgreSQL's migrations in a transaction already.
        await routedHosts(db);
        await sql`alter table "postfix_log" add column "host" text not null default ''`.execute(db);
        await sql`update "postfix_log" set "host" = ${newestRunHost(sql`"postfix_log"."plan"`)}`.execute(db);
        await sql`alter table "postfix_log" alter column "host" drop default, drop constraint "postfix_log_pkey", add constraint "postfix_log_pk" primary key ("plan", "host")`.execute(db);
        return;
      }
      // SQLite cannot change a primary key: postfix_log is rebuilt, all of it in one transaction
      // (kysely runs SQLite's migrations outside one), so a crash mid-way leaves the old schema whole.
      await db.transaction().execute(async (trx) => {
        await routedHosts(trx);
        await trx.schema.dropTable('postfix_log_new').ifExists().execute();
        await postfixLogTable(trx, 'postfix_log_new', true).execute();
        await sql`insert into "postfix_log_new" ("plan", "host", "path", "inode", "offset", "updated_at") select "plan", ${newestRunHost(sql`"postfix_log"."plan"`)}, "path", "inode", "offset", "updated_at" from "postfix_log"`.execute(trx);
        await trx.schema.dropTable('postfix_log').execute();
        await trx.schema.alterTable('postfix_log_new').renameTo('postfix_log').execute();
      });
    },
    async down(db: Kysely<unknown>) {
      // One position per plan again: each plan keeps its most recently saved one.
      const keep = sql`select "plan", "host", "path", "inode", "offset", "updated_at" from "postfix_log" p where not exists (select 1 from "postfix_log" q where q."plan" = p."plan" and (q."updated_at" > p."updated_at" or (q."updated_at" = p."updated_at" and q."host" > p."host")))`;
      const rebuild = async (trx: Kysely<unknown>) => {
        await trx.schema.dropTable('postfix_log_new').ifExists().execute();
        await postfixLogTable(trx, 'postfix_log_new', false).execute();
        await sql`insert into "postfix_log_new" ("plan", "path", "inode", "offset", "updated_at") select "plan", "path", "inode", "offset", "updated_at" from (${keep}) k`.execute(trx);
        await trx.schema.dropTable('postfix_log').execute();
        await trx.schema.alterTable('postfix_log_new').renameTo('postfix_log').execute();
        await trx.schema.alterTable('messages').dropColumn('host').execute();
      };
      if (onPostgres(db)) await rebuild(db);
      else await db.transaction().execute(rebuild);
    },
  },
  '0017_placement_pending': {
    // Placement polling asks every few minutes for the accepted messages to the seed mailboxes
    // whose placement is not known yet. messages_accepted_recipient (0014) held every accepted
    // message, so each poll walked a seed's whole history in it and probed placements for each
    // (14 days x thousands of seed messages, nearly all placed long ago). With `placed_at` set
    // when the placement is recorded, the index holds only the messages still to place: a poll
    // reads what is new or still pending, and nothing it has placed or given up.
    async up(db: Kysely<unknown>) {
      await inOneTransaction(db, async (trx) => {
        // Each step can run again over itself (a file whose record of this migration was lost).
        const messages = (await trx.introspection.getTables()).find((t) => t.name === 'messages');
        if (!messages?.columns.some((c) => c.name === 'placed_at')) await trx.schema.alterTable('messages').addColumn('placed_at', 'bigint').execute();
        await sql`update "messages" set "placed_at" = (select "p"."checked_at" from "placements" "p" where "p"."message_id" = "messages"."id")
          where "id" in (select "message_id" from "placements")`.execute(trx);
        await trx.schema.dropIndex('messages_accepted_recipient').ifExists().execute();
        // `status` stays the second column for the reason 0014 gives (SQLite without statistics).
        await sql`create index if not exists "messages_placement_pending" on "messages" ("recipient", "status") where "status" = 'accepted' and "placed_at" is null`.execute(trx);
      });
    },
    async down(db: Kysely<unknown>) {
      await inOneTransaction(db, async (trx) => {
        await trx.schema.dropIndex('messages_placement_pending').execute();
        await sql`create index "messages_accepted_recipient" on "messages" ("recipient", "status") where "status" = 'accepted'`.execute(trx);
        await trx.schema.alterTable('messages').dropColumn('placed_at').execute();
      });
    },
  },
  '0018_lease_stale_ms': {
    // Each daemon judged every IP lease by its own `--heartbeat`: one with 5 s took the IPs of a
    // live one with 30 s (its renewals 20 s apart look stale at 7.5 s), and both sent from them.
    // A lease now keeps its holder's staleness window, and every daemon judges it by that. Leases
    // from before keep null: judged by the reader's window, as they were.
    async up(db: Kysely<unknown>) {
      const leases = (await db.introspection.getTables()).find((t) => t.name === 'ip_leases');
      if (!leases?.columns.some((c) => c.name === 'stale_ms')) await db.schema.alterTable('ip_leases').addColumn('stale_ms', 'bigint').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('ip_leases').dropColumn('stale_ms').execute();
    },
  },
});

/** The lower-cased host of the newest run of the plan `plan` (an SQL expression), '' when it never ran. */
function newestRunHost(plan: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`coalesce((select lower("runs"."host") from "runs" where "runs"."plan" = ${plan} order by "runs"."id" desc limit 1), '')`;
}

/** Migration 0016: routed messages name the host whose Postfix logged them (so far: the plan's newest run's). */
async function routedHosts(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('messages').addColumn('host', 'text').execute();
  await sql`update "messages" set "host" = ${newestRunHost(sql`(select "lanes"."plan" from "lanes" where "lanes"."id" = "messages"."lane_id")`)} where "source" = 'routed'`.execute(db);
}

/** The postfix_log table (migration 0007) as `name`: keyed (plan, host) from migration 0016, by plan before. */
function postfixLogTable(db: Kysely<unknown>, name: string, perHost: boolean) {
  const t = db.schema.createTable(name).addColumn('plan', 'text', (c) => c.notNull());
  return (perHost ? t.addColumn('host', 'text', (c) => c.notNull()) : t)
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('inode', 'text', (c) => c.notNull())
    .addColumn('offset', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint(perHost ? 'postfix_log_pk' : 'postfix_log_pkey', (perHost ? ['plan', 'host'] : ['plan']) as never);
}

/**
 * Runs a migration's steps all or nothing. PostgreSQL's migrations already run in a transaction
 * (kysely's migrator opens one where DDL is transactional); SQLite's run outside one, so a crash
 * between two steps would leave a half-applied migration that fails at the next open.
 */
async function inOneTransaction(db: Kysely<unknown>, steps: (trx: Kysely<unknown>) => Promise<void>): Promise<void> {
  if (onPostgres(db)) return steps(db);
  await db.transaction().execute(steps);
}

/** The lane_replies table (migration 0012) as `name`, keyed by `key`. */
function laneRepliesTable(db: Kysely<unknown>, name: string, key: string[]) {
  const t = types(db);
  return db.schema.createTable(name)
    .addColumn('lane_id', t.ref, (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('reply_key', 'text', (c) => c.notNull())
    .addColumn('reply', 'text', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('lane_replies_pk', key as never);
}

/**
 * SQLite: lane_replies again with the primary key `key` (and WITHOUT ROWID or not), its rows copied over, in one
 * transaction (kysely runs SQLite's migrations outside one): a crash or a kill mid-way leaves the old table whole,
 * and the migration runs again at the next open.
 */
async function rebuildLaneReplies(db: Kysely<unknown>, key: string[], withoutRowid: boolean): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.schema.dropTable('lane_replies_new').ifExists().execute();
    const table = laneRepliesTable(trx, 'lane_replies_new', key);
    await (withoutRowid ? table.modifyEnd(sql`without rowid`) : table).execute();
    await sql`insert into "lane_replies_new" ("lane_id", "day", "outcome", "reply_key", "reply", "n") select "lane_id", "day", "outcome", "reply_key", "reply", "n" from "lane_replies"`.execute(trx);
    await trx.schema.dropTable('lane_replies').execute();
    await trx.schema.alterTable('lane_replies_new').renameTo('lane_replies').execute();
  });
}

/**
 * Counts the attempts already written into `lane_replies` (migration 0012), a lane at a
 * time (memory stays bounded by one lane's distinct replies): each lane's non-accepted
 * attempts from the `attempts_lane_day` index, shaped as the writes shape them.
 */
async function fillLaneReplies(db: Kysely<Database>): Promise<void> {
  const lanes = await db.selectFrom('lanes').select('id').orderBy('id').execute();
  for (const { id } of lanes) {
    const rows = await db.selectFrom('attempts').select(['day', 'outcome', 'reply']).select((eb) => eb.fn.countAll<number>().as('n'))
      .where('lane_id', '=', id).where('outcome', 'in', NOT_ACCEPTED).groupBy(['day', 'outcome', 'reply']).execute();
    const tallies = new Map<string, ReplyTally>();
    for (const r of rows) tallyReply(tallies, { laneId: id, day: r.day, outcome: r.outcome, reply: r.reply }, Number(r.n));
    await addReplyTallies(db, tallies.values());
  }
}
