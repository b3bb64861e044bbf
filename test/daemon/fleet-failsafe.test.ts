/**
 * A fleet daemon cut off from its database stops sending before another takes its IPs over, with
 * real processes: two `warmup start` of one plan on the PostgreSQL peer (hosts a and b, one pinned
 * IP each and one floating IP), a reaching the database through a loopback TCP proxy of the test's.
 * Mid-day the proxy holds every byte both ways with the sockets open (a network partition: a's
 * queries hang, nothing fails), b takes the floating IP over, then the proxy delivers what it held
 * and forwards again (the partition heals, as TCP would after retransmitting). Who sent what is
 * read from each copy at the MX (each host's plan puts its name in the From header), when it
 * arrived from the MX's Maildir file names (delivery time to the microsecond).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/store/schema.js';
import { loadPeers, readMaildir } from '../peers/peers.js';
import { until } from './harness.js';
import { FLEET_STORES, startMember, writeFleetPlan, type Proc } from './fleet-harness.js';

const SPEED = 1_200; // the 12-hour window lasts 36 real seconds
const HEARTBEAT_MS = 1_000;
const FROM = '2026-12-01T06:00:00Z'; // 6 real seconds before the window: a starts, b joins
const PER_LANE = 150; // one message per lane about every quarter of a real second
const HOSTS = { a: ['127.0.0.21'], b: ['127.0.0.22'], '*': ['127.0.0.23'] } as const;
const [A, B, F] = [HOSTS.a[0], HOSTS.b[0], HOSTS['*'][0]];

/**
 * A loopback TCP proxy to PostgreSQL that can be cut: while cut it keeps every socket open and
 * holds the bytes of both directions (new connections are accepted and held too); healed, it
 * delivers what it held, in order, and forwards again.
 */
class PartitionProxy {
  readonly #server: Server;
  readonly #pairs = new Set<{ flush: () => void; close: () => void }>();
  #cut = false;
  constructor(target: { host: string; port: number }) {
    this.#server = createServer((client) => {
      const upstream = connect(target.port, target.host);
      const held: Array<[Socket, Buffer]> = [];
      const pass = (to: Socket) => (d: Buffer) => { if (this.#cut) held.push([to, d]); else to.write(d); };
      client.on('data', pass(upstream));
      upstream.on('data', pass(client));
      const pair = {
        flush: () => { for (const [to, d] of held.splice(0)) to.write(d); },
        close: () => { client.destroy(); upstream.destroy(); },
      };
      const end = () => { pair.close(); this.#pairs.delete(pair); };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
      this.#pairs.add(pair);
    });
  }
  listen(): Promise<number> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve((this.#server.address() as { port: number }).port)));
  }
  cut(): void { this.#cut = true; }
  heal(): void {
    this.#cut = false;
    for (const p of this.#pairs) p.flush();
  }
  close(): void {
    for (const p of this.#pairs) p.close();
    this.#server.close();
  }
}

const procs = new Set<Proc>();
const proxies = new Set<PartitionProxy>();
afterAll(() => {
  for (const p of procs) p.child.kill('SIGKILL');
  for (const p of proxies) p.close();
});

/** The MX's copies of a run's messages: source IP, sending host (the From name), arrival (ms; the Maildir file name's seconds.microseconds). */
async function arrivals(seeds: readonly string[]): Promise<Array<{ ip: string; host: string; at: number }>> {
  const out: Array<{ ip: string; host: string; at: number }> = [];
  for (const s of seeds) {
    for (const m of await readMaildir('postfix.test', s)) {
      const raw = m.raw.toString('latin1');
      const ip = /\(unknown \[(127\.0\.0\.\d+)\]\)/.exec(raw)?.[1];
      const host = /^From: Warmup Test (\w+) </m.exec(raw)?.[1];
      const t = /\/(\d+)\.M(\d+)P/.exec(m.file);
      if (ip && host && t) out.push({ ip, host, at: Number(t[1]) * 1000 + Number(t[2]) / 1000 });
    }
  }
  return out.sort((x, y) => x.at - y.at);
}

const pgStore = FLEET_STORES.find((s) => s.name === 'PostgreSQL');

describe.skipIf(!pgStore)('a fleet daemon cut off from its PostgreSQL database', () => {
  it('stops sending from its IPs before b takes the floating one over, and after the partition heals sends from its own only', async () => {
    const where = pgStore!;
    const plan = await writeFleetPlan({ name: 'failsafe', perLane: PER_LANE, store: where, hosts: HOSTS });
    const read = <T>(fn: (d: Db) => Promise<T>): Promise<T> => where.read(plan.store, fn);
    const leases = () => read((d) => d.selectFrom('ip_leases').select(['ip', 'host']).orderBy('ip').execute()).catch(() => []);
    const leased = async () => Object.fromEntries((await leases()).map((l) => [l.ip, l.host]));

    const pgPeer = loadPeers().postgres!;
    const proxy = new PartitionProxy(pgPeer);
    proxies.add(proxy);
    const port = await proxy.listen();
    const url = new URL(/url: "(.*)"/.exec(plan.store)![1]!);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    url.searchParams.set('sslmode', 'disable'); // the proxy pipes bytes: no TLS to negotiate through it
    // One plan, a copy per host: a's reaches the database through the proxy, and each signs its
    // messages with its host in the From name, so the MX's copies say who sent them (a message b
    // recovers from a's and sends again carries b's name).
    const text = readFileSync(plan.file, 'utf8');
    const fileOf = (host: string, store: string) => {
      const f = join(plan.dir, `plan-${host}.yaml`);
      writeFileSync(f, text.replace('name: Warmup Test }', `name: Warmup Test ${host} }`).replace(/^store: .*$/m, `store: ${store}`));
      return f;
    };
    const files = { a: fileOf('a', `{ url: "${url.href}" }`), b: fileOf('b', plan.store) };
    const member = (host: 'a' | 'b'): Proc => {
      const p = startMember(files[host], host, { from: FROM, speed: SPEED, heartbeatMs: HEARTBEAT_MS });
      procs.add(p);
      void p.exited.then(() => procs.delete(p));
      return p;
    };
    const got = async (host: string, ip: string, after = 0) => (await arrivals(plan.seeds)).filter((m) => m.host === host && m.ip === ip && m.at > after).length;

    // a first, so the floating IP is a's; then b, with its pinned IP only.
    const a = member('a');
    await until('a to lease its IP and the floating one', 30_000, async () => { const l = await leased(); return l[A] === 'a' && l[F] === 'a'; });
    const b = member('b');
    await until('b to lease its IP', 30_000, async () => (await leased())[B] === 'b');
    await until('a to send from the floating IP', 40_000, async () => await got('a', F) >= 5);

    // The partition: a's queries hang (its lease renewals too), nothing fails.
    proxy.cut();
    const cutAt = Date.now();
    await until('b to take the floating IP over', 20_000, async () => (await leased())[F] === 'b');
    const attended = await read((d) => d.selectFrom('events').select('cause').where('kind', '=', 'ips_attended').execute());
    expect(attended.map((e) => JSON.parse(e.cause) as unknown))
      .toEqual([expect.objectContaining({ ips: [F], host: 'b', from: [expect.objectContaining({ ip: F, host: 'a' })] })]);
    await until('b to send from the floating IP', 20_000, async () => await got('b', F) >= 5);

    // Healed: what a's queries waited for arrives, and a goes on from its own IP.
    proxy.heal();
    const healedAt = Date.now();
    await until('a to send from its own IP again', 20_000, async () => await got('a', A, healedAt) >= 3);
    await until('b to go on sending from the floating IP', 20_000, async () => await got('b', F, healedAt) >= 5);
    expect(await leased()).toEqual({ [A]: 'a', [B]: 'b', [F]: 'b' });
    for (const p of [a, b]) p.child.kill('SIGTERM');
    for (const p of [a, b]) expect(await p.exited).toEqual({ code: 0, signal: null });

    const all = await arrivals(plan.seeds);
    const fromF = (host: string) => all.filter((m) => m.ip === F && m.host === host).map((m) => m.at);
    const [byA, byB] = [fromF('a'), fromF('b')];
    const seen = JSON.stringify({ cutAt, healedAt, aLast: byA.slice(-3), bFirst: byB.slice(0, 3) });
    expect(byA.length).toBeGreaterThanOrEqual(5);
    expect(byB.length).toBeGreaterThanOrEqual(10);
    // The key property: no interval in which both sent from the floating IP. Every copy a sent
    // from it reached the MX before the first one b sent from it.
    expect(byA.at(-1)!, seen).toBeLessThan(byB[0]!);
    // (So none after the partition healed either: b sent from it before.)
    expect(byA.filter((t) => t > healedAt), seen).toEqual([]);
  }, 120_000);
});
