/**
 * What routing real mail left in a database before migration 0016 (one Postfix log position per
 * plan, routed messages without a host), and what the migration must make of it: the same on
 * SQLite (test/store/migrations.test.ts) and PostgreSQL (test/store/postgres.test.ts).
 */
import type { Kysely } from 'kysely';
import { expect } from 'vitest';
import type { Store } from '../../src/store/store.js';

const lane = (plan: string, ip: string) => ({ plan, ip, provider: 'gmail', stage: 1, state: 'active', state_until: null, state_reason: null, rate_factor: 1, rate_until: null, max_connections: null, holds_in_row: 0, decided_day: null, updated_at: 1 });
const message = (laneId: number, seq: number, recipient: string, id: string, source: 'seed' | 'routed') => ({ lane_id: laneId, day: '2026-12-01', seq, recipient, message_id: id, source, status: 'deferred', attempts: 1, created_at: 1, next_attempt_at: null, finished_at: null });

/**
 * Plan "p" ran on host "old" then "MTA1" (its newest run), routed one message still deferred and
 * read its log to offset 4096; plan "q" never ran and has a position and a deferred routed message.
 * Lanes 1 (plan p) and 2 (plan q); a seed message on lane 1.
 */
export async function seedBefore0016(db: Kysely<any>): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
  await db.insertInto('lanes').values([lane('p', '127.0.0.2'), lane('q', '127.0.0.3')]).execute();
  await db.insertInto('runs').values([
    { plan: 'p', plan_file: null, host: 'old', pid: 1, started_at: 1, speed: 1, ended_at: 2, end_reason: 'SIGTERM' },
    { plan: 'p', plan_file: null, host: 'MTA1', pid: 2, started_at: 3, speed: 1, ended_at: 4, end_reason: 'SIGTERM' },
  ]).execute();
  await db.insertInto('messages').values([
    message(1, 1, 'a@g.test', 'seed@x', 'seed'),
    message(1, 2, 'u@g.test', 'postfix:Q1:u@g.test:1', 'routed'),
    message(2, 1, 'v@g.test', 'postfix:Q2:v@g.test:2', 'routed'),
  ]).execute();
  await db.insertInto('postfix_log').values([
    { plan: 'p', path: '/var/log/postfix/maillog', inode: '77', offset: 4096, updated_at: 4 },
    { plan: 'q', path: '/var/log/postfix/maillog', inode: '78', offset: 10, updated_at: 4 },
  ]).execute();
}

/** After 0016: each plan's position and deferred routed mail belong to its newest run's host (lower case; '' when none), seed mail to none. */
export async function expectCarriedOver(store: Store, db: Kysely<any>): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(await store.loadLogPosition('p', 'mta1')).toEqual({ path: '/var/log/postfix/maillog', inode: '77', offset: 4096 });
  expect(await store.loadLogPosition('p', 'old')).toBeNull();
  expect(await store.loadLogPosition('q', '')).toEqual({ path: '/var/log/postfix/maillog', inode: '78', offset: 10 });
  expect(await store.deferredRouted('p', 'mta1')).toEqual([{ recipient: 'u@g.test', lane_id: 1 }]);
  expect(await store.deferredRouted('p', 'mta2')).toEqual([]);
  expect(await store.deferredRouted('q', '')).toEqual([{ recipient: 'v@g.test', lane_id: 2 }]);
  expect(await db.selectFrom('messages').select(['message_id', 'host']).orderBy('id').execute()).toEqual([
    { message_id: 'seed@x', host: null }, { message_id: 'postfix:Q1:u@g.test:1', host: 'mta1' }, { message_id: 'postfix:Q2:v@g.test:2', host: '' },
  ]);
  // A second host of the fleet keeps its own position beside the first's.
  await store.saveLogPosition('p', 'mta2', { path: '/var/log/postfix/maillog', inode: '9', offset: 1 }, 5);
  expect(await store.loadLogPosition('p', 'mta2')).toEqual({ path: '/var/log/postfix/maillog', inode: '9', offset: 1 });
  expect(await store.loadLogPosition('p', 'mta1')).toMatchObject({ offset: 4096 });
}
