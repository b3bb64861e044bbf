/** Shared helpers of the benchmarks (not tests: they measure, they assert nothing). */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';

/** The machine, for the figures' context. */
export function machine(): { nproc: number; cpu: string; memGB: number; node: string; openssl: string; avx512ifma: boolean; kernel: string; loadavg1: number } {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  // The 1-minute load average: other work on the machine skews every figure, so it is printed with them.
  const loadavg1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  // OpenSSL 3 signs RSA with AVX-512 IFMA where the CPU has it: an RSA-2048 signature then costs less than half
  // (0.29-0.35 ms against 0.72-0.74 on the machine before), which moves signedRatio's ceiling with it.
  const avx512ifma = /^flags\s*:.*\bavx512ifma\b/m.test(cpuinfo);
  return { nproc: cpus().length, cpu: model, memGB: Math.round(totalmem() / 2 ** 30), node: process.version, openssl: process.versions.openssl, avx512ifma, kernel: release(), loadavg1 };
}

/** A throwaway 2048-bit RSA DKIM key written as `dir/dkim.pem`; returns the PEM. */
export function throwawayKey(dir: string): string {
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(join(dir, 'dkim.pem'), pem, { mode: 0o600 });
  return pem;
}

/** Prints the last line every bench ends with. */
export function result(figures: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

/** Starts a process we own; the caller stops exactly this PID. */
export function start(cmd: string, args: readonly string[]): ChildProcess {
  // A fresh machine has no Postfix yet: `npm test` installs the peers first (its pretest), a bench does not.
  if (cmd.startsWith('/') && !existsSync(cmd)) throw new Error(`${cmd} is not installed: \`bash test/peers/install.sh\` installs the test peers (npm test runs it first)`);
  const child = spawn(cmd, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[${cmd.split('/').pop()}] ${d}`));
  return child;
}

/** Stops one process we started, by its PID, and waits for it to exit. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid!, 'SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (child.exitCode === null && child.signalCode === null) { process.kill(child.pid!, 'SIGKILL'); await exited; }
}

/** Resolves once something accepts TCP connections at host:port. */
export async function waitForPort(host: string, port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect({ host, port }, () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** CPU ticks (utime + stime) and RSS of a process, from /proc. */
export function procSample(pid: number): { ticks: number; rssKB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: index 11 = utime, 12 = stime (man 5 proc, minus the first two).
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { ticks, rssKB };
}

export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Compiles src/ to `tmp/bench/dist` (gitignored) and returns the CLI entry, so
 * process-level benches time what users run (the bundled `dist/bundle/main.js` the bin points at), not
 * tsx's on-the-fly compilation. The real dist/ is left alone.
 */
export function buildCli(repo: string): string {
  // The shipped CLI: the bundle `npm run build` makes (dist/bundle), the file the `warmup` bin runs.
  const r = spawnSync('npm', ['run', '--silent', 'bundle'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`npm run bundle failed:\n${String(r.stderr).slice(0, 2000)}`);
  return join(repo, 'dist', 'bundle', 'main.js');
}
