/**
 * `npm run bench -- route [--seconds S] [--messages M]`
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
 * `--unix` puts the socketmap on a unix socket. `--lookups-only` skips part 2. The bench stops only the warmup process it started.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeNetstring, NetstringDecoder } from '../../src/postfix/netstring.js';
import { installWarmupConfig, loadMta, mtaCtl } from '../peers/mta.js';
import { lockMta } from '../postfix/harness.js';
import { buildCli, machine, result, round, stop } from './lib.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, messages: { type: 'string' }, 'lookups-only': { type: 'boolean' }, unix: { type: 'boolean' } } });
const SECONDS = Number(values.seconds ?? 5);
const MESSAGES = Number(values.messages ?? 1000);
const CLIENTS = 8;
const PORT = 10114;
const IP = '127.0.0.158';
const repo = join(import.meta.dirname, '..', '..');
const mta = loadMta();
// The MTA peer is shared with the routing tests: take turns.
const unlock = await lockMta();
const cli = buildCli(repo);
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
const warmup = spawn(process.execPath, [cli, 'start', planFile, '--force', '--from', `${today}T00:00:00Z`, '--log-level', 'warn'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Submits MESSAGES with smtp-source and waits until the log shows each delivered; messages per second. */
async function endToEnd(tag: string): Promise<number> {
  execFileSync('postsuper', ['-c', mta.configDir, '-d', 'ALL'], { stdio: 'ignore' });
  const marker = `${tag}${Date.now().toString(36)}`;
  const start = Date.now();
  execFileSync('smtp-source', ['-s', '8', '-m', String(MESSAGES), '-l', '1000', '-N', '-f', 'bench@warmup.test', '-t', `${marker}@sink.test`, `${mta.submission.host}:${mta.submission.port}`], { stdio: 'ignore' });
  const deadline = Date.now() + 300_000;
  for (;;) {
    const sent = readFileSync(mta.logFile, 'utf8').split('\n').filter((l) => l.includes(`${marker}@sink.test>`) && l.includes('status=sent')).length;
    if (sent >= MESSAGES) break;
    if (Date.now() > deadline) throw new Error(`${tag}: only ${sent} of ${MESSAGES} delivered after 300 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const rate = MESSAGES / ((Date.now() - start) / 1000);
  process.stdout.write(`end to end (${tag}): ${MESSAGES} messages submitted and delivered to smtp-sink in ${round((Date.now() - start) / 1000, 2)} s = ${round(rate)}/s\n`);
  return rate;
}

process.on('uncaughtException', (e) => { warmup.kill('SIGTERM'); void unlock(); throw e; });
await installWarmupConfig(mainCf, masterCf);
const routed = await endToEnd('routed').catch(async (e) => { await stop(warmup); await unlock(); throw e; });
// Every delivery must be recorded from the log: wait for warmup to catch up, and say how long it lagged.
const recordedSql = `const D=require(${JSON.stringify(join(repo, 'node_modules/better-sqlite3'))});const d=new D(${JSON.stringify(`${dir}/warmup.db`)},{readonly:true});process.stdout.write(String(d.prepare("select coalesce(sum(routed_accepted),0) n from lane_days").pluck().get()))`;
const deliveredAt = Date.now();
let counted = 0;
while ((counted = Number(sh('node', ['-e', recordedSql]))) < MESSAGES && Date.now() - deliveredAt < 120_000) await new Promise((r) => setTimeout(r, 100));
const recordLagMs = Date.now() - deliveredAt;
process.stdout.write(`warmup recorded ${counted} of ${MESSAGES} deliveries from the log, the last ${recordLagMs} ms after Postfix logged it\n`);
await stop(warmup);
const staticMap = join(mta.configDir, 'bench-static.map');
writeFileSync(staticMap, `sink.test ${transport}:\n`);
await installWarmupConfig(mainCf.replace(/^transport_maps = .*$/m, `transport_maps = texthash:${staticMap}`), masterCf);
const fixed = await endToEnd('static');
await mtaCtl('reload');
await unlock();

const ratio = round(routed / fixed, 2);
process.stdout.write(`routed / static = ${ratio} (${counted} routed deliveries recorded by warmup)\n`);
result({ bench: 'route', socket: values.unix ? 'unix' : 'tcp', lookupsPerSecond, p99ms, p50ms, clients: CLIENTS, lookups: latencies.length, messages: MESSAGES, routedPerSecond: round(routed), staticPerSecond: round(fixed), ratio, recorded: counted, recordLagMs, ...machine() });
