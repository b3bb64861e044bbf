/**
 * One racer of test/store/lease-race.test.ts: a separate OS process with a
 * store of its own (a PostgreSQL URL or a SQLite file, argv[2]) that runs the
 * store's IP lease operations when told to.
 *
 * Protocol, one JSON line each way: the parent sends an operation, the racer
 * answers `{"armed":true}` with the operation parsed and ready; the parent
 * sends `go` to every racer once all are armed (the barrier), and each racer
 * answers `{"result":...}` or `{"error":"..."}`. Times come from the parent
 * (no clock here): `now` is part of each operation.
 */
import { createInterface } from 'node:readline';
import { openStore } from '../../src/store/open.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';

export type RacerOp =
  | { readonly op: 'acquire'; readonly plan: string; readonly ips: readonly string[]; readonly host: string; readonly pid: number; readonly token: string; readonly now: number; readonly staleMs: number; readonly deadPids?: readonly number[] }
  | { readonly op: 'renew'; readonly plan: string; readonly token: string; readonly now: number }
  | { readonly op: 'release'; readonly plan: string; readonly token: string; readonly ips?: readonly string[] };

/** What an operation gave: the IPs it took (acquire, with the previous holder's host) or still holds (renew). */
export interface RacerResult {
  readonly taken?: ReadonlyArray<{ readonly ip: string; readonly from: string | null }>;
  readonly held?: readonly string[];
  readonly renewed?: readonly string[];
  /** How many times PostgreSQL aborted it as a deadlock victim before it went through (it is retried, as the next heartbeat would). */
  readonly deadlocks: number;
}

async function run(store: Store, o: RacerOp): Promise<Omit<RacerResult, 'deadlocks'>> {
  switch (o.op) {
    case 'acquire': {
      const dead = new Set(o.deadPids ?? []);
      const r = await store.acquireIpLeases(o.plan, o.ips, { host: o.host, pid: o.pid, token: o.token, now: o.now, staleMs: o.staleMs, alive: (pid) => !dead.has(pid) });
      return { taken: r.taken.map((t) => ({ ip: t.ip, from: t.from?.host ?? null })), held: r.held.map((h) => h.ip) };
    }
    case 'renew': return { renewed: await store.renewIpLeases(o.plan, o.token, o.now) };
    case 'release': await store.releaseIpLeases(o.plan, o.token, o.ips); return {};
  }
}

async function main(): Promise<void> {
  const where = process.argv[2]!;
  const store = where.startsWith('postgres://') ? await openPostgresStore(where) : await openStore(where);
  const send = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);
  let armed: RacerOp | null = null;
  send({ ready: true });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'go' && armed) {
      const o = armed;
      armed = null;
      let deadlocks = 0;
      for (;;) {
        try {
          send({ result: { ...(await run(store, o)), deadlocks } });
          break;
        } catch (e) {
          // 40P01: PostgreSQL broke a deadlock by aborting this transaction (nothing of it committed).
          if ((e as { code?: string }).code === '40P01' && deadlocks < 5) { deadlocks++; continue; }
          send({ error: String((e as Error).stack ?? e) });
          break;
        }
      }
    } else if (line !== '') {
      armed = JSON.parse(line) as RacerOp;
      send({ armed: true });
    }
  }
  await store.close();
}

await main();
