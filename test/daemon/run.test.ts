import { randomUUID } from 'node:crypto';
import { dkimVerify } from 'mailauth';
import { afterAll, describe, expect, it } from 'vitest';
import { dkimRecord } from '../../src/cli/commands/keygen.js';
import { addDnsRecords, readMaildir, removeDnsRecords, restartDnsmasq, testResolver, waitForMxQueue } from '../peers/peers.js';
import { load, startDaemon, until, warmSigner, writePlan } from './harness.js';

/** Seeds of this run's own: the MX's Maildirs outlive a run, so a re-run against the same peers counts only its mail. */
const RUN = randomUUID().slice(0, 8);

describe('an accelerated multi-day run against the Postfix MX', () => {
  const seeds = [`md-a-${RUN}`, `md-b-${RUN}`];
  const { file, pem } = writePlan({
    name: 'multiday', ips: ['127.0.0.20', '127.0.0.21'], dkim: true,
    providers: { postfix: { domains: ['postfix.test'], seeds: seeds.map((l) => `${l}@postfix.test`) } },
  });
  afterAll(async () => { await removeDnsRecords('multiday-dkim'); await restartDnsmasq(); });

  it('sends each lane its target every day from its own IP, advances, signs with DKIM and completes', async () => {
    await addDnsRecords('multiday-dkim', `txt-record=t1._domainkey.news.warmup.test,${dkimRecord(pem!).map((p) => `"${p}"`).join(',')}\n`);
    await restartDnsmasq();
    const plan = load(file);
    // Three plan days in about nine real seconds: the signing workers start before the clock does
    // (under load their start-up took 15 plan hours, and day 1 closed before its mail was sent).
    const signer = await warmSigner(pem!);
    const run = await startDaemon(plan, { from: '2026-12-01T07:59:00Z', speed: 30_000, signer });
    const reason = await Promise.race([run.daemon.stopped, until('the run to end', 40_000, () => false)]);
    expect(reason).toBe('plan complete');
    const days = await run.db.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
      .select(['lanes.ip', 'lane_days.day', 'lane_days.stage', 'lane_days.target', 'lane_days.sent', 'lane_days.accepted', 'lane_days.decision'])
      .orderBy('lanes.ip').orderBy('lane_days.day').execute();
    await run.stop();
    await signer.close();
    expect(days).toEqual(['127.0.0.20', '127.0.0.21'].flatMap((ip) => [
      { ip, day: '2026-12-01', stage: 1, target: 4, sent: 4, accepted: 4, decision: 'advance' },
      { ip, day: '2026-12-02', stage: 2, target: 6, sent: 6, accepted: 6, decision: 'advance' },
      { ip, day: '2026-12-03', stage: 3, target: 8, sent: 8, accepted: 8, decision: 'advance' },
    ]));

    // Every message the MX accepted has left its queue for the Maildir before anything is counted.
    await waitForMxQueue(seeds.map((l) => `${l}@postfix.test`));
    const arrived = [...await readMaildir('postfix.test', seeds[0]!), ...await readMaildir('postfix.test', seeds[1]!)];
    expect(arrived).toHaveLength(36);
    const raw = arrived[0]!.raw.toString('latin1');
    expect(raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    expect(raw).toMatch(/^X-Warmup-Id: wu-\d+-2026120\d-\d+-[0-9a-f]{8}$/im);
    expect(raw).toMatch(/^Message-ID: <wu-[^@]+@news\.warmup\.test>$/m);
    // Postfix wrote the connecting client: the lane's own source address and EHLO name.
    expect(raw).toMatch(/from mta2[01]\.warmup\.test \(unknown \[127\.0\.0\.2[01]\]\)/);
    const resolver = testResolver();
    const verified = await dkimVerify(arrived[0]!.raw, { resolver: async (name: string) => resolver.resolveTxt(name) });
    expect(verified.results[0]!.status.result).toBe('pass');
    expect(verified.results[0]!.signingDomain).toBe('news.warmup.test');
  }, 60_000);
});

describe('starting mid-day', () => {
  it('sends the rest of the day pro rata, spread over what is left of the window', async () => {
    const { file } = writePlan({
      name: 'midday', ips: ['127.0.0.22'], ramp: '{ daily: [40] }',
      providers: { sink: { domains: ['sink.test'], seeds: ['mid@sink.test'] } },
    });
    const run = await startDaemon(load(file), { from: '2026-12-01T14:00:00Z', speed: 5_000 });
    // The clock runs on while the daemon starts: the day opens at the first tick, whenever that
    // is on a loaded machine. When the test first sees the day, the clock is past its opening.
    const seenAt = await until('the day to open', 10_000, async () => {
      const d = await run.db.selectFrom('lane_days').select('lane_id').executeTakeFirst();
      return d ? run.clock.now() : undefined;
    });
    const day = await until('the day to close', 20_000, async () => {
      const d = await run.db.selectFrom('lane_days').selectAll().executeTakeFirst();
      return d?.decision ? d : undefined;
    });
    await run.stop();
    // Started at 14:00: at most 6 of the window's 12 hours are left, so at most half of 40, in
    // proportion to what was left at the first tick, spread from the first tick to 20:00.
    const left = Date.parse('2026-12-01T20:00:00Z') - day.spread_from;
    expect(day.spread_from).toBeGreaterThanOrEqual(Date.parse('2026-12-01T14:00:00Z'));
    expect(day.spread_from).toBeLessThanOrEqual(seenAt);
    expect(day.spread_until).toBe(Date.parse('2026-12-01T20:00:00Z'));
    expect(day.target).toBe(Math.round((40 * left) / (12 * 3_600_000)));
    expect(day.target).toBeLessThanOrEqual(20);
    // (a pro-rata share worth checking: the first tick came within 3 of the 6 hours, 2.2 real seconds)
    expect(day.target).toBeGreaterThanOrEqual(10);
    expect(day).toMatchObject({ sent: day.target, accepted: day.target });
  }, 30_000);
});
