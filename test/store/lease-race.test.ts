/**
 * Floating IPs raced for by separate OS processes: each racer
 * (./lease-racer.ts) opens the store itself and runs the store's own lease
 * operations; a barrier (every racer armed, then `go` to all) starts them at
 * once. Every round, whatever the interleaving, each IP must be sent from by
 * one process at most: the one the database names. Leases expire by the
 * times the test passes, not by waiting.
 *
 * PostgreSQL: the test peers' server, a database of its own. SQLite: one
 * file, as several daemons of one host share it (README, Fleet).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { createPostgresDatabase } from '../peers/peers.js';
import type { RacerOp, RacerResult } from './lease-racer.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const ROUNDS = 32;
const STALE_MS = 1500;
const T0 = 1_000_000;
const IPS = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`);

/** A racer process: one JSON line per answer. */
class Racer {
  readonly host: string;
  readonly token: string;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  #stderr = '';

  private constructor(host: string, where: string) {
    this.host = host;
    this.token = `t-${host}`;
    this.#child = spawn(process.execPath, ['--import', 'tsx', join(here, 'lease-racer.ts'), where], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr.on('data', (d: Buffer) => { this.#stderr += d.toString(); });
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  get pid(): number { return this.#child.pid!; }

  static async start(host: string, where: string): Promise<Racer> {
    const r = new Racer(host, where);
    expect(await r.#next()).toEqual({ ready: true });
    return r;
  }

  async #next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error(`racer ${this.host} exited: ${this.#stderr}`);
    return JSON.parse(value as string) as Record<string, unknown>;
  }

  async arm(op: RacerOp): Promise<void> {
    this.#child.stdin.write(`${JSON.stringify(op)}\n`);
    expect(await this.#next()).toEqual({ armed: true });
  }

  go(): void { this.#child.stdin.write('go\n'); }

  async result(): Promise<RacerResult> {
    const a = await this.#next();
    if (a.error) throw new Error(`racer ${this.host}: ${String(a.error)}`);
    return a.result as RacerResult;
  }

  acquire(plan: string, now: number, o: { host?: string; deadPids?: number[] } = {}): RacerOp {
    return { op: 'acquire', plan, ips: IPS, host: o.host ?? this.host, pid: this.pid, token: this.token, now, staleMs: STALE_MS, deadPids: o.deadPids };
  }

  async stop(): Promise<void> {
    const exited = new Promise((done) => this.#child.once('exit', done));
    this.#child.stdin.end();
    await exited;
  }
}

/** Arms every racer with its operation, then lets them all go at once; their results in the same order. */
async function race(entries: ReadonlyArray<readonly [Racer, RacerOp]>): Promise<RacerResult[]> {
  for (const [r, op] of entries) await r.arm(op);
  for (const [r] of entries) r.go();
  return Promise.all(entries.map(([r]) => r.result()));
}

const TARGETS = [
  {
    name: 'PostgreSQL',
    async open(): Promise<{ where: string; store: Store; close(): void }> {
      const url = await createPostgresDatabase('lease_race');
      return { where: url, store: await openPostgresStore(url), close() {} };
    },
  },
  {
    name: 'SQLite (one file)',
    async open(): Promise<{ where: string; store: Store; close(): void }> {
      const dir = mkdtempSync(join(tmpdir(), 'warmup-lease-race-'));
      const path = join(dir, 'warmup.db');
      return { where: path, store: await openStore(path), close: () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
];

describe.each(TARGETS)('$name: separate processes racing for the same floating IPs', ({ open }) => {
  let target: Awaited<ReturnType<typeof open>>;
  let a: Racer, b: Racer, c: Racer;
  beforeAll(async () => {
    target = await open();
    [a, b, c] = await Promise.all(['a', 'b', 'c'].map((h) => Racer.start(h, target.where))) as [Racer, Racer, Racer];
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a, b, c].filter(Boolean).map((r) => r.stop()));
    await target?.store.close();
    target?.close();
  });

  /** Who the database says holds each IP of the round's plan (`host/pid`, or null: nobody). */
  async function holders(plan: string): Promise<Map<string, string | null>> {
    const rows = await target.store.ipLeases(plan);
    return new Map(IPS.map((ip) => {
      const l = rows.find((r) => r.ip === ip);
      return [ip, l ? `${l.host}/${l.pid}` : null];
    }));
  }

  /**
   * Every IP has at most one process that believes it may send from it, that
   * one is the holder the database names, and (`everyIp`) one exists.
   */
  async function violations(round: number, plan: string, believers: Map<string, string[]>, everyIp: boolean): Promise<string[]> {
    const db = await holders(plan);
    const out: string[] = [];
    for (const ip of IPS) {
      const who = believers.get(ip) ?? [];
      if (who.length > 1) out.push(`round ${round}: ${ip} sent from by ${who.join(' and ')}`);
      else if (who.length === 0 && everyIp) out.push(`round ${round}: ${ip} taken by nobody`);
      else if ((who[0] ?? null) !== db.get(ip)) out.push(`round ${round}: ${ip} believed held by ${who[0] ?? 'nobody'}, the database says ${db.get(ip) ?? 'nobody'}`);
    }
    return out;
  }

  /** Per IP, the processes (`host/pid`, the host each claimed as) whose operation says they now send from it. */
  function believersOf(entries: ReadonlyArray<readonly [Racer, RacerOp, RacerResult]>): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const [r, op, res] of entries) {
      const who = `${op.op === 'acquire' ? op.host : r.host}/${r.pid}`;
      for (const ip of [...(res.taken ?? []).map((t) => t.ip), ...(res.renewed ?? [])]) m.set(ip, [...(m.get(ip) ?? []), who]);
    }
    return m;
  }

  /**
   * ROUNDS rounds, each on a plan of its own: `arrange` sets the round up and
   * says who does what at once; `check` looks at what they got. Every
   * violation of every round is collected, so a failure shows them all.
   */
  async function rounds(name: string, everyIp: boolean, arrange: (round: number, plan: string) => Promise<ReadonlyArray<readonly [Racer, RacerOp]>>,
    check: (round: number, results: RacerResult[]) => void = () => {}): Promise<void> {
    const bad: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const plan = `${name}-${round}`;
      const entries = await arrange(round, plan);
      const results = await race(entries);
      bad.push(...await violations(round, plan, believersOf(entries.map(([r, op], i) => [r, op, results[i]!] as const)), everyIp));
      check(round, results);
    }
    expect(bad).toEqual([]);
  }

  /** One racer takes every IP at T0, alone; the holder first, on odd rounds swapped. */
  async function held(round: number, plan: string): Promise<[Racer, Racer]> {
    const [holder, other] = round % 2 === 0 ? [a, b] : [b, a];
    const [first] = await race([[holder, holder.acquire(plan, T0)]]);
    expect(first!.taken).toHaveLength(IPS.length);
    return [holder, other];
  }

  it('three processes acquiring free IPs at once: each IP goes to exactly one, and the others are told who holds it', () =>
    rounds('free', true, async (_, plan) => [[a, a.acquire(plan, T0)], [b, b.acquire(plan, T0)], [c, c.acquire(plan, T0)]], (_, results) => {
      for (const r of results) expect([...(r.taken ?? []).map((t) => t.ip), ...(r.held ?? [])].sort()).toEqual([...IPS].sort());
    }), 30_000);

  it('a lease just gone stale (or held by a dead pid of the same host), taken over by two processes at once: each IP goes to exactly one', () => {
    // The silent holder: host z (heartbeat T0), or on even rounds a dead pid of host a itself.
    const deadPid = 999_999_999;
    const deadHost = (round: number) => (round % 2 === 0 ? 'a' : 'z');
    return rounds('stale', true, async (round, plan) => {
      await target.store.acquireIpLeases(plan, IPS, { host: deadHost(round), pid: deadPid, token: 'silent', now: T0, staleMs: STALE_MS, alive: () => true });
      const at = round % 2 === 0 ? T0 + 10 : T0 + STALE_MS + 1;
      const op = (r: Racer) => r.acquire(plan, at, { host: round % 2 === 0 ? 'a' : r.host, deadPids: [deadPid] });
      return [[a, op(a)], [b, op(b)]];
    }, (round, results) => {
      for (const r of results) for (const t of r.taken ?? []) expect(t.from).toBe(deadHost(round));
    });
  }, 30_000);

  it('the holder renewing late while another process takes its stale lease over: each IP is the renewer\'s or the taker\'s, never both', () =>
    rounds('renew', true, async (round, plan) => {
      const [holder, taker] = await held(round, plan);
      // Both at T1, when the heartbeat of T0 is stale: whichever commits first wins each IP.
      const t1 = T0 + STALE_MS + 1;
      return [[holder, { op: 'renew', plan, token: holder.token, now: t1 }], [taker, taker.acquire(plan, t1)]];
    }), 30_000);

  it('the holder releasing while another process acquires: the other gets what was released first, nobody holds the rest', () =>
    rounds('release', false, async (round, plan) => {
      const [holder, taker] = await held(round, plan);
      return [[holder, { op: 'release', plan, token: holder.token }], [taker, taker.acquire(plan, T0 + 100)]];
    }), 30_000);
});
