/**
 * IMAP servers that misbehave: one that never greets (timeout, and stop()
 * must not wait for it) and one that greets with BYE (too many connections).
 * Raw TCP servers on this file's own addresses (127.0.0.142, 127.0.0.143).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PlacementPoller } from '../../src/placement/poller.js';
import { manualClock } from '../../src/util/clock.js';
import { INBOX_IP, memoryLogger, openWorld, placementPlan, sendWarmup, type World } from './helpers.js';

const SILENT = '127.0.0.142';
const BYE = '127.0.0.143';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A server on host:143 that runs `onConnection` for each client; records the sockets. */
async function rawServer(host: string, onConnection: (s: net.Socket) => void): Promise<{ sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => { sockets.push(s); s.on('error', () => {}); onConnection(s); });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(143, host, resolve));
  cleanup.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { sockets };
}

async function world(name: string, host: string, address: string): Promise<{ w: World; poller: (opts?: { greetingMs?: number }) => PlacementPoller; clock: ReturnType<typeof manualClock> }> {
  const clock = manualClock(Date.now());
  const { plan, env } = placementPlan({ name, seeds: [{ address, host }] });
  const w = await openWorld(plan, clock);
  cleanup.push(() => w.close());
  await sendWarmup(w, clock, INBOX_IP, address, { send: false });
  return {
    w, clock,
    poller: (opts = {}) => new PlacementPoller({ plan, store: w.store.store, clock, log: memoryLogger().log, env, timeouts: { greetingMs: opts.greetingMs ?? 30_000 } }),
  };
}

describe('IMAP faults', () => {
  it('records a server that never greets as a timeout and backs off', async () => {
    await rawServer(SILENT, () => {});
    const { w, poller, clock } = await world('pl-silent', SILENT, 'seed1@postfix.test');
    const summary = await poller({ greetingMs: 300 }).pollOnce();
    expect(summary.mailboxes[0]).toMatchObject({ status: 'error', error: { code: 'IMAP_TIMEOUT' }, failures: 1, retryAt: clock.now() + 300_000 });
    const [event] = await w.store.db.selectFrom('events').selectAll().where('kind', '=', 'imap_error').execute();
    expect(JSON.parse(event!.cause)).toMatchObject({ mailbox: 'seed1@postfix.test', code: 'IMAP_TIMEOUT', host: SILENT });
  });

  it('stop() drops a connection that hangs instead of waiting for its timeout', async () => {
    const server = await rawServer(SILENT, () => {});
    const { poller } = await world('pl-stop', SILENT, 'seed1@postfix.test');
    const p = poller({ greetingMs: 60_000 });
    p.start();
    while (server.sockets.length === 0) await new Promise((r) => setTimeout(r, 20));
    const closed = new Promise<void>((r) => server.sockets[0]!.once('close', () => r()));
    await p.stop();
    await closed;
    expect(server.sockets[0]!.destroyed).toBe(true);
  });

  it('records a BYE greeting (too many connections) as throttling and retries with backoff', async () => {
    await rawServer(BYE, (s) => s.end('* BYE [UNAVAILABLE] Too many connections from your IP\r\n'));
    const { poller, clock } = await world('pl-bye', BYE, 'seed1@postfix.test');
    const p = poller();
    const first = await p.pollOnce();
    expect(first.mailboxes[0]).toMatchObject({ status: 'error', failures: 1 });
    expect(first.mailboxes[0]!.error).toMatchObject({ code: 'IMAP_THROTTLED', message: expect.stringContaining('Too many connections') });
    clock.advance(300_000);
    expect((await p.pollOnce()).mailboxes[0]).toMatchObject({ status: 'error', failures: 2, retryAt: clock.now() + 600_000 });
  });
});
