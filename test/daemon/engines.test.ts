/**
 * The daemon end to end on each store engine: SQLite (the plan's file) and
 * PostgreSQL (the test peers' server, a database of this test's own, named
 * by the plan's `store.url`). Same plan, same accelerated days, same sink:
 * the same days, counts and decisions, each lane-day decided once; then the
 * commands read and change the store the plan names (or `--db` names).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { createPostgresDatabase, loadPeers } from '../peers/peers.js';
import { load, startDaemon, until, writePlan } from './harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function cli(...argv: string[]) {
  const io = memoryIo({}, root);
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe.each(['sqlite', 'postgres'] as const)('the daemon on %s', (engine) => {
  it('runs three accelerated days: every lane its target, accepted by the sink, each lane-day decided once; status, pause and events read the same store', async () => {
    const storeUrl = engine === 'postgres' ? await createPostgresDatabase('engines') : undefined;
    const { file } = writePlan({
      name: `engines-${engine}`, ips: ['127.0.0.13', '127.0.0.14'], ramp: '{ daily: [3, 5, 7] }',
      providers: { sink: { domains: ['sink.test'], seeds: ['eng-a@sink.test', 'eng-b@sink.test'] } },
      ...(storeUrl ? { storeUrl } : {}),
    });
    const plan = load(file);
    expect(plan.storeServer?.url).toBe(storeUrl);
    const run = await startDaemon(plan, { from: '2026-12-01T07:59:00Z', speed: 30_000 });
    expect(run.store.kind).toBe(engine);
    const reason = await Promise.race([run.daemon.stopped, until('the run to end', 50_000, () => false)]);
    expect(reason).toBe('plan complete');
    const days = await run.db.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
      .select(['lanes.ip', 'lane_days.day', 'lane_days.stage', 'lane_days.target', 'lane_days.sent', 'lane_days.accepted', 'lane_days.decision', 'lane_days.decided_at'])
      .orderBy('lanes.ip').orderBy('lane_days.day').execute();
    const decisions = await run.db.selectFrom('events').select(['lane_id', 'kind', 'cause']).where('kind', 'like', 'day_%').execute();
    const messages = await run.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'accepted').executeTakeFirstOrThrow();
    await run.stop();
    expect(days.map(({ decided_at, ...d }) => { expect(typeof decided_at).toBe('number'); return d; })).toEqual(['127.0.0.13', '127.0.0.14'].flatMap((ip) => [
      { ip, day: '2026-12-01', stage: 1, target: 3, sent: 3, accepted: 3, decision: 'advance' },
      { ip, day: '2026-12-02', stage: 2, target: 5, sent: 5, accepted: 5, decision: 'advance' },
      { ip, day: '2026-12-03', stage: 3, target: 7, sent: 7, accepted: 7, decision: 'advance' },
    ]));
    expect(messages.n).toBe(30);
    // One day_advance event per lane-day: decided exactly once.
    const perLaneDay = decisions.map((e) => `${e.lane_id}|${(JSON.parse(e.cause) as { day?: string }).day}`);
    expect(perLaneDay).toHaveLength(6);
    expect(new Set(perLaneDay).size).toBe(6);

    // The commands find the plan's store (store.url or store.path) without --db.
    const status = await cli('status', file, '--day', '3', '--json');
    expect(status.code, status.err).toBe(0);
    expect(JSON.parse(status.out).lanes.map((l: { ip: string; sent: number }) => [l.ip, l.sent])).toEqual([['127.0.0.13', 7], ['127.0.0.14', 7]]);
    const paused = await cli('pause', '127.0.0.13', '--plan', file, '--reason', 'engine test');
    expect(paused.code, paused.err).toBe(0);
    const events = await cli('events', file, '--kind', 'operator_pause', '--json');
    expect(events.code, events.err).toBe(0);
    expect(events.out).toContain('engine test');
  }, 90_000);
});

describe('--db postgres:// on the commands', () => {
  it('a SQLite plan read and changed through --db URL; a database warmup never wrote is refused (exit 2); a wrong password is not printed', async () => {
    const url = await createPostgresDatabase('engines_flag');
    const { file } = writePlan({ name: 'engines-flag', ips: ['127.0.0.13'], providers: { sink: { domains: ['sink.test'], seeds: ['eng-c@sink.test'] } } });
    const empty = await cli('status', file, '--db', url, '--json');
    expect(empty.code).toBe(2);
    expect(empty.err).toContain('STORE_MISSING');
    expect((await cli('pause', '127.0.0.13', '--plan', file, '--db', url, '--reason', 'via flag')).code).toBe(0);
    const status = await cli('status', file, '--db', url, '--json');
    expect(status.code, status.err).toBe(0);
    expect(JSON.parse(status.out).lanes[0]).toMatchObject({ ip: '127.0.0.13', state: 'paused' });
    const { passwordUser } = loadPeers().postgres;
    const wrong = url.replace('//warmup@', `//${passwordUser}:not-it-77@`);
    const denied = await cli('status', file, '--db', wrong);
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('password authentication failed');
    expect(denied.err + denied.out).not.toContain('not-it-77');
  }, 30_000);
});
