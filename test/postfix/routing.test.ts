/**
 * Real mail through the production Postfix (test/peers/mta.sh): an application submits to it,
 * Postfix asks warmup for each recipient's transport, delivers from 127.0.0.15x to the test MX,
 * and warmup counts what Postfix's log says it delivered.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { installWarmupConfig, loadMta, mtaCtl, mtaLog, mtaQueue } from '../peers/mta.js';
import { readMaildir, setVerdicts } from '../peers/peers.js';
import { cli, configureMta, emptyMtaQueue, lockMta, query, runId, SOCKETMAP_PORT, startWarmup, submit, until, writeRoutingPlan, type Warmup } from './harness.js';

const today = new Date().toISOString().slice(0, 10);
const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
const midnight = (d: string) => `${d}T00:00:00Z`;

/** How many of these recipients' messages reached their mailbox at the test MX. */
async function delivered(recipients: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of recipients) {
    const [local, domain] = r.split('@') as [string, string];
    out.set(r, (await readMaildir(domain, local)).length);
  }
  return out;
}
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

interface LaneDay { ip: string; day: string; target: number; sent: number; routed: number; routed_accepted: number; routed_bounced: number }
const laneDays = (plan: Parameters<typeof query>[0]) => query<LaneDay>(plan, 'select l.ip, d.day, d.target, d.sent, d.routed, d.routed_accepted, d.routed_bounced from lane_days d join lanes l on l.id = d.lane_id order by d.day, l.ip');

let running: Warmup | null = null;
let unlock: (() => Promise<void>) | null = null;
beforeAll(async () => { loadMta(); unlock = await lockMta(); }, 11 * 60_000);
afterAll(async () => { await unlock?.(); });
afterEach(async (ctx) => {
  // A failed test leaves its daemon running: show what it said, and stop it so the next test can listen.
  if (running && ctx.task.result?.state === 'fail') console.error(running.output().split('\n').filter((l) => !l.includes('"component":"dnsbl"')).slice(-60).join('\n'));
  await running?.stop();
  running = null;
});

describe('warming up with real traffic through the production Postfix', () => {
  it('never lets a lane carry more than its room; defers the rest in Postfix; warmup down defers, nothing bounces; restarted the next day, the queue drains', async () => {
    const id = runId();
    const plan = writeRoutingPlan({ name: `room-${id}`, ips: ['127.0.0.151', '127.0.0.152'], providers: { mxone: ['postfix.test'] }, ramp: '{ daily: [3, 6, 5000] }', start: today });
    await configureMta(plan);
    await emptyMtaQueue();
    running = await startWarmup(plan, midnight(today));
    const first = Array.from({ length: 10 }, (_, i) => `rm${id}-${i}@postfix.test`);
    await submit(first);
    // 2 lanes x 3: six leave, four wait in Postfix's queue with warmup's reason.
    await until('six deliveries counted and four deferred', 40_000, async () => {
      const q = await mtaQueue();
      return total(await delivered(first)) === 6 && q.filter((r) => r.delayReason?.includes('warm-up capacity exhausted')).length === 4
        && query<{ n: number }>(plan, 'select count(*) n from attempts')[0]!.n === 6;
    });
    let days = laneDays(plan);
    expect(days.map((d) => [d.ip, d.target, d.sent, d.routed, d.routed_accepted])).toEqual([['127.0.0.151', 3, 3, 3, 3], ['127.0.0.152', 3, 3, 3, 3]]);
    // What left went from the lane's own IP (the MX's Received header names the client address).
    const byIp = query<{ ip: string; n: number }>(plan, "select l.ip, count(*) n from attempts a join lanes l on l.id = a.lane_id where a.outcome = 'accepted' group by l.ip");
    expect(byIp).toEqual([{ ip: '127.0.0.151', n: 3 }, { ip: '127.0.0.152', n: 3 }]);
    // warmup status shows routed mail beside seed sends, while the daemon runs.
    const status = JSON.parse(await cli('status', plan.file, '--json')) as { lanes: Array<{ ip: string; sent: number; routed: number; routedAccepted: number }> };
    expect(status.lanes.map((l) => [l.ip, l.sent, l.routed, l.routedAccepted])).toEqual([['127.0.0.151', 3, 3, 3], ['127.0.0.152', 3, 3, 3]]);
    expect(await cli('status', plan.file)).toMatch(/target +sent +seed +routed +accepted/);

    // warmup stops: Postfix cannot ask, defers, bounces nothing.
    expect(await running.stop()).toBe(0);
    running = null;
    const whileDown = [`rm${id}-down-a@postfix.test`, `rm${id}-down-b@postfix.test`];
    await submit(whileDown);
    await until('the mail submitted while warmup is down to be deferred', 30_000, async () => {
      const q = await mtaQueue();
      return whileDown.every((r) => q.some((e) => e.recipient === r && e.delayReason !== null));
    });
    const reasons = (await mtaQueue()).filter((e) => whileDown.includes(e.recipient)).map((e) => e.delayReason);
    expect(reasons.every((r) => /resolver|lookup/i.test(r ?? ''))).toBe(true);
    expect(total(await delivered(whileDown))).toBe(0);

    // Next day: the lanes advanced (3 of 3 accepted), 6 each; everything queued drains, once each.
    running = await startWarmup(plan, midnight(tomorrow));
    const all = [...first, ...whileDown];
    await until('the queue to drain', 60_000, async () => total(await delivered(all)) === 12);
    expect([...(await delivered(all)).values()].every((n) => n === 1)).toBe(true);
    // A delivery is recorded once warmup reads Postfix's log line for it, a moment after the mail lands.
    const recorded = () => laneDays(plan).filter((d) => d.day === tomorrow).reduce((a, d) => a + d.routed_accepted, 0);
    await until('the drained deliveries to be recorded from the log', 30_000, async () => recorded() >= 6);
    days = laneDays(plan).filter((d) => d.day === tomorrow);
    expect(days.map((d) => d.target)).toEqual([6, 6]);
    expect(days.every((d) => d.routed <= d.target)).toBe(true);
    expect(days.reduce((a, d) => a + d.routed_accepted, 0)).toBe(6);
    const log = (await mtaLog()).filter((l) => all.some((r) => l.includes(`to=<${r}>`)));
    expect(log.filter((l) => /status=bounced/.test(l))).toEqual([]);
    expect((await mtaQueue()).filter((e) => all.includes(e.recipient))).toEqual([]);
    await running.stop();
    running = null;
  }, 180_000);

  it('a 554 from the MX holds that lane at once, and the next messages for the provider leave from the other IP', async () => {
    const id = runId();
    const plan = writeRoutingPlan({
      name: `hold-${id}`, ips: ['127.0.0.153', '127.0.0.154'], providers: { mxone: ['postfix.test'] }, ramp: '{ daily: [50, 5000] }', start: today,
      extra: 'policy:\n  rules:\n    - { name: routing-test-block, match: "^554 ", action: pause }',
    });
    await configureMta(plan);
    await emptyMtaQueue();
    await setVerdicts(['127.0.0.153/32 554 5.7.1 blocked by the routing test'], { key: 'i13-routing' });
    try {
      running = await startWarmup(plan, midnight(today));
      const firstRcpt = `hb${id}-0@postfix.test`;
      await submit([firstRcpt]);
      await until('the 554 to hold lane 127.0.0.153', 30_000, () => query<{ state: string }>(plan, "select state from lanes where ip = '127.0.0.153'")[0]?.state === 'paused');
      const next = Array.from({ length: 6 }, (_, i) => `hb${id}-${i + 1}@postfix.test`);
      await submit(next);
      await until('six deliveries from 127.0.0.154, read from the log', 30_000, async () => total(await delivered(next)) === 6
        && query<{ n: number }>(plan, "select count(*) n from attempts where outcome = 'accepted'")[0]!.n === 6);
      const attempts = query<{ ip: string; outcome: string; reply: string }>(plan, 'select l.ip, a.outcome, a.reply from attempts a join lanes l on l.id = a.lane_id order by a.id');
      expect(attempts[0]).toMatchObject({ ip: '127.0.0.153', outcome: 'bounced' });
      expect(attempts[0]!.reply).toMatch(/^554 5\.7\.1 .*blocked by the routing test/);
      expect(attempts.slice(1).map((a) => [a.ip, a.outcome])).toEqual(Array(6).fill(['127.0.0.154', 'accepted']));
      const events = query<{ kind: string; actor: string; cause: string }>(plan, "select kind, actor, cause from events where ip = '127.0.0.153' and actor like 'rule:%'");
      expect(events[0]).toMatchObject({ actor: 'rule:routing-test-block' });
      // The event (and the alert made of it) says the reply came from real mail, not a seed send.
      expect(JSON.parse(events[0]!.cause)).toMatchObject({ source: 'routed', rule: 'routing-test-block' });
      await running.stop();
      running = null;
    } finally {
      await setVerdicts([], { key: 'i13-routing' });
    }
  }, 120_000);

  it('sends what no lane has room for through the plan\'s overflow transport (the IPs that are already warm)', async () => {
    const id = runId();
    const plan = writeRoutingPlan({ name: `over-${id}`, ips: ['127.0.0.155'], providers: { mxone: ['postfix.test'] }, ramp: '{ daily: [2, 5000] }', start: today, overflow: loadMta().overflowTransport });
    await configureMta(plan);
    await emptyMtaQueue();
    running = await startWarmup(plan, midnight(today));
    const rcpts = Array.from({ length: 5 }, (_, i) => `ov${id}-${i}@postfix.test`);
    await submit(rcpts);
    await until('all five delivered, the lane\'s two read from the log', 30_000, async () => total(await delivered(rcpts)) === 5
      && query<{ n: number }>(plan, 'select count(*) n from attempts')[0]!.n === 2);
    const log = (await mtaLog()).filter((l) => rcpts.some((r) => l.includes(`to=<${r}>`)) && l.includes('status=sent'));
    expect(log.filter((l) => l.includes('postfix-warmup/127.0.0.155/smtp['))).toHaveLength(2);
    expect(log.filter((l) => l.includes(' postfix/warm/smtp['))).toHaveLength(3);
    expect(laneDays(plan).map((d) => [d.target, d.routed, d.routed_accepted])).toEqual([[2, 2, 2]]);
    await running.stop();
    running = null;
  }, 90_000);

  it('loses no attempt when Postfix rotates its log mid-run', async () => {
    const id = runId();
    const plan = writeRoutingPlan({ name: `rot-${id}`, ips: ['127.0.0.156', '127.0.0.157'], providers: { mxone: ['postfix.test'] }, ramp: '{ daily: [100, 5000] }', start: today });
    await configureMta(plan);
    await emptyMtaQueue();
    running = await startWarmup(plan, midnight(today));
    const before = Array.from({ length: 8 }, (_, i) => `lr${id}-a${i}@postfix.test`);
    const after = Array.from({ length: 8 }, (_, i) => `lr${id}-b${i}@postfix.test`);
    await submit(before);
    await until('the first batch delivered', 30_000, async () => total(await delivered(before)) === 8);
    const dir = path.dirname(loadMta().logFile);
    const filesBefore = await readdir(dir);
    await mtaCtl('logrotate');
    await submit(after);
    await until('every delivery counted', 40_000, () => query<{ n: number }>(plan, "select count(*) n from attempts where outcome = 'accepted'")[0]!.n === 16);
    expect((await readdir(dir)).length).toBeGreaterThan(filesBefore.length);
    const rows = query<{ recipient: string; n: number }>(plan, 'select recipient, count(*) n from messages group by recipient order by recipient');
    expect(rows.map((r) => r.recipient)).toEqual([...before, ...after].sort());
    expect(rows.every((r) => r.n === 1)).toBe(true);
    await running.stop();
    running = null;
  }, 90_000);

  it('says at error level that Postfix cannot reach it (transport_maps names a wrong address), while the mail waits deferred', async () => {
    const id = runId();
    const plan = writeRoutingPlan({ name: `unreach-${id}`, ips: ['127.0.0.151'], providers: { mxone: ['postfix.test'] }, ramp: '{ daily: [50] }', start: today });
    // The operator's slip: main.cf names a port warmup does not listen on (nothing does).
    const main = (await cli('postfix', plan.file, '--main')).replace(`socketmap:inet:127.0.0.1:${SOCKETMAP_PORT}:`, 'socketmap:inet:127.0.0.1:10119:');
    expect(main).toContain(':10119:');
    await installWarmupConfig(main, await cli('postfix', plan.file, '--master'));
    await emptyMtaQueue();
    running = await startWarmup(plan, midnight(today));
    const rcpt = `un${id}@postfix.test`;
    await submit([rcpt]);
    const said = () => running!.output().split('\n').find((l) => l.includes('Postfix could not ask warmup for transports'));
    await until('warmup to say that Postfix cannot reach it', 40_000, () => said() !== undefined);
    expect(JSON.parse(said()!)).toMatchObject({ level: 50, failures: expect.any(Number), socketmap: { kind: 'inet', port: SOCKETMAP_PORT } });
    await until('the message to wait deferred in Postfix', 30_000, async () => (await mtaQueue()).some((e) => e.recipient === rcpt && e.delayReason !== null));
    expect((await mtaQueue()).find((e) => e.recipient === rcpt)!.delayReason).toMatch(/address resolver failure/);
    expect(total(await delivered([rcpt]))).toBe(0);
    await emptyMtaQueue();
  }, 120_000);
});

