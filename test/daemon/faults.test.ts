import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeDns } from '../dns/servers.js';
import { load, startDaemon, until, writePlan } from './harness.js';

/** A misbehaving MX on loopback: `blackhole` accepts and never greets; `busy` answers 421 and hangs up. */
const servers: Server[] = [];
const sockets = new Set<Socket>();
/** Set when a test is done with the blackhole: it hangs up on every connection from then on. */
let blackholeHangsUp = false;
function serve(host: string, port: number, onConnect: (s: Socket) => void): Promise<void> {
  const server = createServer((s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}); onConnect(s); });
  servers.push(server);
  return new Promise((resolve) => server.listen(port, host, resolve));
}
beforeAll(async () => {
  await serve('127.0.0.90', 2525, (s) => { if (blackholeHangsUp) s.destroy(); /* otherwise never says a word */ });
  await serve('127.0.0.91', 2525, (s) => s.end('421 4.7.0 mx.busy.test Too many connections, try again later\r\n'));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

describe('a dead, slow or misbehaving MX', () => {
  it('holds up only its own lane: the other lane of the same IP meets its target on time', async () => {
    const { file } = writePlan({
      name: 'slowmx', ips: ['127.0.0.29'], ramp: '{ daily: [10] }', launch: '2026-12-02',
      providers: {
        slow: { domains: ['slow.test'], seeds: ['x@slow.test'] },
        dead: { domains: ['dead.test'], seeds: ['x@dead.test'] },
        sink: { domains: ['sink.test'], seeds: ['slowmx@sink.test'] },
      },
      delivery: ['routes: { slow: "127.0.0.90:2525" }'],
      timeouts: '{ connect: 12s, greeting: 12s, command: 12s }',
    });
    // The blackhole accepts the connection and never greets: the send gives up at the shortest of the connect, greeting
    // and command timeouts (nodemailer's connection and socket timeouts also run until the greeting). All are 12 real
    // seconds here, the sink lane's whole window about 2.2 (a 2 s connect timeout, as the harness had, raced it): when the sink lane
    // has finished its day, the slow lane's first send is still waiting for a greeting, so the sink lane did not wait
    // behind it (measured from the sends, not from the daemon's start-up). Had it waited, it could not have finished
    // before the first timeout, however fast or loaded the machine. The run starts an hour (0.18 real s) before the
    // window, so that a slow start-up does not open the days late with a pro rata target of 9.
    const run = await startDaemon(load(file), { from: '2026-12-01T07:00:00Z', speed: 20_000 });
    const slowBeforeSinkDone = (await until('the sink lane to finish its day', 18_000, async () => {
      const d = await run.db.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
        .selectAll('lane_days').where('lanes.provider', '=', 'sink').executeTakeFirst();
      if (!(d && d.accepted === 10)) return undefined;
      const slow = await run.db.selectFrom('attempts').innerJoin('lanes', 'lanes.id', 'attempts.lane_id')
        .select('attempts.id').where('lanes.provider', '=', 'slow').execute();
      return { sink: d, slow: slow.length };
    }));
    const sink = slowBeforeSinkDone.sink;
    const slowAttempts = await until('the blackhole to time out', 30_000, async () => {
      const rows = await run.db.selectFrom('attempts').innerJoin('lanes', 'lanes.id', 'attempts.lane_id')
        .select(['attempts.outcome', 'attempts.stage', 'attempts.reply']).where('lanes.provider', '=', 'slow').execute();
      return rows.length > 0 ? rows : undefined;
    });
    const dead = await run.db.selectFrom('attempts').innerJoin('lanes', 'lanes.id', 'attempts.lane_id')
      .select(['attempts.outcome', 'attempts.stage']).where('lanes.provider', '=', 'dead').execute();
    // The slow lane's later sends would hold the drain for up to 12 s: the blackhole hangs up on them.
    blackholeHangsUp = true;
    for (const s of sockets) s.destroy();
    await run.stop();
    expect(sink).toMatchObject({ sent: 10, accepted: 10 });
    expect(slowBeforeSinkDone.slow).toBe(0);
    expect(slowAttempts[0]).toMatchObject({ outcome: 'timeout', stage: 'greeting' });
    expect(dead.length).toBeGreaterThan(0);
    // (Written to name the odd attempts when it fails.)
    expect(dead.filter((a) => !(a.outcome === 'network' && a.stage === 'connect'))).toEqual([]);
  }, 60_000);

  it('records a 421 greeting as a deferral and keeps retrying it', async () => {
    const { file } = writePlan({
      name: 'busymx', ips: ['127.0.0.31'], ramp: '{ daily: [3] }', launch: '2026-12-02',
      providers: { busy: { domains: ['busy.test'], seeds: ['x@busy.test'] } },
      delivery: ['routes: { busy: "127.0.0.91:2525" }', 'retry: { intervals: [10m], expire: 2h }'],
    });
    // 10 plan minutes are 300 real ms, six ticks: the retries do not depend on how fast ticks come.
    const run = await startDaemon(load(file), { from: '2026-12-01T08:00:00Z', speed: 2_000 });
    const rows = await until('retries of the 421', 15_000, async () => {
      const r = await run.db.selectFrom('attempts').selectAll().orderBy('id').execute();
      return r.some((a) => a.retry >= 2) ? r : undefined;
    });
    await run.stop();
    expect(rows[0]).toMatchObject({ outcome: 'deferred', code: 421, enhanced: '4.7.0', stage: 'greeting', mx_address: '127.0.0.91' });
    expect(rows[0]!.reply).toContain('Too many connections');
  }, 30_000);

  it('gives up on a message when the retries expire', async () => {
    const { file } = writePlan({
      name: 'expire', ips: ['127.0.0.32'], ramp: '{ daily: [1] }', launch: '2026-12-02',
      providers: { busy: { domains: ['busy.test'], seeds: ['x@busy.test'] } },
      delivery: ['routes: { busy: "127.0.0.91:2525" }', 'retry: { intervals: [10m], expire: 30m }'],
    });
    // At 20,000x a tick (50 real ms) is 17 plan minutes, more than the retry interval: under load
    // the message expired after 2 attempts. At 2,000x 10 minutes are six ticks; expiry after 0.9 s.
    const run = await startDaemon(load(file), { from: '2026-12-01T08:00:00Z', speed: 2_000 });
    const msg = await until('the message to expire', 15_000, async () => {
      const m = await run.db.selectFrom('messages').selectAll().executeTakeFirst();
      return m?.status === 'expired' ? m : undefined;
    });
    const day = await run.db.selectFrom('lane_days').selectAll().executeTakeFirstOrThrow();
    await run.stop();
    expect(msg.attempts).toBeGreaterThanOrEqual(3);
    expect(day.expired).toBe(1);
  }, 30_000);

  it('records a SERVFAIL from DNS as a deferral-class failure, retries it, and keeps the other lanes sending', async () => {
    const dns = await startFakeDns('127.0.0.92', 'servfail');
    try {
      const { file } = writePlan({
        name: 'servfail', ips: ['127.0.0.93'], ramp: '{ daily: [3] }', launch: '2026-12-02',
        providers: { sf: { domains: ['servfail.test'], seeds: ['x@servfail.test'] }, sink: { domains: ['sink.test'], seeds: ['sf@sink.test'] } },
        // The sink keeps a static route: only MX lookups for servfail.test reach the failing DNS.
        delivery: ['routes: { sink: "127.0.0.56:25" }', 'retry: { intervals: [10m], expire: 2h }'],
      });
      const fs = await import('node:fs');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/dns_servers: \[[^\]]*\]/, `dns_servers: ["${dns.server}"]`));
      const run = await startDaemon(load(file), { from: '2026-12-01T08:00:00Z', speed: 20_000 });
      const rows = await until('a retried SERVFAIL and the sink lane done', 20_000, async () => {
        const a = await run.db.selectFrom('attempts').innerJoin('lanes', 'lanes.id', 'attempts.lane_id').select(['lanes.provider', 'attempts.outcome', 'attempts.reply', 'attempts.retry']).execute();
        const sinkDone = a.filter((x) => x.provider === 'sink' && x.outcome === 'accepted').length === 3;
        return sinkDone && a.some((x) => x.provider === 'sf' && x.retry >= 1) ? a : undefined;
      });
      await run.stop();
      const sf = rows.filter((r) => r.provider === 'sf');
      expect(sf.every((r) => r.outcome === 'dns')).toBe(true);
      expect(sf[0]!.reply).toMatch(/^DNS_TEMPFAIL: /);
      expect(dns.queries()).toBeGreaterThan(0);
    } finally {
      await dns.stop();
    }
  }, 30_000);
});
