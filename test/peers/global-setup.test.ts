/**
 * The globalSetup's share of the guard (global-setup.ts), run against a private state dir and not
 * the peers: a dpkg-query shim that reports no package installed makes its up.sh fail at its
 * package check, before it could start or stop anything; users are real child processes.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { processStartTime, registerUser, usersDir } from './users.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const children: ChildProcess[] = [];
const savedEnv = { ...process.env };
let dir = '';
let stderr: string[] = [];

beforeEach(() => {
  const root = mkdtempSync(path.join(tmpdir(), 'warmup-global-setup-'));
  dir = path.join(root, 'peers');
  const bin = path.join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'dpkg-query'), '#!/bin/sh\nexit 0\n');
  chmodSync(path.join(bin, 'dpkg-query'), 0o755);
  Object.assign(process.env, { WARMUP_PEERS_DIR: dir, PATH: `${bin}:${savedEnv.PATH}`, WARMUP_PEERS_WAIT_MS: '20000' });
  stderr = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
  vi.resetModules(); // global-setup.ts reads the environment when loaded
});

afterEach(async () => {
  vi.restoreAllMocks();
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
  await Promise.all(
    children.splice(0).map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = once(c, 'exit');
      c.kill('SIGKILL');
      await exited;
    }),
  );
});

function idleProcess(): ChildProcess & { pid: number } {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore' });
  children.push(child);
  return child as ChildProcess & { pid: number };
}

/** Settles to 'resolved' or the rejection's message; `settled` tells whether it has yet. */
function track(p: Promise<unknown>) {
  const t = { settled: false, result: p.then(() => 'resolved', (e: Error) => e.message).finally(() => (t.settled = true)) };
  return t;
}

describe('test/peers/global-setup.ts', () => {
  it('a run that starts the peers holds its lock and runs up.sh only once the external users are gone', async () => {
    delete process.env.WARMUP_PEERS;
    const user = idleProcess();
    await registerUser(usersDir(dir), user.pid);
    const { setup } = await import('./global-setup.js');

    const run = track(setup());
    await vi.waitFor(() => expect(stderr.join('')).toContain(`waiting for external test runs (vitest pids ${user.pid})`), { timeout: 10_000 });
    expect(run.settled).toBe(false);
    expect(readFileSync(`${dir}.run-lock/owner`, 'utf8')).toBe(`${process.pid}\n`);
    expect(readFileSync(`${dir}.run-lock/owner-start`, 'utf8')).toBe(`${processStartTime(process.pid)}\n`);

    user.kill('SIGKILL');
    // up.sh ran (and stopped at the shim's missing packages): it was not refused, the user was gone
    expect(await run.result).toMatch(/^test\/peers\/up\.sh failed \(exit 1\):[\s\S]*missing Debian packages/);
    expect(existsSync(`${dir}.run-lock`)).toBe(false);
  });

  it('an external run is a registered user from setup to teardown, and waits for an up.sh at work', async () => {
    process.env.WARMUP_PEERS = 'external';
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'peers.json'), '{}');
    const holder = spawn('flock', [`${dir}.lock`, 'sh', '-c', 'echo held; read line'], { stdio: ['pipe', 'pipe', 'ignore'] });
    children.push(holder);
    await once(holder.stdout!, 'data');
    const { setup, teardown } = await import('./global-setup.js');

    const run = track(setup());
    await vi.waitFor(() => expect(stderr.join('')).toContain('waiting for test/peers up.sh/down.sh to finish'), { timeout: 10_000 });
    expect(run.settled).toBe(false);
    expect(readdirSync(usersDir(dir))).toEqual([String(process.pid)]);

    holder.stdin!.end();
    expect(await run.result).toBe('resolved');
    expect(readdirSync(usersDir(dir))).toEqual([String(process.pid)]);
    await teardown();
    expect(readdirSync(usersDir(dir))).toEqual([]);
  });

  it('an external run without running peers fails and leaves no registration behind', async () => {
    process.env.WARMUP_PEERS = 'external';
    const { setup } = await import('./global-setup.js');
    await expect(setup()).rejects.toThrow(`WARMUP_PEERS=external but ${dir}/peers.json does not exist`);
    expect(readdirSync(usersDir(dir))).toEqual([]);
  });

  /** A run lock as another run left it: `owner` = its PID, `owner-start` its start time if given. */
  function lockHeldBy(pid: number, startTime: string | null): void {
    mkdirSync(`${dir}.run-lock`, { recursive: true });
    if (startTime !== null) writeFileSync(`${dir}.run-lock/owner-start`, `${startTime}\n`);
    writeFileSync(`${dir}.run-lock/owner`, `${pid}\n`);
  }

  for (const format of ['with', 'without'] as const) {
    it(`waits for a run lock whose owner lives, ${format} its start time recorded`, async () => {
      delete process.env.WARMUP_PEERS;
      process.env.WARMUP_PEERS_WAIT_MS = '0';
      const owner = idleProcess();
      lockHeldBy(owner.pid, format === 'with' ? processStartTime(owner.pid) : null);
      const { setup } = await import('./global-setup.js');
      await expect(setup()).rejects.toThrow(`warmup-peers: gave up after 0 ms waiting for test run pid ${owner.pid} to release ${dir}.run-lock`);
      expect(readFileSync(`${dir}.run-lock/owner`, 'utf8')).toBe(`${owner.pid}\n`);
    });
  }

  it('takes over a run lock whose owner PID lives but started at another time (a reused PID)', async () => {
    delete process.env.WARMUP_PEERS;
    process.env.WARMUP_PEERS_WAIT_MS = '0';
    const reused = idleProcess();
    lockHeldBy(reused.pid, String(Number(processStartTime(reused.pid)) + 1));
    const { setup } = await import('./global-setup.js');

    // it took the lock and ran up.sh (which stopped at the shim's missing packages), then let go
    await expect(setup()).rejects.toThrow(/^test\/peers\/up\.sh failed \(exit 1\):[\s\S]*missing Debian packages/);
    expect(existsSync(`${dir}.run-lock`)).toBe(false);
  });

  it('an external run after down.sh fails saying to start the peers, and the stopped peers.json stays for post-mortems', async () => {
    // a state dir as up.sh leaves it, whose one recorded "daemon" is a decoy process of ours
    mkdirSync(path.join(dir, 'pids'), { recursive: true });
    mkdirSync(path.join(dir, 'logs'));
    writeFileSync(path.join(dir, '.warmup-peers'), '');
    writeFileSync(path.join(dir, 'peers.json'), '{"dir":"decoy"}\n');
    const decoy = idleProcess();
    writeFileSync(path.join(dir, 'pids', 'dnsmasq.pid'), `${decoy.pid}\n`);
    const exited = once(decoy, 'exit');
    const env = { ...process.env, WARMUP_PEERS_FORCE: '' };
    const code = await new Promise<number>((resolve) =>
      execFile('bash', [path.join(HERE, 'down.sh')], { env, timeout: 20_000 }, (err) => resolve(err ? Number(err.code ?? 1) : 0)),
    );
    expect(code).toBe(0);
    await exited; // down.sh did stop the recorded peers
    expect(readdirSync(path.join(dir, 'pids'))).toEqual([]);

    process.env.WARMUP_PEERS = 'external';
    const { setup } = await import('./global-setup.js');
    await expect(setup()).rejects.toThrow(
      `WARMUP_PEERS=external but ${dir}/peers.json does not exist: start test/peers/up.sh first`,
    );
    expect(readFileSync(path.join(dir, 'peers.stopped.json'), 'utf8')).toBe('{"dir":"decoy"}\n');
    expect(readdirSync(usersDir(dir))).toEqual([]);
  });
});
