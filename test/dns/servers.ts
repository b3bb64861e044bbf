/**
 * Test DNS servers on loopback: a private dnsmasq (real answers) and a tiny
 * UDP responder for the failures dnsmasq will not produce on demand.
 * Each test file passes its own listen address so files can run in parallel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDnsResolver } from '../../src/dns/resolver.js';

export interface Dnsmasq {
  readonly server: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Start dnsmasq authoritative for `.test` with the given config lines
 * (mx-host=, host-record=, txt-record=...). Resolves once it answers.
 * `probe` must be a host-record name defined in `lines`.
 */
export async function startDnsmasq(listen: string, port: number, lines: string[], probe: string): Promise<Dnsmasq> {
  const dir = mkdtempSync(join(tmpdir(), 'warmup-dnsmasq-'));
  const conf = join(dir, 'dnsmasq.conf');
  writeFileSync(conf, [...lines, 'local=/test/', ''].join('\n'));
  const child: ChildProcess = spawn(
    'dnsmasq',
    [
      '--keep-in-foreground',
      `--port=${port}`,
      `--listen-address=${listen}`,
      '--bind-interfaces',
      '--no-hosts',
      '--no-resolv',
      '--cache-size=0',
      `--conf-file=${conf}`,
      `--pid-file=${join(dir, 'pid')}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid;
  if (pid === undefined) throw new Error('dnsmasq did not start');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    // Only the PID we started, never by name.
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const server = `${listen}:${port}`;
  const resolver = createDnsResolver({ servers: [server], timeoutMs: 200, tries: 1 });
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) break;
    try {
      if ((await resolver.resolve4(probe)).length > 0) return { server, pid, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stop();
  throw new Error(`dnsmasq did not come up on ${server}: ${stderr}`);
}

export interface FakeDns {
  readonly server: string;
  /** Queries received so far. */
  readonly queries: () => number;
  stop(): Promise<void>;
}

/** A UDP "DNS server" that answers every query with SERVFAIL, or never answers. */
export async function startFakeDns(listen: string, mode: 'servfail' | 'silent'): Promise<FakeDns> {
  const sock: Socket = createSocket('udp4');
  let count = 0;
  sock.on('message', (msg, rinfo) => {
    count++;
    if (mode === 'silent' || msg.length < 12) return;
    // Header plus the question section only (drop any EDNS OPT record).
    let end = 12;
    while (end < msg.length && msg[end] !== 0) end += msg[end]! + 1;
    const reply = Buffer.from(msg.subarray(0, Math.min(end + 5, msg.length)));
    // QR=1, keep opcode and RD; RA=1, RCODE=2 (SERVFAIL); no answer records.
    reply[2] = 0x80 | (msg[2]! & 0x79);
    reply[3] = 0x80 | 0x02;
    reply.writeUInt16BE(0, 6);
    reply.writeUInt16BE(0, 8);
    reply.writeUInt16BE(0, 10);
    sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, listen, () => resolve());
  });
  const { port } = sock.address();
  return {
    server: `${listen}:${port}`,
    queries: () => count,
    stop: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}
