/**
 * `npm run bench -- route [--seconds S] [--messages M] [--unix] [--lookups-only] [--floor] [--cli FILE] [--cpu-prof DIR]`
 *
 * Routing real mail through Postfix, measured against the production-MTA peer (test/peers/mta.sh,
 * started by up.sh or `bash test/peers/mta.sh start`):
 *
 * 1. lookups: `warmup start` (the bundled CLI) answers socketmap lookups from 8 concurrent
 *    Postfix-like clients (one connection each, one request at a time, distinct recipients) for
 *    S seconds: lookups per second and the p99 latency (`lookupsPerSecond`, `p99ms`);
 * 2. end to end: smtp-source submits M messages (distinct recipients, `-N`) to the MTA, which
 *    delivers them to the smtp-sink peer (sink.test) through warmup's transport, while warmup
 *    answers every lookup and records every delivery from the log; then the same Postfix with a
 *    static transport map (texthash) naming the same transport, measured in the same run.
 *    `ratio` = routed throughput / static throughput.
 *    Per side, Postfix's own mean `delays=a/b/c/d` of the delivery lines (before the queue manager,
 *    in it, connecting, transmitting), and the daemon's CPU per routed message (/proc).
 * `--unix` puts the socketmap on a unix socket. `--lookups-only` skips part 2. `--floor` adds a
 * third run: the same lookups answered by a process that only answers (`floorRatio`: what the
 * round trip per recipient costs Postfix by itself). `--cli FILE` runs that bundled CLI (A/B of
 * two builds), `--cpu-prof DIR` writes the daemon's V8 CPU profile. The bench stops only the
 * processes it started.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeNetstring, NetstringDecoder } from '../../src/postfix/netstring.js';
import { installWarmupConfig, loadMta, mtaCtl } from '../peers/mta.js';
import { lockMta } from '../postfix/harness.js';
import { buildCli, machine, procSample, result, round, stop } from './lib.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, messages: { type: 'string' }, 'lookups-only': { type: 'boolean' }, unix: { type: 'boolean' }, cli: { type: 'string' }, 'cpu-prof': { type: 'string' }, floor: { type: 'boolean' } } });
const SECONDS = Number(values.seconds ?? 5);
const MESSAGES = Number(values.messages ?? 1000);
const CLIENTS = 8;
const PORT = 10114;
const IP = '127.0.0.158';
const repo = join(import.meta.dirname, '..', '..');
const mta = loadMta();
// The MTA peer is shared with the routing tests: take turns.
const unlock = await lockMta();
const cli = values.cli ?? buildCli(repo);
const dir = mkdtempSync(join(tmpdir(), 'warmup-bench-route-'));
chmodSync(dir, 0o755); // Postfix's trivial-rewrite (user postfix) reaches a unix socketmap in it
// --unix: the socketmap on a unix socket instead of TCP on loopback.
const target: net.NetConnectOpts = values.unix ? { path: join(dir, 'socketmap') } : { host: '127.0.0.1', port: PORT };
const today = new Date().toISOString().slice(0, 10);
const launch = new Date(Date.now() + 14 * 86_400_000).toISOString().slice(0, 10);
const planFile = join(dir, 'plan.yaml');
writeFileSync(planFile, `name: bench-route
timezone: UTC
start: ${today}
launch: ${launch}
window: { start: "00:00", end: "24:00" }
sender: { from: { address: news@warmup.test }, unsubscribe: { url: "https://warmup.test/u" } }
ips: [{ address: ${IP}, ehlo: mta158.warmup.test }]
providers:
  sinkco: { domains: [sink.test], ramp: { daily: [10000000] } }
  bench: { domains: [bench.test], ramp: { daily: [10000000] } }
delivery: { dns_servers: [127.0.0.60], catch_up_factor: 100, max_connections_per_mx: 20 }
dnsbl: { zones: [zen.dnsbl.test] }
store: { path: ${dir}/warmup.db }
postfix: { listen: "${values.unix ? `unix:${dir}/socketmap` : `127.0.0.1:${PORT}`}", log_file: ${mta.logFile} }
`);
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', cwd: repo });

// ---------------------------------------------------------------- warmup, as users run it
const warmup = spawn(process.execPath, [...(values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] : []), cli, 'start', planFile, '--force', '--from', `${today}T00:00:00Z`, '--log-level', 'warn'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
let warmupOut = '';
warmup.stdout!.on('data', (d) => { warmupOut += d; });
warmup.stderr!.on('data', (d) => { warmupOut += d; });
const ready = Date.now() + 30_000;
while (!(await canConnect())) {
  if (Date.now() > ready || warmup.exitCode !== null) throw new Error(`warmup did not start:\n${warmupOut}`);
  await new Promise((r) => setTimeout(r, 100));
}

function canConnect(): Promise<boolean> {
  return new Promise((r) => { const s = net.connect(target, () => { s.destroy(); r(true); }); s.on('error', () => r(false)); });
}

/** One Postfix-like client: asks, waits for the answer, asks again, until `until`. */
async function client(n: number, until: number, latencies: number[]): Promise<void> {
  const sock = net.connect(target);
  await new Promise((r) => sock.once('connect', r));
  const dec = new NetstringDecoder();
  let waiting: ((s: string) => void) | null = null;
  sock.on('data', (c: Buffer) => { for (const s of dec.push(c)) waiting?.(s); });
  for (let i = 0; Date.now() < until; i++) {
    const t0 = process.hrtime.bigint();
    const reply = await new Promise<string>((r) => { waiting = r; sock.write(encodeNetstring(`warmup c${n}-${i}@bench.test`)); });
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (!reply.startsWith('OK ')) throw new Error(`unexpected answer ${reply}`);
  }
  sock.destroy();
}

const latencies: number[] = [];
const t0 = Date.now();
await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n, t0 + SECONDS * 1000, latencies)));
const elapsed = (Date.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const lookupsPerSecond = Math.round(latencies.length / elapsed);
const p99ms = round(latencies[Math.floor(latencies.length * 0.99)]!, 2);
const p50ms = round(latencies[Math.floor(latencies.length * 0.5)]!, 2);
process.stdout.write(`lookups: ${latencies.length} in ${round(elapsed, 2)} s from ${CLIENTS} clients = ${lookupsPerSecond}/s, p50 ${p50ms} ms, p99 ${p99ms} ms\n`);

if (values['lookups-only']) {
  await stop(warmup);
  result({ bench: 'route', lookupsPerSecond, p99ms, p50ms, clients: CLIENTS, lookups: latencies.length, ...machine() });
  await unlock();
  process.exit(0);
}

// ---------------------------------------------------------------- end to end through Postfix
const transport = `warmup_${IP.replaceAll('.', '_')}`;
const mainCf = sh(process.execPath, [cli, 'postfix', planFile, '--main']);
const masterCf = sh(process.execPath, [cli, 'postfix', planFile, '--master']);

/** The --floor socketmap server (argv: the listen options as JSON, the reply to an address): answers, nothing else. */
const FLOOR_SERVER = `const net = require('node:net'), fs = require('node:fs');
const target = JSON.parse(process.argv[1]), reply = process.argv[2];
const ns = (s) => Buffer.byteLength(s) + ':' + s + ',';
net.createServer((sock) => {
  let buf = '';
  sock.on('data', (c) => {
    buf += c.toString('latin1');
    for (;;) {
      const colon = buf.indexOf(':');
      if (colon < 0) break;
      const len = Number(buf.slice(0, colon));
      if (buf.length < colon + len + 2) break;
      const req = buf.slice(colon + 1, colon + 1 + len);
      buf = buf.slice(colon + len + 2);
      sock.write(ns(req.includes('@') ? reply : 'NOTFOUND '));
    }
  });
  sock.on('error', () => sock.destroy());
}).listen(target, () => { if (target.path) fs.chmodSync(target.path, 0o666); process.stdout.write('ready\\n'); });`;

/** Postfix's own account of a run: the mean of each delivery line's `delays=a/b/c/d` (seconds). */
interface Delays { beforeQmgr: number; inQmgr: number; connect: number; transmit: number }

/** The log from `offset` on (only what this run wrote: the file keeps every earlier run and test). */
function logFrom(offset: number): string {
  const fd = openSync(mta.logFile, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    readSync(fd, buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally { closeSync(fd); }
}

/**
 * Submits MESSAGES with smtp-source and waits until the log shows each delivered: messages per
 * second, and Postfix's delays. The log is read from where it ended before the run, incrementally,
 * so the bench's own reading costs the same on both sides (it read the whole file every 50 ms
 * before, more on the static side, which runs on a longer log).
 */
async function endToEnd(tag: string): Promise<{ rate: number; delays: Delays }> {
  execFileSync('postsuper', ['-c', mta.configDir, '-d', 'ALL'], { stdio: 'ignore' });
  const marker = `${tag}${Date.now().toString(36)}`;
  const needle = `${marker}@sink.test>`;
  let offset = statSync(mta.logFile).size;
  let carry = '';
  const sum = [0, 0, 0, 0];
  let sent = 0;
  const start = Date.now();
  execFileSync('smtp-source', ['-s', '8', '-m', String(MESSAGES), '-l', '1000', '-N', '-f', 'bench@warmup.test', '-t', `${marker}@sink.test`, `${mta.submission.host}:${mta.submission.port}`], { stdio: 'ignore' });
  const deadline = Date.now() + 300_000;
  for (;;) {
    const text = carry + logFrom(offset);
    offset += Buffer.byteLength(text) - Buffer.byteLength(carry);
    const end = text.lastIndexOf('\n') + 1;
    carry = text.slice(end);
    for (const l of text.slice(0, end).split('\n')) {
      if (!l.includes(needle) || !l.includes('status=sent')) continue;
      sent++;
      const d = /delays=([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(l);
      if (d) for (let i = 0; i < 4; i++) sum[i]! += Number(d[i + 1]);
    }
    if (sent >= MESSAGES) break;
    if (Date.now() > deadline) throw new Error(`${tag}: only ${sent} of ${MESSAGES} delivered after 300 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const rate = MESSAGES / ((Date.now() - start) / 1000);
  const ms = (i: number) => round((sum[i]! / sent) * 1000, 1);
  const delays = { beforeQmgr: ms(0), inQmgr: ms(1), connect: ms(2), transmit: ms(3) };
  process.stdout.write(`end to end (${tag}): ${MESSAGES} messages submitted and delivered to smtp-sink in ${round((Date.now() - start) / 1000, 2)} s = ${round(rate)}/s; Postfix's mean delays (ms) before the queue manager ${delays.beforeQmgr}, in it ${delays.inQmgr}, connecting ${delays.connect}, transmitting ${delays.transmit}\n`);
  return { rate, delays };
}

process.on('uncaughtException', (e) => { warmup.kill('SIGTERM'); void unlock(); throw e; });
await installWarmupConfig(mainCf, masterCf);
// The daemon's CPU over the routed run (answering lookups, tailing the log, recording deliveries), per message.
const cpu0 = procSample(warmup.pid!).ticks;
const routed = await endToEnd('routed').catch(async (e) => { await stop(warmup); await unlock(); throw e; });
// Every delivery must be recorded from the log: wait for warmup to catch up, and say how long it lagged.
const recordedSql = `const D=require(${JSON.stringify(join(repo, 'node_modules/better-sqlite3'))});const d=new D(${JSON.stringify(`${dir}/warmup.db`)},{readonly:true});process.stdout.write(String(d.prepare("select coalesce(sum(routed_accepted),0) n from lane_days").pluck().get()))`;
const deliveredAt = Date.now();
let counted = 0;
while ((counted = Number(sh('node', ['-e', recordedSql]))) < MESSAGES && Date.now() - deliveredAt < 120_000) await new Promise((r) => setTimeout(r, 100));
const recordLagMs = Date.now() - deliveredAt;
const daemonCpuMsPerMessage = round(((procSample(warmup.pid!).ticks - cpu0) * 10) / MESSAGES, 3);
process.stdout.write(`warmup recorded ${counted} of ${MESSAGES} deliveries from the log, the last ${recordLagMs} ms after Postfix logged it; its CPU ${daemonCpuMsPerMessage} ms per message (lookups, tailing and recording)\n`);
await stop(warmup);
const staticMap = join(mta.configDir, 'bench-static.map');
writeFileSync(staticMap, `sink.test ${transport}:\n`);
await installWarmupConfig(mainCf.replace(/^transport_maps = .*$/m, `transport_maps = texthash:${staticMap}`), masterCf);
const fixed = await endToEnd('static');
// --floor: the same socketmap lookups answered by a server that does nothing but answer (in this
// process, the same reply for every address): what Postfix's round trip per recipient costs by itself.
let floor: { rate: number; delays: Delays } | null = null;
if (values.floor) {
  // In a process of its own: this one blocks while smtp-source runs.
  if ('path' in target) rmSync(target.path, { force: true });
  const server = spawn(process.execPath, ['-e', FLOOR_SERVER, JSON.stringify(target), `OK ${transport}:`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => server.stdout!.once('data', r));
  await installWarmupConfig(mainCf, masterCf);
  floor = await endToEnd('floor').finally(() => stop(server));
}
await mtaCtl('reload');
await unlock();

const ratio = round(routed.rate / fixed.rate, 2);
process.stdout.write(`routed / static = ${ratio} (${counted} routed deliveries recorded by warmup)\n`);
result({ bench: 'route', socket: values.unix ? 'unix' : 'tcp', lookupsPerSecond, p99ms, p50ms, clients: CLIENTS, lookups: latencies.length, messages: MESSAGES, routedPerSecond: round(routed.rate), staticPerSecond: round(fixed.rate), ratio, recorded: counted, recordLagMs, daemonCpuMsPerMessage, routedDelaysMs: routed.delays, staticDelaysMs: fixed.delays, ...(floor ? { floorPerSecond: round(floor.rate), floorRatio: round(floor.rate / fixed.rate, 2), floorDelaysMs: floor.delays } : {}), ...machine() });
