import { dkimVerify } from 'mailauth';
import { afterAll, describe, expect, it } from 'vitest';
import { dkimRecord } from '../../src/cli/commands/keygen.js';
import { addDnsRecords, readMaildir, removeDnsRecords, restartDnsmasq, testResolver } from '../peers/peers.js';
import { load, startDaemon, until, writePlan } from './harness.js';

describe('an accelerated multi-day run against the Postfix MX', () => {
  const { file, pem } = writePlan({
    name: 'multiday', ips: ['127.0.0.20', '127.0.0.21'], dkim: true,
    providers: { postfix: { domains: ['postfix.test'], seeds: ['md-a@postfix.test', 'md-b@postfix.test'] } },
  });
  afterAll(async () => { await removeDnsRecords('multiday-dkim'); await restartDnsmasq(); });

  it('sends each lane its target every day from its own IP, advances, signs with DKIM and completes', async () => {
    await addDnsRecords('multiday-dkim', `txt-record=t1._domainkey.news.warmup.test,${dkimRecord(pem!).map((p) => `"${p}"`).join(',')}\n`);
    await restartDnsmasq();
    const plan = load(file);
    // Three plan days in about nine real seconds.
    const run = await startDaemon(plan, { from: '2026-12-01T07:59:00Z', speed: 30_000 });
    const reason = await Promise.race([run.daemon.stopped, until('the run to end', 40_000, () => false)]);
    expect(reason).toBe('plan complete');
    const days = await run.db.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
      .select(['lanes.ip', 'lane_days.day', 'lane_days.stage', 'lane_days.target', 'lane_days.sent', 'lane_days.accepted', 'lane_days.decision'])
      .orderBy('lanes.ip').orderBy('lane_days.day').execute();
    await run.stop();
    expect(days).toEqual(['127.0.0.20', '127.0.0.21'].flatMap((ip) => [
      { ip, day: '2026-12-01', stage: 1, target: 4, sent: 4, accepted: 4, decision: 'advance' },
      { ip, day: '2026-12-02', stage: 2, target: 6, sent: 6, accepted: 6, decision: 'advance' },
      { ip, day: '2026-12-03', stage: 3, target: 8, sent: 8, accepted: 8, decision: 'advance' },
    ]));

    const arrived = [...await readMaildir('postfix.test', 'md-a'), ...await readMaildir('postfix.test', 'md-b')];
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
    const run = await startDaemon(load(file), { from: '2026-12-01T14:00:00Z', speed: 10_000 });
    const day = await until('the day to close', 20_000, async () => {
      const d = await run.db.selectFrom('lane_days').selectAll().executeTakeFirst();
      return d?.decision ? d : undefined;
    });
    await run.stop();
    // The clock started at 14:00 (it runs on while the daemon starts): about 6 of the
    // window's 12 hours are left, so about half of 40, spread from the first tick to 20:00.
    const left = Date.parse('2026-12-01T20:00:00Z') - day.spread_from;
    expect(day.spread_from).toBeGreaterThanOrEqual(Date.parse('2026-12-01T14:00:00Z'));
    expect(day.spread_until).toBe(Date.parse('2026-12-01T20:00:00Z'));
    expect(day.target).toBe(Math.round((40 * left) / (12 * 3_600_000)));
    expect(day.target).toBeGreaterThanOrEqual(15);
    expect(day.target).toBeLessThanOrEqual(20);
    expect(day).toMatchObject({ sent: day.target, accepted: day.target });
  }, 30_000);
});
