/**
 * `npm run bench -- throughput [--ips N] [--connections C] [--messages M] [--unsigned | --signed | --floor] [--session-thread on|off]`
 *
 * The daemon's own delivery path (tick -> schedule -> SMTP send from the
 * lane's IP -> record in SQLite) with every message of the day due at once,
 * against Postfix's smtp-sink on 127.0.0.120:2525, twice: unsigned, compared
 * with smtp-source on the same sink with the same number of connections and
 * message size (`ratio`); and RSA-2048-signed (on the signing pool), compared
 * with the machine's RSA-2048 signing ceiling: signatures per second with the
 * same key on one thread per core, measured in the same run (`signedRatio`).
 * `--unsigned` / `--signed` run one part alone. Besides the process's CPU per
 * message, each part reports it by thread (/proc, Linux): the main thread, the
 * session thread, the signing workers and the rest (V8's compiler and GC helpers),
 * and the sink's CPU per message (the receiver shares the cores). Last, a floor:
 * nodemailer's SMTPConnection alone sending the same count to the same sink
 * (`--floor` runs it alone): what the SMTP side costs with nothing else around it;
 * and the store's writes alone for the same count (256 per transaction). The full run
 * prints what signedRatio 0.6 leaves for the daemon's own work beyond those floors.
 * The bench starts the sink itself and stops only that PID.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { RouteCache } from '../../src/daemon/deliver.js';
import { createRuntime, sessionThreadPays, smtpMailer } from '../../src/daemon/runtime.js';
import { SessionThread } from '../../src/send/session-thread.js';
import { createDnsResolver } from '../../src/dns/resolver.js';
import { loadPlanFile } from '../../src/plan/load.js';
import { buildMessage } from '../../src/send/message.js';
import { composeMessage } from '../../src/send/compose.js';
import { dkimSignatures } from '../../src/send/dkim-sign.js';
import type { Plan } from '../../src/plan/types.js';
import { openSqlite } from '../../src/store/open.js';
import { manualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { machine, result, round, start, stop, throwawayKey, waitForPort } from './lib.js';

const { values } = parseArgs({ options: { ips: { type: 'string' }, connections: { type: 'string' }, messages: { type: 'string' }, unsigned: { type: 'boolean' }, signed: { type: 'boolean' }, floor: { type: 'boolean' }, 'session-thread': { type: 'string' } } });
const SESSION_THREAD = values['session-thread'] === undefined ? undefined : values['session-thread'] === 'on';
const IPS = Number(values.ips ?? 4);
const CONNS = Number(values.connections ?? 2);
// 32,000 messages (8,000 until the end of issue 12's last round): a daemon
// mid-launch has been sending for days and its code is compiled; at 8,000
// V8's optimising compiler still charged ~0.1 ms per message of warm-up
// (the "other" threads), which smtp-source, a C program, never pays. Both
// sides send the same count; `--messages 8000` gives the old figure.
const TOTAL = Number(values.messages ?? 32000);
const PER_LANE = Math.ceil(TOTAL / IPS);
const SINK = { host: '127.0.0.120', port: 2525 };
void RouteCache;

const dir = mkdtempSync(join(tmpdir(), 'warmup-bench-throughput-'));
throwawayKey(dir);
const ips = Array.from({ length: IPS }, (_, i) => `127.0.0.${121 + i}`);
writeFileSync(join(dir, 'plan.yaml'), `name: bench-throughput
timezone: UTC
start: 2026-12-01
launch: 2026-12-02
# A one-minute window: once the clock passes it, the whole day is due at once.
window: { start: "08:00", end: "08:01" }
sender:
  from: { address: hello@bench.warmup.test, name: Bench }
  envelope_from: bounces@bench.warmup.test
  dkim: { domain: bench.warmup.test, selector: b1, private_key_file: dkim.pem }
  unsubscribe: { url: "https://bench.warmup.test/u?r={{recipient}}", mailto: unsub@bench.warmup.test }
ips:
${ips.map((ip) => `  - address: ${ip}\n    ehlo: mta${ip.split('.')[3]}.bench.warmup.test`).join('\n')}
ramps:
  default: { daily: [${PER_LANE}] }
providers:
  sink:
    domains: [sink.test]
    seeds: [${Array.from({ length: 20 }, (_, i) => `seed${i + 1}@sink.test`).join(', ')}]
delivery:
  routes: { sink: "${SINK.host}:${SINK.port}" }
  max_connections_per_mx: ${CONNS}
  messages_per_connection: 100
  catch_up_factor: 1000
warnings: { ip_peak_per_day: 1, mailbox_per_day: 10000000 }
store: { path: ${join(dir, 'bench.db')} }
`);

const loaded = loadPlanFile(join(dir, 'plan.yaml'));
if (!loaded.ok) throw new Error(loaded.errors.map((e) => `${e.line}:${e.column} ${e.path} ${e.message}`).join('\n'));
const plan = loaded.plan;

/** One composed message of the plan, unsigned, to size smtp-source's messages and time DKIM alone. */
async function sampleMessage(): Promise<Buffer> {
  const built = buildMessage({
    from: { address: plan.sender.from.address, name: 'Bench' }, envelopeFrom: plan.sender.envelopeFrom, to: 'seed1@sink.test',
    subject: plan.content.subjects[0]!, text: plan.content.text, html: plan.content.html,
    unsubscribe: { url: plan.sender.unsubscribe.url, mailto: 'mailto:unsub@bench.warmup.test?subject=unsubscribe' },
    provider: 'sink', ip: ips[0]!, seq: 1,
  }, { now: Date.UTC(2026, 11, 1, 8), newId: () => 'wu-bench-1' });
  return composeMessage(built.fields);
}

/** Signing on this thread alone, the way the workers sign: milliseconds per message. */
function dkimCost(raw: Buffer, n: number): { msPerMessage: number; signedSize: number } {
  const keys = [{ domain: plan.sender.dkim!.domain, selector: plan.sender.dkim!.selector, key: createPrivateKey(plan.sender.dkim!.privateKeyPem!) }];
  let sigs = dkimSignatures(raw, keys, Date.now()); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sigs = dkimSignatures(raw, keys, Date.now());
  return { msPerMessage: (performance.now() - t0) / n, signedSize: raw.length + Buffer.byteLength(sigs) };
}

/**
 * The machine's RSA-2048 signing ceiling: one thread per core, each signing
 * ~700 bytes (a DKIM header block) with the plan's key in a tight loop.
 */
async function rsaCeiling(ms: number): Promise<{ perSecond: number; threads: number }> {
  const threads = availableParallelism();
  const code = `const { parentPort, workerData } = require('node:worker_threads');
const { createPrivateKey, sign } = require('node:crypto');
const key = createPrivateKey(workerData.pem); const data = Buffer.alloc(700, 97);
let n = 0; const end = performance.now() + workerData.ms;
while (performance.now() < end) { sign('sha256', data, key); n++; }
parentPort.postMessage(n);`;
  const t0 = performance.now();
  const counts = await Promise.all(Array.from({ length: threads }, () => new Promise<number>((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { pem: plan.sender.dkim!.privateKeyPem, ms } });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  const seconds = (performance.now() - t0) / 1000;
  return { perSecond: counts.reduce((a, b) => a + b, 0) / seconds, threads };
}

/** CPU per thread of one run of the daemon (ms): main, session thread, signing workers, the rest (V8's and libuv's helpers). */
interface ThreadCpu { main: number; session: number; signers: number; other: number }

async function ours(plan: Plan): Promise<{ seconds: number; cpuMs: number; mainCpuMs: number; threads: ThreadCpu; messages: number; attempts: number; accepted: number; ticks: number }> {
  const store = await openSqlite(plan.storePath);
  const start = Date.UTC(2026, 11, 1, 7, 59, 59);
  const clock = manualClock(start);
  const log = createLogger({ level: 'silent' });
  // The daemon's own mailer (sessions in the session thread on a multi-core machine; --session-thread on|off overrides).
  // The session thread, where the daemon would use one, started before the clock: a daemon in
  // the middle of its day has it running (it starts with a daemon's first send).
  const before = new Set(threadCpuMs().keys());
  const thread = (SESSION_THREAD ?? sessionThreadPays(plan)) ? new SessionThread() : null;
  await thread?.ready();
  // The threads that appeared with the session thread are its; those appearing during the run, the signing pool's.
  const sessionTids = new Set([...threadCpuMs().keys()].filter((t) => !before.has(t)));
  const mailer = smtpMailer(plan, clock, undefined, undefined, thread ?? false);
  // tickMs of a whole day: the day stays open (grace = 2 ticks) while the bench drains it.
  const { daemon } = createRuntime({ plan, store: store.store, mailer, resolver: createDnsResolver({ servers: ['127.0.0.1'] }), clock, log, tickMs: 86_400_000 });
  await daemon.start({ ticker: false });
  clock.set(Date.UTC(2026, 11, 1, 8, 0, 30));
  await daemon.tick(); // opens every lane's day
  clock.set(Date.UTC(2026, 11, 1, 8, 1, 0)); // past the window end: everything is due
  const total = PER_LANE * IPS;
  const recorded = async () => {
    const r = await store.db.selectFrom('lane_days').select((eb) => [eb.fn.sum<number>('accepted').as('a'), eb.fn.sum<number>('bounced').as('b'), eb.fn.sum<number>('expired').as('e')]).executeTakeFirstOrThrow();
    return Number(r.a) + Number(r.b) + Number(r.e);
  };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const threads0 = threadCpuMs();
  let done = 0;
  let ticks = 0;
  // Tick as soon as the previous tick is over: each tick tops every lane up to its in-flight cap.
  for (let i = 0; done < total; i++, ticks++) {
    clock.advance(1000);
    await daemon.tick();
    await new Promise((r) => setTimeout(r, 1));
    if (i % 50 === 0) done = await recorded();
    if (daemon.inFlight === 0) done = await recorded();
  }
  await daemon.settle();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mainCpuMs = mainThreadCpuMs() - main0;
  const threads: ThreadCpu = { main: 0, session: 0, signers: 0, other: 0 };
  for (const [tid, ms] of threadCpuMs()) {
    const used = ms - (threads0.get(tid) ?? 0);
    if (tid === process.pid) threads.main += used;
    else if (sessionTids.has(tid)) threads.session += used;
    else if (!before.has(tid)) threads.signers += used;
    else threads.other += used;
  }
  const counts = await store.db.selectFrom('attempts').select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.count<number>('id').filterWhere('outcome', '=', 'accepted').as('acc')]).executeTakeFirstOrThrow();
  const messages = Number((await store.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  await daemon.stop('SIGTERM');
  await store.close();
  return { seconds, cpuMs: (cpu.user + cpu.system) / 1000, mainCpuMs, threads, messages, attempts: Number(counts.n), accepted: Number(counts.acc), ticks };
}

/**
 * CPU time (user + system, ms) of this process's main thread alone, from
 * /proc (Linux; NaN elsewhere): with the SMTP sessions in the session thread,
 * the main thread's share is what bounds the daemon on its core.
 */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * (1000 / 100); // clock ticks (USER_HZ 100)
  } catch {
    return Number.NaN;
  }
}

/** CPU time (ms) of each live thread of this process, by thread id (Linux; empty elsewhere). */
function threadCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(Number(tid), (Number(f[11]) + Number(f[12])) * 10);
      } catch { /* the thread ended */ }
    }
  } catch { /* no /proc */ }
  return out;
}

/** Per-message CPU by thread, for the report. */
function perMessage(t: ThreadCpu, n: number): Record<keyof ThreadCpu, number> {
  return { main: round(t.main / n, 3), session: round(t.session / n, 3), signers: round(t.signers / n, 3), other: round(t.other / n, 3) };
}

/** CPU time (user + system, ms) of one process (`pid`), or of this process's reaped children (`children`), from /proc (Linux; NaN elsewhere). */
function processCpuMs(pid: number | 'children'): number {
  try {
    const stat = readFileSync(`/proc/${pid === 'children' ? 'self' : pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [u, s] = pid === 'children' ? [f[13], f[14]] : [f[11], f[12]];
    return (Number(u) + Number(s)) * 10; // clock ticks (USER_HZ 100)
  } catch {
    return Number.NaN;
  }
}

/** The sink's CPU (ms) while `run` runs: the receiving side's share of the same cores. */
async function withSinkCpu<T>(run: () => Promise<T> | T): Promise<{ value: T; sinkCpuMs: number }> {
  const before = processCpuMs(sink.pid!);
  const value = await run();
  return { value, sinkCpuMs: processCpuMs(sink.pid!) - before };
}

function smtpSource(sessions: number, count: number, size: number): { seconds: number; cpuMs: number } {
  const t0 = performance.now();
  const children0 = processCpuMs('children');
  const r = spawnSync('/usr/sbin/smtp-source', ['-s', String(sessions), '-m', String(count), '-l', String(size), '-f', 'bounces@bench.warmup.test', '-t', 'seed1@sink.test', `${SINK.host}:${SINK.port}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`smtp-source exited with ${r.status}`);
  return { seconds: (performance.now() - t0) / 1000, cpuMs: processCpuMs('children') - children0 };
}

/**
 * nodemailer's SMTPConnection alone, on this thread: the same sessions (one per IP x connection,
 * a new connection every 100 messages as the plan's messages_per_connection), the same sink and a
 * message of the signed size, composed once. No store, no scheduling, no thread, no signing: what
 * the SMTP side costs at its floor with the library the daemon uses. A first pass of a quarter of
 * the count warms the JIT (as the daemon's runs are compared warm); the second is measured.
 */
async function nodemailerFloor(count: number, size: number): Promise<{ perSecond: number; cpuMs: number; sinkCpuMs: number }> {
  const message = Buffer.from(`From: Bench <hello@bench.warmup.test>\r\nTo: seed1@sink.test\r\nSubject: floor\r\n\r\n${'lorem ipsum dolor sit amet\r\n'.repeat(Math.ceil(size / 28))}`.slice(0, size - 2) + '\r\n', 'latin1');
  const connect = (ip: string) => new Promise<SMTPConnection>((resolve, reject) => {
    const c = new SMTPConnection({ host: SINK.host, port: SINK.port, localAddress: ip, name: `mta.${ip}.bench.warmup.test`, ignoreTLS: true });
    c.once('error', reject);
    c.connect(() => resolve(c));
  });
  const session = async (ip: string, n: number) => {
    for (let sent = 0; sent < n; sent += 100) {
      const c = await connect(ip);
      for (let m = 0; m < Math.min(100, n - sent); m++) {
        await new Promise<void>((resolve, reject) => c.send({ from: 'bounces@bench.warmup.test', to: ['seed1@sink.test'] }, message, (e) => (e ? reject(e) : resolve())));
      }
      c.quit();
    }
  };
  const sessions = ips.flatMap((ip) => Array.from({ length: CONNS }, () => ip));
  const pass = (n: number) => Promise.all(sessions.map((ip) => session(ip, Math.ceil(n / sessions.length))));
  await pass(count / 4);
  const sent = Math.ceil(count / sessions.length) * sessions.length;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const { sinkCpuMs } = await withSinkCpu(() => pass(count));
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: sent / ((performance.now() - t0) / 1000), cpuMs: (cpu.user + cpu.system) / 1000 / sent, sinkCpuMs: sinkCpuMs / sent };
}

/**
 * The store's writes alone, at their cheapest: the same count of messages created in flight and
 * recorded accepted (the daemon's `createMessages` and `recordAttempts`, the same shapes, on a
 * fresh SQLite file) in transactions of 256, with no SMTP, no scheduling and no threads. What
 * recording every attempt costs at its floor; the daemon's ticks carry far fewer (`signedTicks`).
 * A first pass of a quarter of the count warms the JIT, as in the SMTP floor.
 */
async function storeFloor(count: number): Promise<{ cpuMs: number }> {
  const pass = async (n: number, name: string) => {
    const opened = await openSqlite(join(dir, name));
    const store = opened.store;
    const t = Date.UTC(2026, 11, 1, 8);
    const lanes = await store.ensureLanes('floor', ips.map((ip) => ({ ip, provider: 'sink' })), t);
    for (const l of lanes) await store.openLaneDay({ lane_id: l.id, day: '2026-12-01', stage: 0, target: n, spread_from: t, spread_until: t + 60_000 }, t);
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < n; i += 256) {
      const batch = Array.from({ length: Math.min(256, n - i) }, (_, j) => ({ laneId: lanes[(i + j) % lanes.length]!.id, day: '2026-12-01', recipient: `seed${((i + j) % 20) + 1}@sink.test`, messageId: `<${i + j}.floor@bench.warmup.test>` }));
      const rows = await store.createMessages(batch, t);
      await store.recordAttempts(rows.map((r, j) => ({
        attempt: { messageId: r.id, laneId: batch[j]!.laneId, day: '2026-12-01', startedAt: t, latencyMs: 3, mxHost: SINK.host, mxAddress: SINK.host, outcome: 'accepted' as const, code: 250, enhanced: '2.0.0', reply: '250 2.0.0 Ok: queued as 4XyZ1Bq2Lmz', stage: 'data', retry: 0 },
        result: { status: 'accepted' as const, at: t },
      })));
    }
    const cpu = process.cpuUsage(cpu0);
    await opened.close();
    return (cpu.user + cpu.system) / 1000 / n;
  };
  await pass(Math.ceil(count / 4), 'floor-warm.db');
  return { cpuMs: await pass(count, 'floor.db') };
}

/** The RSA-signed run and the signing ceiling measured right after it. */
async function signedPart(): Promise<{ perSecond: number; ceiling: number; budgetMs: number; run: Awaited<ReturnType<typeof ours>>; figures: Record<string, number> }> {
  const { value: o, sinkCpuMs } = await withSinkCpu(() => ours(plan));
  const perSecond = o.messages / o.seconds;
  process.stdout.write(`warmup daemon, RSA-signed: ${o.messages} messages, ${o.attempts} attempts recorded (${o.accepted} accepted) in ${o.seconds.toFixed(2)} s = ${perSecond.toFixed(0)} msg/s; this process's CPU (signing pool included) ${(o.cpuMs / o.messages).toFixed(3)} ms per message; by thread ${JSON.stringify(perMessage(o.threads, o.messages))}; smtp-sink ${(sinkCpuMs / o.messages).toFixed(3)} ms\n`);
  const ceiling = await rsaCeiling(1500);
  // One signature's CPU in the ceiling's tight loop. With every core busy, signed msg/s is about
  // cores / (the daemon's CPU + the sink's, per message), so signedRatio is about
  // ceilingMsPerSignature / (signedCpuMsPerMessage + signedSinkCpuMsPerMessage).
  const msPerSignature = (ceiling.threads * 1000) / ceiling.perSecond;
  process.stdout.write(`RSA-2048 signing ceiling: ${ceiling.perSecond.toFixed(0)} signatures/s on ${ceiling.threads} threads (${msPerSignature.toFixed(3)} ms of CPU per signature)\n`);
  // What 0.6 leaves the daemon: its CPU per signed message at which the cores, fully used, would reach the mark.
  const budgetMs = msPerSignature / 0.6 - sinkCpuMs / o.messages;
  process.stdout.write(`signedRatio 0.6 needs the daemon at or under ${budgetMs.toFixed(3)} ms of CPU per signed message with every core in use (it used ${(o.cpuMs / o.messages).toFixed(3)})\n`);
  const figures = { signedTicks: o.ticks, signedSinkCpuMsPerMessage: round(sinkCpuMs / o.messages, 3), ceilingMsPerSignature: round(msPerSignature, 3), signedBudgetCpuMsPerMessage: round(budgetMs, 3) };
  return { perSecond, ceiling: ceiling.perSecond, budgetMs, run: o, figures };
}

const sink = start('/usr/sbin/smtp-sink', ['-u', 'nobody', `${SINK.host}:${SINK.port}`, '1000']);
try {
  await waitForPort(SINK.host, SINK.port);
  // Another bench's sink on the same port would answer instead (ours exits: bind fails) and skew every figure.
  await new Promise((r) => setTimeout(r, 300));
  if (sink.exitCode !== null || sink.signalCode !== null) throw new Error(`smtp-sink on ${SINK.host}:${SINK.port} exited at start (is another throughput bench running?)`);
  const raw = await sampleMessage();
  const dkim = dkimCost(raw, 300);
  const sessions = IPS * CONNS;
  process.stdout.write(`machine: ${JSON.stringify(machine())}\n`);
  process.stdout.write(`${IPS} IPs x ${CONNS} connections = ${sessions} sessions, ${PER_LANE * IPS} messages of ${raw.length} bytes (${dkim.signedSize} signed)\n`);
  process.stdout.write(`one DKIM signature on one thread: ${dkim.msPerMessage.toFixed(3)} ms\n`);
  if (values.floor) {
    const f = await nodemailerFloor(TOTAL, dkim.signedSize);
    process.stdout.write(`nodemailer alone (the SMTP floor): ${f.perSecond.toFixed(0)} msg/s, ${f.cpuMs.toFixed(3)} ms of CPU per message; smtp-sink ${f.sinkCpuMs.toFixed(3)} ms\n`);
    const st = await storeFloor(TOTAL);
    process.stdout.write(`the store's writes alone (256 per transaction): ${st.cpuMs.toFixed(3)} ms of CPU per message\n`);
    result({ bench: 'throughput', floorOnly: true, nodemailerFloorPerSecond: round(f.perSecond), nodemailerFloorCpuMsPerMessage: round(f.cpuMs, 3), nodemailerFloorSinkCpuMsPerMessage: round(f.sinkCpuMs, 3), storeFloorCpuMsPerMessage: round(st.cpuMs, 3), nproc: machine().nproc });
  } else if (values.signed) {
    // The RSA-signed part alone (A/B runs of the signing path).
    const { perSecond, ceiling, run: o, figures } = await signedPart();
    process.stdout.write(`signed / signing ceiling: ${(perSecond / ceiling).toFixed(3)}\n`);
    result({
      bench: 'throughput', signedOnly: true, signedRatio: round(perSecond / ceiling, 3), signedPerSecond: round(perSecond), rsaCeilingPerSecond: round(ceiling),
      dkimMsPerMessage: round(dkim.msPerMessage, 3), signedCpuMsPerMessage: round(o.cpuMs / o.messages, 3), signedCpuMsPerMessageByThread: perMessage(o.threads, o.messages),
      ...figures, signedMessages: o.messages, signedAttemptsRecorded: o.attempts, signedSeconds: round(o.seconds, 2), nproc: machine().nproc,
    });
  } else {
    const unsignedPlan: Plan = { ...plan, sender: { ...plan.sender, dkim: null }, storePath: join(dir, 'unsigned.db') };
    const { value: u, sinkCpuMs: uSinkMs } = await withSinkCpu(() => ours(unsignedPlan));
    const oursPerSecond = u.messages / u.seconds;
    process.stdout.write(`warmup daemon, unsigned: ${u.messages} messages, ${u.attempts} attempts recorded (${u.accepted} accepted) in ${u.seconds.toFixed(2)} s = ${oursPerSecond.toFixed(0)} msg/s; this process's CPU ${(u.cpuMs / u.messages).toFixed(3)} ms per message (main thread ${(u.mainCpuMs / u.messages).toFixed(3)}); by thread ${JSON.stringify(perMessage(u.threads, u.messages))}; smtp-sink ${(uSinkMs / u.messages).toFixed(3)} ms\n`);
    const unsignedFigures = {
      oursPerSecond: round(oursPerSecond), cpuMsPerMessage: round(u.cpuMs / u.messages, 3), mainThreadCpuMsPerMessage: round(u.mainCpuMs / u.messages, 3),
      cpuMsPerMessageByThread: perMessage(u.threads, u.messages), sinkCpuMsPerMessage: round(uSinkMs / u.messages, 3), ticks: u.ticks, messages: u.messages, attemptsRecorded: u.attempts, accepted: u.accepted, oursSeconds: round(u.seconds, 2),
    };
    if (values.unsigned) result({ bench: 'throughput', unsignedOnly: true, ...unsignedFigures, nproc: machine().nproc });
    else {
      const { value: s, sinkCpuMs: sSinkMs } = await withSinkCpu(() => smtpSource(sessions, u.messages, raw.length));
      const smtpSourcePerSecond = u.messages / s.seconds;
      process.stdout.write(`smtp-source:   ${u.messages} messages in ${s.seconds.toFixed(2)} s = ${smtpSourcePerSecond.toFixed(0)} msg/s; its CPU ${(s.cpuMs / u.messages).toFixed(3)} ms per message; smtp-sink ${(sSinkMs / u.messages).toFixed(3)} ms\n`);
      const { perSecond: signedPerSecond, ceiling, budgetMs, run: o, figures } = await signedPart();
      const f = await nodemailerFloor(TOTAL, dkim.signedSize);
      process.stdout.write(`nodemailer alone (the SMTP floor): ${f.perSecond.toFixed(0)} msg/s, ${f.cpuMs.toFixed(3)} ms of CPU per message; smtp-sink ${f.sinkCpuMs.toFixed(3)} ms\n`);
      const st = await storeFloor(TOTAL);
      process.stdout.write(`the store's writes alone (256 per transaction): ${st.cpuMs.toFixed(3)} ms of CPU per message\n`);
      // What 0.6 leaves for everything the daemon does besides signing (its signing workers' CPU as
      // measured), the SMTP library and the store's writes at their floors: scheduling, building,
      // composing and classifying messages, the threads' hand-overs, policy, GC.
      const roomMs = budgetMs - o.threads.signers / o.messages - f.cpuMs - st.cpuMs;
      const ownMs = (o.threads.main + o.threads.session + o.threads.other) / o.messages - f.cpuMs - st.cpuMs;
      process.stdout.write(`signedRatio 0.6 leaves ${roomMs.toFixed(3)} ms per signed message for the daemon's own work beyond those floors; it used ${ownMs.toFixed(3)}\n`);
      process.stdout.write(`ratio unsigned / smtp-source: ${(oursPerSecond / smtpSourcePerSecond).toFixed(3)}; signed / signing ceiling: ${(signedPerSecond / ceiling).toFixed(3)}; signed / unsigned: ${(signedPerSecond / oursPerSecond).toFixed(3)}\n`);
      result({
        bench: 'throughput', ratio: round(oursPerSecond / smtpSourcePerSecond, 3), signedRatio: round(signedPerSecond / ceiling, 3),
        // How much signing slows the daemon on this machine: unlike signedRatio, it does not swing with the CPU's RSA speed alone.
        signedVsUnsigned: round(signedPerSecond / oursPerSecond, 3),
        ...unsignedFigures, signedPerSecond: round(signedPerSecond), smtpSourcePerSecond: round(smtpSourcePerSecond), rsaCeilingPerSecond: round(ceiling),
        dkimMsPerMessage: round(dkim.msPerMessage, 3), signedMessages: o.messages, signedAttemptsRecorded: o.attempts, sessions, messageBytes: raw.length, signedMessageBytes: dkim.signedSize,
        signedSeconds: round(o.seconds, 2), signedCpuMsPerMessage: round(o.cpuMs / o.messages, 3), signedCpuMsPerMessageByThread: perMessage(o.threads, o.messages),
        smtpSourceSeconds: round(s.seconds, 2), smtpSourceCpuMsPerMessage: round(s.cpuMs / u.messages, 3), smtpSourceSinkCpuMsPerMessage: round(sSinkMs / u.messages, 3),
        ...figures, nodemailerFloorPerSecond: round(f.perSecond), nodemailerFloorCpuMsPerMessage: round(f.cpuMs, 3), nodemailerFloorSinkCpuMsPerMessage: round(f.sinkCpuMs, 3),
        storeFloorCpuMsPerMessage: round(st.cpuMs, 3), signedRoomCpuMsPerMessage: round(roomMs, 3), signedOwnCpuMsPerMessage: round(ownMs, 3), nproc: machine().nproc,
      });
    }
  }
} finally {
  await stop(sink);
  rmSync(dir, { recursive: true, force: true });
}
