/**
 * Runs the real daemon in-process against the loopback peers, on an
 * accelerated clock, with a plan written for the test.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDnsResolver } from '../../src/dns/resolver.js';
import type { Daemon } from '../../src/daemon/daemon.js';
import { createRuntime, sessionThreadPays, smtpMailer } from '../../src/daemon/runtime.js';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { SessionThread } from '../../src/send/session-thread.js';
import { createSigningPool, type Signer } from '../../src/send/signing-pool.js';
import { openSqlite } from '../../src/store/open.js';
import { openPostgres } from '../../src/store/postgres.js';
import type { Db } from '../../src/store/schema.js';
import type { Store } from '../../src/store/store.js';
import { acceleratedClock, type Clock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { dnsServer } from '../peers/peers.js';

export const DAY_MS = 86_400_000;

export interface PlanParts {
  name: string;
  ips: string[];
  /** provider name -> { domain, seeds } */
  providers: Record<string, { domains: string[]; seeds: string[]; ramp?: string }>;
  start?: string;
  launch?: string;
  ramp?: string;
  /** YAML lines appended under `delivery:` */
  delivery?: string[];
  /** The `delivery.timeouts` flow mapping (default: generous, see writePlan). */
  timeouts?: string;
  /** extra top-level YAML */
  extra?: string;
  dkim?: boolean;
  /** The plan's store on a PostgreSQL server (`store.url`) instead of its own SQLite file. */
  storeUrl?: string;
}

/**
 * A plan in a temp dir with its own database; DKIM key generated for the run. The SMTP timeouts are
 * generous: on a loaded machine the test process may not run for seconds, and a timer that expires
 * meanwhile fires before the answer that did arrive is read (a greylisting retry recorded as a
 * timeout). Tests of timeouts set their own (test/daemon/faults.test.ts).
 */
export function writePlan(parts: PlanParts): { file: string; dir: string; pem: string | null } {
  const dir = mkdtempSync(join(tmpdir(), `warmup-${parts.name}-`));
  let pem: string | null = null;
  if (parts.dkim) {
    pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(join(dir, 'dkim.pem'), pem, { mode: 0o600 });
  }
  const providers = Object.entries(parts.providers).map(([name, p]) =>
    `  ${name}:\n    domains: [${p.domains.join(', ')}]\n    seeds: [${p.seeds.join(', ')}]${p.ramp ? `\n    ramp: ${p.ramp}` : ''}`).join('\n');
  const text = `name: ${parts.name}
timezone: UTC
start: ${parts.start ?? '2026-12-01'}
launch: ${parts.launch ?? '2026-12-04'}
window: { start: "08:00", end: "20:00" }
sender:
  from: { address: hello@news.warmup.test, name: Warmup Test }
  envelope_from: bounces@news.warmup.test
${parts.dkim ? '  dkim: { domain: news.warmup.test, selector: t1, private_key_file: dkim.pem }\n' : ''}  unsubscribe: { url: "https://news.warmup.test/u?r={{recipient}}", mailto: unsub@news.warmup.test }
ips:
${parts.ips.map((ip) => `  - address: ${ip}\n    ehlo: mta${ip.split('.')[3]}.warmup.test`).join('\n')}
ramps:
  default: ${parts.ramp ?? '{ daily: [4, 6, 8] }'}
providers:
${providers}
delivery:
  dns_servers: [${dnsServer}]
  timeouts: ${parts.timeouts ?? '{ connect: 10s, greeting: 10s, command: 20s }'}
${(parts.delivery ?? []).map((l) => `  ${l}`).join('\n')}
warnings: { ip_peak_per_day: 1 }
dnsbl: { zones: [zen.dnsbl.test] }
store: { ${parts.storeUrl ? `url: "${parts.storeUrl}"` : `path: ${join(dir, 'warmup.db')}`} }
${parts.extra ?? ''}`;
  const file = join(dir, 'plan.yaml');
  writeFileSync(file, text);
  return { file, dir, pem };
}

export function load(file: string): Plan {
  const r = loadPlan(readFileSync(file, 'utf8'), { file });
  if (!r.ok) throw new Error(`test plan invalid:\n${r.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`).join('\n')}`);
  return r.plan;
}

export interface Running {
  readonly plan: Plan;
  readonly daemon: Daemon;
  readonly store: Store;
  /** The database under the store, to check rows directly. */
  readonly db: Db;
  readonly clock: Clock;
  stop(): Promise<void>;
}

/**
 * Starts the daemon on an accelerated clock (`speed`), ticking every `tickMs` real ms. `signer`: a
 * DKIM signing pool whose workers are already running (see warmSigner), so that their start-up
 * (seconds on a loaded machine: hours of plan time) is not taken from the first day's window.
 */
export async function startDaemon(plan: Plan, opts: { from: string; speed: number; tickMs?: number; drainMs?: number; busyTimeoutMs?: number; signer?: Signer }): Promise<Running> {
  const opened = plan.storeServer
    ? await openPostgres(plan.storeServer.url)
    : await openSqlite(plan.storePath, opts.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: opts.busyTimeoutMs });
  const log = createLogger({ level: process.env.WARMUP_TEST_LOG ?? 'silent' });
  // The SMTP session thread (where `warmup start` runs one, see sessionThreadPays) is started first:
  // loading its modules takes hundreds of real ms, hours of plan time at these speeds.
  const thread = sessionThreadPays(plan) ? new SessionThread({ logger: log }) : null;
  await thread?.ready();
  // The clock starts once the database is open and migrated: `from` is when the daemon starts.
  const clock = acceleratedClock(Date.parse(opts.from), opts.speed);
  // A loaded machine may not read the loopback server's answer within a second (a dead lane's MX lookup recorded as a DNS failure).
  const resolver = createDnsResolver({ servers: plan.delivery.dnsServers, timeoutMs: 5000, tries: 2 });
  const runtime = createRuntime({
    plan, store: opened.store, resolver, clock, log, tickMs: opts.tickMs ?? 50, speed: opts.speed, drainMs: opts.drainMs ?? 10_000,
    mailer: smtpMailer(plan, clock, log, opts.signer, thread ?? false),
  });
  await runtime.start();
  return {
    plan, daemon: runtime.daemon, store: opened.store, db: opened.db, clock,
    async stop() { await runtime.stop('SIGTERM'); await runtime.done; await opened.store.close(); },
  };
}

/** Polls `check` every 50 ms until it returns a value, or throws after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A DKIM signing pool with all its workers started (each has signed once with `pem`), for
 * startDaemon's `signer`. The caller closes it after the daemon stopped.
 */
export async function warmSigner(pem: string): Promise<Signer> {
  const signer = createSigningPool();
  const key = [{ domain: 'warmup.test', selector: 'warm', pem }];
  const message = Buffer.from('From: a@warmup.test\r\nTo: b@warmup.test\r\nSubject: warm\r\n\r\nwarm\r\n');
  // Jobs sent at once go to new workers while the pool is below its size: this starts every one.
  await Promise.all(Array.from({ length: availableParallelism() }, () => signer.signatures(message, key, Date.now())));
  return signer;
}
