import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { load, startDaemon, until, writePlan } from './harness.js';

describe('greylisting (postgrey behind Postfix)', () => {
  it('records the 450 greylisting answer, retries on the backoff schedule and delivers', async () => {
    // postgrey remembers a (client, sender, recipient) it let through: new recipients every run.
    const tag = randomBytes(3).toString('hex');
    const { file } = writePlan({
      name: 'grey', ips: ['127.0.0.26'], ramp: '{ daily: [2] }', launch: '2026-12-02',
      providers: { grey: { domains: ['grey.test'], seeds: [`gl-a-${tag}@grey.test`, `gl-b-${tag}@grey.test`] } },
      // postgrey waits 2 real seconds; at speed 3600, 3 plan hours are 3 real seconds.
      delivery: ['retry: { intervals: [3h], expire: 12h }'],
    });
    const run = await startDaemon(load(file), { from: '2026-12-01T08:00:00Z', speed: 3600 });
    const day = await until('both messages accepted', 30_000, async () => {
      const d = await run.db.selectFrom('lane_days').selectAll().executeTakeFirst();
      return d && d.accepted === 2 ? d : undefined;
    });
    const attempts = await run.db.selectFrom('attempts').select(['message_id', 'outcome', 'code', 'enhanced', 'reply', 'stage', 'retry']).orderBy('id').execute();
    await run.stop();
    // Greylisting is counted apart, not as a deferral; the retry that succeeds is counted too.
    expect(day).toMatchObject({ sent: 2, accepted: 2, deferred: 0, greylisted: 2, greylist_passed: 2, retries: 2 });
    const first = attempts.filter((a) => a.retry === 0);
    expect(first).toHaveLength(2);
    for (const a of first) {
      expect(a).toMatchObject({ outcome: 'deferred', code: 450, enhanced: '4.2.0', stage: 'rcpt' });
      expect(a.reply).toMatch(/Greylisted/);
    }
    expect(attempts.filter((a) => a.retry === 1).map((a) => a.outcome)).toEqual(['accepted', 'accepted']);
  }, 40_000);
});

describe('a per-client rate limit at the receiving MX', () => {
  it('turns excess mail from one IP into recorded 450s that are queued and retried, while another IP passes', async () => {
    const { file } = writePlan({
      name: 'ratelimit', ips: ['127.0.0.27', '127.0.0.28'], ramp: '{ daily: [10] }', launch: '2026-12-02',
      providers: { rl: { domains: ['ratelimit.test'], seeds: ['rl-a@ratelimit.test', 'rl-b@ratelimit.test'] } },
      delivery: ['retry: { intervals: [30m], expire: 12h }'],
      extra: '',
    });
    // 127.0.0.28 ramps at 3 a day: under the MX's 5 a minute.
    const text = (await import('node:fs')).readFileSync(file, 'utf8').replace('  - address: 127.0.0.28\n    ehlo: mta28.warmup.test', '  - address: 127.0.0.28\n    ehlo: mta28.warmup.test\n    ramp: { daily: [3] }');
    (await import('node:fs')).writeFileSync(file, text);
    // The run starts an hour (0.18 real s) before the window: a slow start-up does not cut the day to a pro rata share.
    const run = await startDaemon(load(file), { from: '2026-12-01T07:00:00Z', speed: 20_000 });
    await until('a retry of a rate-limited message after both days closed', 30_000, async () => {
      const r = await run.db.selectFrom('attempts').select('id').where('retry', '>', 0).executeTakeFirst();
      const open = await run.db.selectFrom('lane_days').select('lane_id').where('decision', 'is', null).executeTakeFirst();
      return r && !open ? r : undefined;
    });
    const rows = await run.db.selectFrom('attempts').innerJoin('lanes', 'lanes.id', 'attempts.lane_id')
      .select(['lanes.ip', 'attempts.outcome', 'attempts.code', 'attempts.enhanced', 'attempts.reply', 'attempts.retry', 'attempts.stage']).execute();
    const queued = await run.db.selectFrom('messages').select(['status', 'next_attempt_at']).where('status', '=', 'deferred').execute();
    await run.stop();
    const limited = rows.filter((r) => r.ip === '127.0.0.27' && r.outcome === 'deferred');
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]).toMatchObject({ code: 450, enhanced: '4.7.1', stage: 'mail' });
    expect(limited[0]!.reply).toMatch(/too much mail from 127\.0\.0\.27/);
    expect(rows.filter((r) => r.ip === '127.0.0.27' && r.outcome === 'accepted').length).toBeLessThanOrEqual(5);
    expect(rows.some((r) => r.ip === '127.0.0.27' && r.retry > 0)).toBe(true);
    expect(queued.every((m) => m.next_attempt_at !== null)).toBe(true);
    expect(rows.filter((r) => r.ip === '127.0.0.28').map((r) => r.outcome)).toEqual(['accepted', 'accepted', 'accepted']);
  }, 40_000);
});
