import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertPayload, alertType, backoffMs, signBody, type EventRow } from '../../src/alerts/alert.js';
import { AlertForwarder } from '../../src/alerts/forwarder.js';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { openSqlite, type OpenedSqlite } from '../../src/store/open.js';
import { openPostgres } from '../../src/store/postgres.js';
import * as q from '../../src/store/queries.js';
import { manualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { createPostgresDatabase } from '../peers/peers.js';

// This file's own server address.
const HOST = '127.0.0.100';
const T0 = Date.parse('2026-12-02T09:00:00Z');

const event = (over: Partial<EventRow>): EventRow => ({
  id: 1, at: T0, plan: 'p', lane_id: 1, ip: '127.0.0.41', provider: 'gmail', kind: 'paused', from_state: 'active', to_state: 'paused', actor: 'policy', cause: '{"reason":"bounce rate 12%"}', ...over,
});

describe('alertType', () => {
  it.each([
    ['a policy pause', { kind: 'paused' }, 'pause'],
    ['an operator pause', { kind: 'operator_pause', actor: 'operator' }, 'pause'],
    ['a DNSBL listing', { kind: 'dnsbl_listed', actor: 'dnsbl' }, 'dnsbl_listed'],
    ['a de-listing', { kind: 'dnsbl_clear', from_state: null, to_state: null }, 'dnsbl_clear'],
    ['a resume', { kind: 'operator_resume', from_state: 'paused', to_state: 'active' }, 'resume'],
    ['a block reply', { kind: 'block', from_state: 'active', to_state: 'suspended' }, 'block'],
    ['the rejection breaker holding a lane', { kind: 'rejection_breaker', actor: 'policy:rejection-breaker', from_state: 'active', to_state: 'paused', cause: '{"hold":{"kind":"breaker","actor":"policy:rejection-breaker","until":null,"change":"added"},"evidence":[{"reply":"554 5.7.1 denied","code":554,"enhanced":"5.7.1","count":5}]}' }, 'hold_added'],
    ['a launch forecast falling behind', { kind: 'behind_for_launch', from_state: null, to_state: null }, 'behind_for_launch'],
    ['a suspension lapsing', { kind: 'active', from_state: 'suspended', to_state: 'active' }, null],
    ['a suspension', { kind: 'suspended', from_state: 'active', to_state: 'suspended' }, null],
    ['a day-end decision', { kind: 'day_advance', from_state: null, to_state: null }, null],
    ['a hold added (a rule suspension)', { kind: 'rule_suspend', from_state: 'active', to_state: 'suspended', cause: '{"hold":{"kind":"rule","actor":"rule:x","until":5,"change":"added"}}' }, 'hold_added'],
    ['a hold added on a lane already held', { kind: 'operator_pause', from_state: 'paused', to_state: 'paused', cause: '{"hold":{"kind":"operator","actor":"operator","until":null,"change":"added"}}' }, 'hold_added'],
    ['a hold lapsing', { kind: 'hold_lapsed', from_state: 'suspended', to_state: 'active', cause: '{"hold":{"kind":"rule","actor":"rule:x","until":5,"change":"lapsed"}}' }, 'hold_removed'],
    ['a hold removed while another stays', { kind: 'operator_resume', from_state: 'paused', to_state: 'paused', cause: '{"hold":{"kind":"operator","actor":"operator","until":null,"change":"removed"}}' }, 'hold_removed'],
    ['a hold extended', { kind: 'hold_extended', from_state: 'suspended', to_state: 'suspended', cause: '{"hold":{"kind":"rule","actor":"rule:x","until":9,"change":"extended"}}' }, null],
  ] as const)('%s is %s', (_t, over, type) => {
    expect(alertType(event(over))).toBe(type);
  });

  it('a fleet daemon falling silent, and its IPs taken back, alert with the IPs', () => {
    const cause = JSON.stringify({ reason: '127.0.0.5, 127.0.0.6 unattended: the daemon of host b (pid 7) stopped heartbeating 2s ago', ips: ['127.0.0.5', '127.0.0.6'], host: 'b' });
    const silent = event({ kind: 'ips_unattended', lane_id: null, ip: null, provider: null, from_state: 'attended', to_state: 'unattended', actor: 'fleet:a', cause });
    expect(alertType(silent)).toBe('ips_unattended');
    expect(alertPayload(silent)?.text).toBe('[warmup p] ips unattended 127.0.0.5, 127.0.0.6: 127.0.0.5, 127.0.0.6 unattended: the daemon of host b (pid 7) stopped heartbeating 2s ago (by fleet:a)');
    expect(alertType({ ...silent, kind: 'ips_attended' })).toBe('ips_attended');
  });

  it('builds a payload with the parsed cause and a one-line text', () => {
    expect(alertPayload(event({}))).toMatchObject({
      id: 1, type: 'pause', plan: 'p', at: '2026-12-02T09:00:00.000Z', ip: '127.0.0.41', provider: 'gmail',
      cause: { reason: 'bounce rate 12%' }, text: '[warmup p] pause 127.0.0.41 -> gmail: bounce rate 12% (by policy)',
    });
  });

  it('signs the exact body with HMAC-SHA256 (RFC 4231 test case 2)', () => {
    expect(signBody('what do ya want for nothing?', 'Jefe')).toBe('sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it.each([[1, 100], [2, 200], [3, 400], [10, 5000]])('waits %i failures -> %i ms (capped at 5000)', (n, ms) => {
    expect(backoffMs(n, 100, 5000)).toBe(ms);
  });
});

describe('AlertForwarder with a real HTTP server', () => {
  let server: Server;
  let port: number;
  let failFirst = 0;
  const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  let attempts = 0;
  let store: OpenedSqlite;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        attempts++;
        if (failFirst > 0) {
          failFirst--;
          res.writeHead(503).end('busy');
          return;
        }
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, HOST, r));
    port = (server.address() as AddressInfo).port;
    store = await openSqlite(':memory:');
  });
  afterAll(async () => {
    await store.close();
    await new Promise((r) => server.close(r));
  });

  function plan(name: string, url: string): Plan {
    const r = loadPlan(`name: ${name}
timezone: UTC
start: 2026-12-01
launch: 2026-12-10
sender:
  from: { address: hello@news.warmup.test }
  unsubscribe: { url: "https://news.warmup.test/u" }
ips: [{ address: 127.0.0.41, ehlo: mta41.warmup.test }]
providers:
  postfix: { domains: [postfix.test], seeds: [a@postfix.test] }
alerts:
  webhook: { url: "${url}", secret_env: WARMUP_TEST_HOOK_SECRET }
`);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.plan;
  }

  function logger() {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ level: 'debug', destination: new Writable({ write(c, _e, cb) { lines.push(JSON.parse(String(c))); cb(); } }) });
    return { log, lines };
  }

  it('retries with backoff until the endpoint accepts, signs each body, and logs every alert at warn', async () => {
    const p = plan('alerts-retry', `http://${HOST}:${port}/hook`);
    const clock = manualClock(T0);
    const { log, lines } = logger();
    await q.ensureLanes(store.db, p.name, [{ ip: '127.0.0.41', provider: 'postfix' }], T0 - 1000);
    // Before the forwarder exists: not re-sent as an alert.
    await q.addHold(store.db, p.name, { ip: '127.0.0.41' }, { kind: 'operator', actor: 'operator', reason: 'old', until: null }, T0 - 500);
    const fwd = new AlertForwarder({ plan: p, store: store.store, clock, log, env: { WARMUP_TEST_HOOK_SECRET: 's3cret' }, retry: { baseMs: 20, maxMs: 100, attempts: 10 } });
    await q.addHold(store.db, p.name, { ip: '127.0.0.41' }, { kind: 'dnsbl', actor: 'dnsbl', reason: 'listed in zen', until: null, eventKind: 'dnsbl_listed', cause: { zone: 'zen.dnsbl.test' } }, T0);
    await q.addEvent(store.db, { at: T0 + 1, plan: p.name, ip: '127.0.0.41', kind: 'dnsbl_clear', actor: 'dnsbl' });
    await q.removeHolds(store.db, p.name, { ip: '127.0.0.41' }, { kinds: ['operator'], by: 'operator', reason: 'ok', eventKind: 'operator_resume' }, T0 + 2);
    failFirst = 3;
    attempts = 0;
    const started = Date.now();
    expect(await fwd.poll()).toBe(3);
    // poll() returned while the endpoint was still failing: delivery is in the background.
    expect(fwd.pending).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(1000);
    await fwd.idle(10_000);
    expect(fwd.pending).toBe(0);
    expect(attempts).toBe(6);
    const bodies = received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(bodies.map((b) => b.type)).toEqual(['dnsbl_listed', 'dnsbl_clear', 'hold_removed']);
    expect(bodies[0]).toMatchObject({ plan: 'alerts-retry', ip: '127.0.0.41', provider: 'postfix', actor: 'dnsbl', cause: { zone: 'zen.dnsbl.test', reason: 'listed in zen' } });
    for (const r of received) {
      expect(r.headers['x-warmup-signature']).toBe(signBody(r.body, 's3cret'));
      expect(r.headers['content-type']).toBe('application/json');
    }
    expect(lines.filter((l) => l.level === 40 && (l.alert as { type?: string } | undefined)?.type).map((l) => (l.alert as { type: string }).type))
      .toEqual(['dnsbl_listed', 'dnsbl_clear', 'hold_removed']);
    // Nothing new: nothing re-sent.
    expect(await fwd.poll()).toBe(0);
    fwd.stop();
  });

  it('never throws into the caller: an unreachable endpoint and a closed database are logged', async () => {
    const p = plan('alerts-down', `http://${HOST}:1/hook`);
    const clock = manualClock(T0);
    const { log, lines } = logger();
    const own = await openSqlite(':memory:');
    await q.ensureLanes(own.db, p.name, [{ ip: '127.0.0.41', provider: 'postfix' }], T0);
    const fwd = new AlertForwarder({ plan: p, store: own.store, clock, log, env: {}, retry: { baseMs: 10, maxMs: 20, attempts: 3 } });
    await q.addHold(own.db, p.name, {}, { kind: 'policy', actor: 'policy', reason: 'x', until: null }, T0);
    expect(await fwd.poll()).toBe(1);
    await fwd.idle(5_000);
    expect(lines.some((l) => l.level === 50 && /secret_env names an unset variable/.test(String(l.msg)))).toBe(true);
    expect(lines.some((l) => l.level === 50 && /given up/.test(String(l.msg)))).toBe(true);
    await own.close();
    await expect(fwd.poll()).resolves.toBe(0);
    expect(lines.some((l) => l.level === 50 && /reading events for alerts failed/.test(String(l.msg)))).toBe(true);
    fwd.stop();
  });

  it('PostgreSQL: an event whose transaction commits after a newer one was read is alerted at the next poll', async () => {
    const p = plan('alerts-late', `http://${HOST}:${port}/hook`);
    const clock = manualClock(T0);
    const { log } = logger();
    const url = await createPostgresDatabase('late_alerts');
    const daemon = await openPostgres(url);
    const writer = await openPostgres(url);
    const gate = new pg.Client({ connectionString: url });
    await gate.connect();
    try {
      await daemon.store.ensureLanes(p.name, [{ ip: '127.0.0.41', provider: 'postfix' }], T0);
      const fwd = new AlertForwarder({ plan: p, store: daemon.store, clock, log, env: { WARMUP_TEST_HOOK_SECRET: 's' }, afterId: await daemon.store.lastEventId() });
      // The pause's commit waits at a gate (a deferred trigger on its event takes a lock this test holds): its id is taken, its commit not done.
      await gate.query(`create function wait_at_gate() returns trigger language plpgsql as $$ begin perform pg_advisory_xact_lock_shared(4243); return null; end $$`);
      await gate.query(`create constraint trigger gate after insert on events deferrable initially deferred for each row when (new.kind = 'operator_pause') execute function wait_at_gate()`);
      await gate.query('select pg_advisory_lock(4243)');
      const pausing = writer.store.addHold(p.name, { ip: '127.0.0.41' }, { kind: 'operator', actor: 'operator', reason: 'late', until: null, eventKind: 'operator_pause' }, T0);
      for (let i = 0; ; i++) {
        const { rows } = await gate.query(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and wait_event = 'advisory'`);
        if (rows[0].n > 0) break;
        if (i > 500) throw new Error('the pause never reached its commit');
        await new Promise((r) => setTimeout(r, 10));
      }
      // A newer event commits first and is alerted; the pause is not visible yet.
      await writer.store.addEvent({ at: T0 + 1, plan: p.name, ip: '127.0.0.41', kind: 'dnsbl_clear', actor: 'dnsbl' });
      expect(await fwd.poll()).toBe(1);
      await gate.query('select pg_advisory_unlock(4243)');
      await pausing;
      expect(await fwd.poll()).toBe(1);
      expect(await fwd.poll()).toBe(0);
      await fwd.idle(5_000);
      expect(received.slice(-2).map((r) => (JSON.parse(r.body) as { type: string }).type)).toEqual(['dnsbl_clear', 'hold_added']);
      fwd.stop();
    } finally {
      await gate.end();
      await writer.store.close();
      await daemon.store.close();
    }
  });
});
