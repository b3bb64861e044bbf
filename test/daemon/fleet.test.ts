/**
 * The fleet's proof: three `warmup start` processes on one machine (hosts a,
 * b, c with disjoint source IPs 127.0.0.2-4, .5-7, .8-10) run one plan against
 * one database and the Postfix MX over an accelerated day. Every lane-day is
 * decided exactly once, the database's counts equal the MX's, `warmup status`
 * shows all nine IPs with their hosts; `kill -9` of one daemon gets its IPs
 * reported unattended within two heartbeats while the other two keep sending;
 * restarted, it takes its IPs back and recovers its own messages left in
 * flight, never the others'. `warmup report` shows the fleet: who sends from
 * which IP, b's IPs unattended and taken back, and each host's volume.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/store/schema.js';
import { until } from './harness.js';
import { cli, deliveries, FLEET_HOSTS, FLEET_STORES, startMember, writeFleetPlan, type Proc } from './fleet-harness.js';

const SPEED = 1_200; // the 12-hour window lasts 36 real seconds: room for a restart on a busy machine
const HEARTBEAT_MS = 1_000;
const FROM = '2026-12-01T02:00:00Z'; // 18 real seconds before the window: time for three daemons to start on a busy machine
const PER_LANE = 30;

const procs = new Set<Proc>();
afterAll(() => { for (const p of procs) p.child.kill('SIGKILL'); });

function member(file: string, host: string): Proc {
  const p = startMember(file, host, { from: FROM, speed: SPEED, heartbeatMs: HEARTBEAT_MS });
  procs.add(p);
  void p.exited.then(() => procs.delete(p));
  return p;
}

describe.each(FLEET_STORES)('a fleet of three daemons on one $name database', (where) => {
  it('decides every lane-day once, counts what the MX got, survives kill -9 of one daemon and takes its IPs back', async () => {
    const plan = await writeFleetPlan({ name: 'fleet', perLane: PER_LANE, store: where });
    const db = plan.store;
    const read = <T>(store: string, fn: (d: Db) => Promise<T>): Promise<T> => where.read(store, fn);
    const leases = () => read(db, (d) => d.selectFrom('ip_leases').selectAll().orderBy('ip').execute()).catch(() => []);
    const ipsOf = (host: string) => [...FLEET_HOSTS[host]!];

    // a first, so the others join its clock; then b and c.
    const a = member(plan.file, 'a');
    await until('a to run', 30_000, async () => (await leases()).length === 3 && await read(db, (d) => d.selectFrom('runs').select('id').executeTakeFirst()));
    let b = member(plan.file, 'b');
    const c = member(plan.file, 'c');
    const all = await until('nine IPs leased', 30_000, async () => { const l = await leases(); return l.length === 9 && l; });
    expect(Object.fromEntries(all.map((l) => [l.ip, l.host]))).toEqual(Object.fromEntries(Object.entries(FLEET_HOSTS).flatMap(([h, ips]) => ips.map((ip) => [ip, h]))));

    // status from any of them (one database): all nine IPs, each with its host and a fresh heartbeat.
    const status = await cli(['status', plan.file, '--json']);
    expect(status.code).toBe(0);
    const fleet = (JSON.parse(status.out) as { fleet: { ips: Array<{ ip: string; host: string; attended: boolean }>; daemons: Array<{ host: string }> } }).fleet;
    expect(fleet.ips.map((i) => [i.ip, i.host, i.attended])).toEqual(Object.entries(FLEET_HOSTS).flatMap(([h, ips]) => ips.map((ip) => [ip, h, true])));
    expect(fleet.daemons.map((d) => d.host)).toEqual(['a', 'b', 'c']);
    const text = await cli(['status', plan.file]);
    expect(text.out).toMatch(/Fleet: 3 daemons, 9 of 9 IPs attended/);

    // Mid-day: kill -9 b.
    const bLanes = await read(db, (d) => d.selectFrom('lanes').select('id').where('ip', 'in', ipsOf('b')).execute()).then((r) => r.map((x) => x.id));
    await until('b to send', 30_000, async () => (await read(db, (d) => d.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('lane_id', 'in', bLanes).executeTakeFirstOrThrow())).n >= 20);
    const bPid = b.child.pid!;
    b.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect((await b.exited).signal).toBe('SIGKILL');
    const inFlightAtCrash = Number((await read(db, (d) => d.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('lane_id', 'in', bLanes).where('status', '=', 'in_flight').executeTakeFirstOrThrow())).n);
    const sentBy = async (host: string) => Number((await read(db, (d) => d.selectFrom('messages').innerJoin('lanes', 'lanes.id', 'messages.lane_id')
      .select((eb) => eb.fn.countAll<number>().as('n')).where('lanes.ip', 'in', ipsOf(host)).executeTakeFirstOrThrow())).n);
    const before = { a: await sentBy('a'), c: await sentBy('c') };

    // Its IPs are reported unattended (one event naming them) within two heartbeats.
    const unattended = await until('the unattended event', 10_000, () => read(db, (d) => d.selectFrom('events').selectAll().where('kind', '=', 'ips_unattended').executeTakeFirst()));
    const reportedAfter = Date.now() - killedAt;
    expect(reportedAfter).toBeLessThanOrEqual(2 * HEARTBEAT_MS + 250);
    expect(JSON.parse(unattended.cause)).toMatchObject({ ips: ipsOf('b'), host: 'b', pid: bPid });
    const during = await cli(['status', plan.file, '--json']);
    const duringFleet = (JSON.parse(during.out) as { fleet: { ips: Array<{ ip: string; attended: boolean }> } }).fleet;
    expect(duringFleet.ips.filter((i) => !i.attended).map((i) => i.ip)).toEqual(ipsOf('b'));

    // The other two keep sending.
    await until('a and c to keep sending', 10_000, async () => await sentBy('a') > before.a && await sentBy('c') > before.c);

    // Restarted, b takes its IPs back and recovers its own messages left in flight.
    b = member(plan.file, 'b');
    await until('b to take its IPs back', 20_000, async () => (await leases()).filter((l) => l.host === 'b' && l.pid === b.child.pid && l.unattended_at === null).length === 3);
    const attended = await read(db, (d) => d.selectFrom('events').selectAll().where('kind', '=', 'ips_attended').execute());
    expect(attended.map((e) => JSON.parse(e.cause))).toEqual([expect.objectContaining({ ips: ipsOf('b'), host: 'b', pid: b.child.pid })]);
    // Stamped on the fleet's clock that b joined, after the event it answers (not at b's own --from).
    expect(attended[0]!.at).toBeGreaterThanOrEqual(unattended.at);
    expect(attended[0]!.at).toBeGreaterThan(Date.parse(FROM));
    const fleetReport = async () => {
      const out = join(dirname(plan.file), 'report.html');
      const r = await cli(['report', plan.file, '--out', out]);
      expect(r.code, r.err).toBe(0);
      const html = readFileSync(out, 'utf8');
      return html.slice(html.indexOf('<h2>Fleet</h2>'), html.indexOf('<h2>Launch readiness</h2>'));
    };
    const running = await fleetReport();
    expect(running).toContain('3 hosts (a, b, c); now 3 daemons, 9 of 9 IPs attended.');
    expect(running).toContain(`<td>b</td><td class="num">${b.child.pid}</td><td>${ipsOf('b').join(' ')}</td>`);

    for (const p of [a, b, c]) expect(await p.exited).toEqual({ code: 0, signal: null });

    // Every lane-day decided, exactly once (one day_* event each), and nothing else undone.
    const days = await read(db, (d) => d.selectFrom('lane_days').innerJoin('lanes', 'lanes.id', 'lane_days.lane_id')
      .select(['lanes.ip', 'lane_days.lane_id', 'lane_days.day', 'lane_days.sent', 'lane_days.accepted', 'lane_days.decision']).orderBy('lanes.ip').execute());
    expect(days).toHaveLength(9);
    for (const d of days) expect(d).toMatchObject({ sent: PER_LANE, accepted: PER_LANE, decision: 'advance' });
    const decisions = await read(db, (d) => d.selectFrom('events').select(['lane_id']).where('kind', 'like', 'day_%').execute());
    expect(decisions.map((e) => e.lane_id).sort()).toEqual(days.map((d) => d.lane_id).sort());
    expect(await read(db, (d) => d.selectFrom('messages').select('id').where('status', '!=', 'accepted').execute())).toEqual([]);

    // The MX got every message; only b's messages in flight at the crash may have arrived twice.
    const got = await deliveries(plan.seeds);
    expect(got.size).toBe(9 * PER_LANE);
    const twice = [...got.values()].filter((m) => m.n > 1);
    expect(twice.length).toBeLessThanOrEqual(inFlightAtCrash);
    expect(twice.every((m) => ipsOf('b').includes(m.ip ?? '') && m.n === 2)).toBe(true);
    // Interrupted attempts (recovery) only on b's lanes: a's and c's messages were never re-queued.
    const interrupted = await read(db, (d) => d.selectFrom('attempts').select('lane_id').where('outcome', '=', 'interrupted').execute());
    expect(interrupted.length).toBe(inFlightAtCrash);
    expect(interrupted.every((r) => bLanes.includes(r.lane_id))).toBe(true);

    // Periodic DNSBL passes over the nine IPs: at most one per interval across the fleet.
    const passes = await read(db, (d) => d.selectFrom('dnsbl_results').select('at').select((eb) => eb.fn.countAll<number>().as('n')).groupBy('at').orderBy('at').execute());
    const full = passes.filter((p) => Number(p.n) === 9).map((p) => Number(p.at));
    expect(full.length).toBeGreaterThan(0);
    // (A pass is stamped when its answers are in, a little after its claim: count them, not their spacing.)
    const runs = await read(db, (d) => d.selectFrom('runs').select(['started_at', 'ended_at']).execute());
    const span = Math.max(...runs.map((r) => Number(r.ended_at ?? r.started_at))) - Math.min(...runs.map((r) => Number(r.started_at)));
    expect(full.length).toBeLessThanOrEqual(Math.ceil(span / (2 * 3_600_000)) + 1);
    // Clean stops gave every lease up.
    expect(await leases()).toEqual([]);

    // The report after the run: nobody holds an IP now; b's IPs went unattended once and b took them
    // back; each host's volume is its pinned IPs' (every message accepted, b's retries among its attempts).
    const after = await fleetReport();
    expect(after).toContain('3 hosts (a, b, c); now 0 daemons, 0 of 9 IPs attended');
    expect(after).toContain('1 time unattended (3 IPs), 1 time taken back (3 IPs), 0 times taken over (0 IPs).');
    for (const h of ['a', 'b', 'c']) {
      expect(after).toMatch(new RegExp(`<tr><td>${h}</td><td>${ipsOf(h).join(' ').replaceAll('.', '\\.')}</td><td class="num">${3 * PER_LANE}</td><td class="num">\\d+</td><td class="num">${3 * PER_LANE}</td>`));
    }
  }, 180_000);
});
