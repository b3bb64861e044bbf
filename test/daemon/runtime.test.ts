// The runtime's failure path: Postfix routing cannot listen (its address is taken by another
// socket). start() must fail with a clear, coded error and leave nothing running: the daemon
// stopped and its run ended, and no timer, server or socket of the runtime left behind.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, ALL_SERVICES } from '../../src/daemon/runtime.js';
import { createDnsResolver } from '../../src/dns/resolver.js';
import { openSqlite } from '../../src/store/open.js';
import { acceleratedClock } from '../../src/util/clock.js';
import { WarmupError } from '../../src/util/errors.js';
import { createLogger } from '../../src/util/log.js';
import { load, writePlan } from './harness.js';

const HOST = '127.0.0.243'; // this test's own address: the socket in the way and the webhook
const blocker = createTcpServer();
const webhook = createServer((_req, res) => res.end('ok'));
let blockedPort = 0;
let hookPort = 0;

beforeAll(async () => {
  await new Promise<void>((resolve) => blocker.listen(0, HOST, resolve));
  blockedPort = (blocker.address() as AddressInfo).port;
  await new Promise<void>((resolve) => webhook.listen(0, HOST, resolve));
  hookPort = (webhook.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => blocker.close(r));
  await new Promise((r) => webhook.close(r));
});

/** Active handles and requests by kind (Timeout, TCPServerWrap, TCPSocketWrap...) that keep the process alive. */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/**
 * Records every timer and interval created while it is on (unref'd ones too, which
 * getActiveResourcesInfo does not list): `pending()` lists those neither fired nor cleared,
 * `created()` how many were made since `reset()`.
 */
function trackTimers() {
  const real = { setTimeout: globalThis.setTimeout, setInterval: globalThis.setInterval, clearTimeout: globalThis.clearTimeout, clearInterval: globalThis.clearInterval };
  const live = new Map<unknown, { ms: number | undefined; interval: boolean; stack: string }>();
  let made: string[] = [];
  const key = (t: unknown) => (t && typeof t === 'object' && Symbol.toPrimitive in t ? Number(t) : t);
  const where = () => (new Error().stack ?? '').split('\n').slice(3, 6).join(' <- ').replace(/\s+/g, ' ');
  const g = globalThis as unknown as Record<string, unknown>;
  g.setTimeout = (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const t = real.setTimeout((...a: unknown[]) => { live.delete(key(t)); fn(...a); }, ms, ...args);
    live.set(key(t), { ms, interval: false, stack: where() });
    made.push(`timeout ${ms} ms from ${where()}`);
    return t;
  };
  g.setInterval = (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const t = real.setInterval(fn, ms, ...args);
    live.set(key(t), { ms, interval: true, stack: where() });
    made.push(`interval ${ms} ms from ${where()}`);
    return t;
  };
  g.clearTimeout = (t: Parameters<typeof clearTimeout>[0]) => { live.delete(key(t)); real.clearTimeout(t); };
  g.clearInterval = (t: Parameters<typeof clearInterval>[0]) => { live.delete(key(t)); real.clearInterval(t); };
  return {
    pending: () => [...live.values()].map((v) => ({ interval: v.interval, ms: v.ms, where: v.stack })),
    created: () => made,
    reset: () => { made = []; },
    restore: () => Object.assign(globalThis, real),
  };
}

describe('createRuntime when Postfix routing cannot listen', () => {
  it('start() fails with POSTFIX_LISTEN naming the address, after stopping the daemon and every service it had started', async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'warmup-pflisten-log-'));
    const maillog = join(logDir, 'maillog');
    writeFileSync(maillog, '');
    const { file } = writePlan({
      name: 'pflisten', ips: ['127.0.0.38'], launch: '2026-12-02',
      providers: { sink: { domains: ['sink.test'], seeds: ['pflisten@sink.test'] } },
      // The alert loop starts before Postfix routing: it must be stopped again.
      extra: `postfix:\n  listen: ${HOST}:${blockedPort}\n  log_file: ${maillog}\nalerts: { webhook: { url: "http://${HOST}:${hookPort}/hook" } }\n`,
    });
    const plan = load(file);
    expect(plan.postfix?.listen).toMatchObject({ host: HOST, port: blockedPort });

    const before = resources();
    const timers = trackTimers();
    const opened = await openSqlite(plan.storePath);
    // 03:00: before the sending window, so the first tick sends nothing.
    const clock = acceleratedClock(Date.parse('2026-12-01T03:00:00Z'), 1);
    const runtime = createRuntime({
      plan, store: opened.store, clock, log: createLogger({ level: 'silent' }), tickMs: 50, services: ALL_SERVICES,
      resolver: createDnsResolver({ servers: plan.delivery.dnsServers, timeoutMs: 1000, tries: 1 }),
    });

    const error = await runtime.start().then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(WarmupError);
    expect(error).toMatchObject({ code: 'POSTFIX_LISTEN' });
    expect((error as Error).message).toMatch(new RegExp(`EADDRINUSE.*${HOST.replace(/\./g, '\\.')}:${blockedPort}`));
    expect((error as Error & { cause?: { code?: string } }).cause?.code).toBe('EADDRINUSE');

    // The daemon stopped and its run is recorded as ended with the error; done has resolved.
    expect(await runtime.done).toBe('error');
    const run = await opened.db.selectFrom('runs').select(['ended_at', 'end_reason']).executeTakeFirstOrThrow();
    expect(run.end_reason).toBe('error');
    expect(run.ended_at).not.toBeNull();
    // The address is still the other socket's: nothing of the runtime listens there or anywhere else.
    expect(blocker.listening).toBe(true);

    await opened.store.close();
    // Whatever the runtime started is stopped: none of its loops (the ticker every 50 ms, the alert
    // poll every second, the log tailer every 200 ms) arms a timer any more, no interval is left, and
    // no server or socket keeps the process up, and no timer of warmup's is left pending (the drain's
    // timer is cleared once the sends in flight have finished).
    timers.reset();
    await new Promise((r) => setTimeout(r, 1_500));
    timers.restore();
    expect(timers.created().filter((t) => !t.includes('runtime.test.ts'))).toEqual([]);
    expect(timers.pending().filter((t) => t.interval || /src\/(daemon|send|store|postfix|ops|util)\//.test(t.where))).toEqual([]);
    const after = resources();
    // (no more than before: a timer of vitest's own may have ended meanwhile)
    for (const kind of ['Timeout', 'TCPServerWrap', 'TCPSocketWrap', 'PipeWrap', 'FSEventWrap', 'StatWatcher']) {
      expect(after[kind] ?? 0, `${kind} handles after the failed start`).toBeLessThanOrEqual(before[kind] ?? 0);
    }
  }, 30_000);
});
