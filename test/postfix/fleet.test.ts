/**
 * Routing real mail in a fleet: two `warmup start` processes (hosts a and b, disjoint pinned IPs,
 * one floating IP) run one plan against one PostgreSQL database, each answering its own host's
 * Postfix. Each router answers only with lanes of the IPs its daemon holds a lease on (a lease lost
 * stops routing through that IP), and each reads its own Postfix log, fed here from a file per
 * host as Postfix writes it (one production-MTA peer cannot be two hosts' Postfixes), keeping its
 * own position across a restart.
 */
import { appendFileSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/store/schema.js';
import { FLEET_STORES, startMember, type Proc } from '../daemon/fleet-harness.js';
import { socketmapClient, until } from './harness.js';

const PORTS = { a: 10123, b: 10124 } as const;
const HEARTBEAT_MS = 500;
const IPS = { a: ['127.0.0.2', '127.0.0.3'], b: ['127.0.0.5', '127.0.0.6'] } as const;
const FLOATING = '127.0.0.7';
const pgStore = FLEET_STORES.find((s) => s.name === 'PostgreSQL');

const procs = new Set<Proc>();
afterAll(() => { for (const p of procs) { p.child.kill('SIGCONT'); p.child.kill('SIGKILL'); } });

/** One plan text per host: the same name, IPs and database; each host's own socketmap listener and Postfix log. */
function writePlans(dir: string, name: string, store: string): Record<'a' | 'b', string> {
  const ips = [...IPS.a.map((ip) => [ip, 'a']), ...IPS.b.map((ip) => [ip, 'b']), [FLOATING, null]] as const;
  const plan = (host: 'a' | 'b') => `name: ${name}
timezone: UTC
start: 2026-12-01
launch: 2026-12-15
window: { start: "00:00", end: "24:00" }
sender:
  from: { address: news@warmup.test }
  unsubscribe: { url: "https://warmup.test/u" }
ips:
${ips.map(([ip, h]) => `  - { address: ${ip}, ehlo: mta${ip.split('.')[3]}.warmup.test${h ? `, host: ${h}` : ''} }`).join('\n')}
providers:
  gmail:
    domains: [gmail.test]
    ramp: { daily: [1000] }
delivery: { dns_servers: [127.0.0.60] }
dnsbl: { zones: [broken.dnsbl.test], interval: 2h }
store: ${store}
postfix:
  listen: 127.0.0.1:${PORTS[host]}
  log_file: ${path.join(dir, `maillog-${host}`)}
`;
  const files = { a: path.join(dir, 'a.yaml'), b: path.join(dir, 'b.yaml') };
  for (const h of ['a', 'b'] as const) writeFileSync(files[h], plan(h));
  return files;
}

/** A delivery line of a warmup transport as Postfix 3.7 writes it. */
function line(ip: string, queueId: string, rcpt: string, status: 'sent' | 'deferred'): string {
  const reply = status === 'sent' ? 'dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1A2B3C)' : 'dsn=4.7.0, status=deferred (host mx.gmail.test[127.0.0.53] said: 421 4.7.0 try again later (in reply to RCPT TO command))';
  return `Dec  1 10:00:01 mta postfix-warmup/${ip}/smtp[4242]: ${queueId}: to=<${rcpt}>, relay=mx.gmail.test[127.0.0.53]:25, delay=0.1, delays=0/0/0.05/0.05, ${reply}\n`;
}

async function start(file: string, host: 'a' | 'b'): Promise<Proc> {
  const p = startMember(file, host, { from: '2026-12-01T10:00:00Z', speed: 1, heartbeatMs: HEARTBEAT_MS, tickMs: 100 });
  procs.add(p);
  void p.exited.then(() => procs.delete(p));
  await until(`${host} to answer Postfix`, 30_000, () => p.stdout().includes('routing real mail for Postfix') || (p.child.exitCode !== null && Promise.reject(new Error(`warmup start --host ${host} exited:\n${p.stdout()}${p.stderr()}`))));
  return p;
}

/** The transports a host's router answers for `n` new recipients (reservations spread them over its lanes). */
async function answers(host: 'a' | 'b', tag: string, n = 12): Promise<Set<string>> {
  const c = await socketmapClient({ host: '127.0.0.1', port: PORTS[host] });
  try {
    const out = new Set<string>();
    for (let i = 0; i < n; i++) out.add(await c.ask(`warmup ${tag}${i}@gmail.test`));
    return out;
  } finally {
    c.end();
  }
}
const transports = (ips: readonly string[]) => new Set(ips.map((ip) => `OK warmup_${ip.replaceAll('.', '_')}:`));

describe.skipIf(!pgStore)('routing real mail in a fleet of two daemons on one PostgreSQL database', () => {
  it('each router answers only with the IPs its daemon holds, and each host keeps its own log position', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warmup-fleet-route-'));
    const store = await pgStore!.store(dir);
    const files = writePlans(dir, `fleet-route-${randomBytes(3).toString('hex')}`, store);
    const logs = { a: path.join(dir, 'maillog-a'), b: path.join(dir, 'maillog-b') };
    for (const h of ['a', 'b'] as const) writeFileSync(logs[h], '');
    const read = <T>(fn: (d: Db) => Promise<T>): Promise<T> => pgStore!.read(store, fn);
    const positions = () => read((d) => d.selectFrom('postfix_log').select(['host', 'offset']).orderBy('host').execute());
    const sizes = () => [{ host: 'a', offset: statSync(logs.a).size }, { host: 'b', offset: statSync(logs.b).size }];

    // a first: it takes the floating IP as well.
    const a = await start(files.a, 'a');
    let b = await start(files.b, 'b');
    expect(await answers('a', 'a1-')).toEqual(transports([...IPS.a, FLOATING]));
    expect(await answers('b', 'b1-')).toEqual(transports(IPS.b));

    // Each Postfix logs its own deliveries; each daemon records its own log's and keeps its position.
    appendFileSync(logs.a, line('127.0.0.2', 'QA1', 'u0@gmail.test', 'sent') + line('127.0.0.3', 'QA2', 'u1@gmail.test', 'deferred'));
    appendFileSync(logs.b, line('127.0.0.5', 'QB1', 'v0@gmail.test', 'sent'));
    await until('both positions saved', 20_000, async () => JSON.stringify(await positions()) === JSON.stringify(sizes()));

    // a stalls: b takes the floating IP over and routes through it; a, back, lost it and routes through its own only.
    a.child.kill('SIGSTOP');
    await until(`b routes through ${FLOATING}`, 20_000, async () => (await answers('b', `b2-${Date.now()}-`, 3)).has(`OK warmup_${FLOATING.replaceAll('.', '_')}:`));
    a.child.kill('SIGCONT');
    await until('a to notice its lost lease', 20_000, () => a.stdout().includes('another daemon took over IPs'));
    expect(await answers('a', 'a3-')).toEqual(transports(IPS.a));

    // b restarts while its Postfix and a's log more: each daemon reads exactly its own new lines.
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
    appendFileSync(logs.b, line('127.0.0.6', 'QB2', 'v1@gmail.test', 'sent'));
    appendFileSync(logs.a, line('127.0.0.2', 'QA3', 'u2@gmail.test', 'sent'));
    b = await start(files.b, 'b');
    await until('both positions saved again', 20_000, async () => JSON.stringify(await positions()) === JSON.stringify(sizes()));
    const routed = await read((d) => d.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
      .select(['lanes.ip', 'messages.recipient', 'messages.host', 'messages.status']).where('messages.source', '=', 'routed').orderBy('messages.recipient').execute());
    expect(routed).toEqual([
      { ip: '127.0.0.2', recipient: 'u0@gmail.test', host: 'a', status: 'accepted' },
      { ip: '127.0.0.3', recipient: 'u1@gmail.test', host: 'a', status: 'deferred' },
      { ip: '127.0.0.2', recipient: 'u2@gmail.test', host: 'a', status: 'accepted' },
      { ip: '127.0.0.5', recipient: 'v0@gmail.test', host: 'b', status: 'accepted' },
      { ip: '127.0.0.6', recipient: 'v1@gmail.test', host: 'b', status: 'accepted' },
    ]);
    // Every line counted once in its lane's day, whichever host logged it.
    const days = await read((d) => d.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
      .select(['lanes.ip', 'lane_days.routed']).where('lane_days.routed', '>', 0).orderBy('lanes.ip').execute());
    expect(days).toEqual([{ ip: '127.0.0.2', routed: 2 }, { ip: '127.0.0.3', routed: 1 }, { ip: '127.0.0.5', routed: 1 }, { ip: '127.0.0.6', routed: 1 }]);

    for (const p of [a, b]) p.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect((await b.exited).code).toBe(0);
  }, 180_000);
});
