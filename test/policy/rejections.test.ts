/**
 * Hard rejections and greylisting end to end, against the real Postfix MX and
 * postgrey on loopback: an IP answered 554 is held within a few messages (by
 * the rejection breaker, or by a generic reputation rule), the hold names the
 * 554 reply in its event, in `warmup events` and in `warmup status`, while the
 * IP's other lane keeps sending; a lane greylisted by postgrey advances when
 * every message was accepted on retry.
 *
 * This file's addresses: sending IPs 127.0.0.171-174, verdict key `i17-rejections`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { setVerdicts } from '../peers/peers.js';
import { load, startDaemon, until, writePlan } from '../daemon/harness.js';

afterAll(async () => { await setVerdicts([], { key: 'i17-rejections' }); });

async function cli(...argv: string[]) {
  const io = memoryIo({}, process.cwd());
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe('hard rejections within the day', () => {
  it('holds the lane answered 554 within a few messages, names the reply, and lets the IP\'s other lane send', async () => {
    await setVerdicts([
      '127.0.0.171/32 554 5.7.1 Rejected: poor IP reputation',
      '127.0.0.173/32 554 5.7.1 Access denied',
    ], { key: 'i17-rejections' });
    const { file } = writePlan({
      name: 'rejections', ips: ['127.0.0.171', '127.0.0.173', '127.0.0.174'], ramp: '{ daily: [20] }', launch: '2026-12-02',
      providers: {
        pf: { domains: ['postfix.test'], seeds: ['rej-a@postfix.test', 'rej-b@postfix.test'] },
        sink: { domains: ['sink.test'], seeds: ['rej@sink.test'] },
      },
    });
    // The 12-hour window lasts 12 real seconds: 20 messages a lane, one every 36 plan minutes. The run starts 10 plan
    // minutes (167 real ms) before the window: a start-up slower than that would open the days late, pro rata. A lane's
    // last message may fall seconds before the window's end (171's sink lane: 19:59:51), and the daemon sends it up to
    // two ticks after the end: at 250 real ms a tick, a pass up to half a real second late still sends the whole day.
    const run = await startDaemon(load(file), { from: '2026-12-01T07:50:00Z', speed: 3600, tickMs: 250 });
    const days = await until('every lane\'s day decided', 60_000, async () => {
      const rows = await run.db.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
        .select(['lanes.ip', 'lanes.provider', 'lane_days.sent', 'lane_days.accepted', 'lane_days.bounced', 'lane_days.decision']).execute();
      return rows.length === 6 && rows.every((r) => r.decision !== null) ? rows : undefined;
    });
    const attempts = await run.db.selectFrom('attempts').innerJoin('lanes', 'lanes.id', 'attempts.lane_id')
      .select(['lanes.ip', 'lanes.provider', 'attempts.started_at', 'attempts.reply']).orderBy('attempts.id').execute();
    const events = await run.db.selectFrom('events').selectAll().orderBy('id').execute();
    await run.stop();

    const lane = (ip: string, provider: string) => days.find((d) => d.ip === ip && d.provider === provider)!;
    const tried = (ip: string) => attempts.filter((a) => a.ip === ip && a.provider === 'pf');
    // Breaker: held at the 5th rejection (its minimum sample), not at the day's end.
    const breaker = events.find((e) => e.ip === '127.0.0.173' && e.kind === 'rejection_breaker')!;
    expect(breaker).toMatchObject({ ip: '127.0.0.173', provider: 'pf', from_state: 'active', to_state: 'paused', actor: 'policy:rejection-breaker' });
    const breakerCause = JSON.parse(breaker.cause);
    expect(breakerCause.evidence).toEqual([{ reply: '554 5.7.1 <unknown[127.0.0.173]>: Client host rejected: Access denied', code: 554, enhanced: '5.7.1', count: 5 }]);
    expect(breakerCause.reason).toMatch(/^rejection-breaker: 5x 554 5\.7\.1 <unknown\[127\.0\.0\.173\]>: Client host rejected: Access denied \(rejection rate 100%: 5 of the last 5 answers\)$/);
    expect(tried('127.0.0.173').length).toBeLessThanOrEqual(6);
    // Five messages 36 plan minutes apart: held about three hours into the window, not at its end.
    expect(breaker.at - tried('127.0.0.173')[0]!.started_at).toBeLessThan(4 * 3_600_000);
    // A generic reputation rule: three matches (in six hours) hold the lane before the breaker would.
    const rule = events.find((e) => e.ip === '127.0.0.171' && e.kind === 'rule_pause')!;
    expect(rule).toMatchObject({ provider: 'pf', to_state: 'paused', actor: 'rule:generic-poor-reputation' });
    expect(JSON.parse(rule.cause).evidence).toEqual([{ reply: '554 5.7.1 <unknown[127.0.0.171]>: Client host rejected: Rejected: poor IP reputation', code: 554, enhanced: '5.7.1', count: 3 }]);
    expect(tried('127.0.0.171').length).toBeLessThanOrEqual(4);
    // The IPs' other lanes, and the clean IP, sent their whole day.
    for (const [ip, provider] of [['127.0.0.171', 'sink'], ['127.0.0.173', 'sink'], ['127.0.0.174', 'sink'], ['127.0.0.174', 'pf']] as const) {
      expect(lane(ip, provider)).toMatchObject({ sent: 20, accepted: 20, decision: 'advance' });
    }
    // The day-end decision names the reply too.
    const dayPause = events.find((e) => e.ip === '127.0.0.173' && e.kind === 'day_pause')!;
    expect(JSON.parse(dayPause.cause)).toMatchObject({ reason: expect.stringContaining('top replies: 5x 554 5.7.1 <unknown[127.0.0.173]>: Client host rejected: Access denied'), evidence: [expect.objectContaining({ count: 5 })] });

    // What the operator reads.
    const shown = await cli('events', file, '--ip', '127.0.0.173', '--provider', 'pf');
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/rejection_breaker +active -> paused +policy:rejection-breaker +rejection-breaker: 5x 554 5\.7\.1 <unknown\[127\.0\.0\.173\]>: Client host rejected: Access denied/);
    expect(shown.out).toMatch(/^ {4}> 5x 554 5\.7\.1 <unknown\[127\.0\.0\.173\]>: Client host rejected: Access denied$/m);
    const json = JSON.parse((await cli('events', file, '--kind', 'rejection_breaker', '--json')).out);
    expect(json).toEqual([expect.objectContaining({ ip: '127.0.0.173', cause: expect.objectContaining({ evidence: breakerCause.evidence }) })]);
    const status = await cli('status', file);
    expect(status.out).toMatch(/^ +127\.0\.0\.173 pf +paused: .*policy:rejection-breaker \(rejection-breaker: 5x 554 5\.7\.1 <unknown\[127\.0\.0\.173\]>: Client host rejected: Access denied/m);
    expect(status.out).toMatch(/^ +127\.0\.0\.171 pf +paused: .*rule:generic-poor-reputation \(generic-poor-reputation: 554 5\.7\.1 <unknown\[127\.0\.0\.171\]>: Client host rejected: Rejected: poor IP reputation\)/m);
  }, 90_000);
});

describe('greylisting', () => {
  it('a lane greylisted by postgrey advances when every message was accepted on retry', async () => {
    // postgrey remembers a (client, sender, recipient) it let through: a new recipient every run.
    const seed = `grey-${randomBytes(3).toString('hex')}@grey.test`;
    const { file } = writePlan({
      name: 'greyadv', ips: ['127.0.0.172'], ramp: '{ daily: [3] }', launch: '2026-12-02',
      providers: { grey: { domains: ['grey.test'], seeds: [seed] } },
      // postgrey lets a retry through 2 real seconds after the first try; at speed 600, 25 plan minutes are 2.5 s.
      delivery: ['retry: { intervals: [25m], expire: 12h }'],
    });
    // A two-hour window (12 real seconds): every retry falls inside it.
    writeFileSync(file, readFileSync(file, 'utf8').replace('window: { start: "08:00", end: "20:00" }', 'window: { start: "08:00", end: "10:00" }'));
    const run = await startDaemon(load(file), { from: '2026-12-01T07:59:00Z', speed: 600 });
    const day = await until('the day decided', 40_000, async () => {
      const d = await run.db.selectFrom('lane_days').selectAll().executeTakeFirst();
      return d?.decision ? d : undefined;
    });
    const attempts = await run.db.selectFrom('attempts').select(['outcome', 'code', 'enhanced', 'reply', 'retry']).orderBy('id').execute();
    const event = await run.db.selectFrom('events').selectAll().where('kind', 'like', 'day_%').executeTakeFirstOrThrow();
    await run.stop();

    expect(attempts[0]).toMatchObject({ outcome: 'deferred', code: 450, enhanced: '4.2.0', retry: 0 });
    expect(attempts[0]!.reply).toMatch(/Greylisted/);
    expect(attempts.filter((a) => a.outcome === 'accepted')).toHaveLength(3);
    // Counted and shown, but not a deferral: the lane advances.
    expect(day).toMatchObject({ sent: 3, accepted: 3, deferred: 0, decision: 'advance' });
    expect(day.greylisted).toBeGreaterThanOrEqual(1);
    expect(day.greylist_passed).toBe(day.greylisted > 0 ? attempts.filter((a) => a.retry > 0 && a.outcome === 'accepted').length : 0);
    const cause = JSON.parse(event.cause);
    expect(cause).toMatchObject({ greylisted: day.greylisted, greylistRate: expect.any(Number), deferralRate: 0 });
    expect(cause.reason).toMatch(/greylisted \(\d accepted on retry\)/);
    expect(cause.evidence[0]).toMatchObject({ code: 450, enhanced: '4.2.0', count: day.greylisted });
    const status = await cli('status', file);
    expect(status.out).toMatch(new RegExp(`^ +127\\.0\\.0\\.172 grey +greylisted ${day.greylisted}x \\(not deferrals; ${day.greylist_passed} accepted on retry\\)$`, 'm'));
  }, 60_000);
});
