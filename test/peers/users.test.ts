/**
 * The guard that keeps the shared peers running while external test runs use them (users.ts, lib.sh
 * refuse_if_users). Runs without the peers: users are real child processes, and up.sh/down.sh run
 * against a private state dir whose only "daemon" is a decoy child process recorded in its pids/.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PEERS_IN_USE_EXIT,
  liveUsers,
  pidAlive,
  processStartTime,
  registerUser,
  unregisterUser,
  usersDir,
  waitForNoUsers,
  waitForPeersScripts,
} from './users.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const children: ChildProcess[] = [];

/** A process that stays alive until killed: a test run's vitest, or a daemon. */
function idleProcess(): ChildProcess & { pid: number } {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore' });
  children.push(child);
  return child as ChildProcess & { pid: number };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** The PID of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

afterEach(async () => {
  await Promise.all(children.splice(0).map(stop));
});

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'warmup-peers-guard-'));
}

/** Collects the lines a wait logs, and resolves `first` at the first one. */
function logSink() {
  const lines: string[] = [];
  let seen!: () => void;
  const first = new Promise<void>((r) => (seen = r));
  return { lines, first, log: (line: string) => { lines.push(line); seen(); } };
}

describe('users of the shared peers', () => {
  it('lists the live registered users and removes the files of dead ones', async () => {
    const dir = path.join(tempDir(), 'peers.users');
    const user = idleProcess();
    const dead = await deadPid();
    await registerUser(dir, user.pid);
    await registerUser(dir, dead);
    writeFileSync(path.join(dir, 'not-a-pid'), '');

    expect(await liveUsers(dir)).toEqual([user.pid]);
    expect(readdirSync(dir).sort()).toEqual([String(user.pid), 'not-a-pid'].sort());

    await unregisterUser(dir, user.pid);
    expect(await liveUsers(dir)).toEqual([]);
  });

  it('counts a live PID started at another time (a reused PID) as dead, and an older file without start time by its PID', async () => {
    const dir = path.join(tempDir(), 'peers.users');
    const reused = idleProcess();
    const older = idleProcess();
    const wrong = String(Number(processStartTime(reused.pid)) + 1);
    await registerUser(dir, reused.pid, wrong);
    writeFileSync(path.join(dir, String(older.pid)), '');

    expect(pidAlive(reused.pid)).toBe(true);
    expect(await liveUsers(dir)).toEqual([older.pid]);
    expect(readdirSync(dir)).toEqual([String(older.pid)]);

    // the same process with its own start time is a user
    await registerUser(dir, reused.pid);
    expect(readFileSync(path.join(dir, String(reused.pid)), 'utf8')).toBe(`${processStartTime(reused.pid)}\n`);
    expect(await liveUsers(dir)).toEqual([reused.pid, older.pid].sort((a, b) => a - b));
  });

  it('has no users before anyone registered (no users folder yet)', async () => {
    expect(await liveUsers(path.join(tempDir(), 'never.users'))).toEqual([]);
  });

  it('waits while a registered user lives, saying for whom, and goes on once it has exited', async () => {
    const dir = usersDir(path.join(tempDir(), 'peers'));
    const user = idleProcess();
    await registerUser(dir, user.pid);
    const sink = logSink();
    let done = false;
    const waiting = waitForNoUsers(dir, { timeoutMs: 20_000, log: sink.log }).then(() => (done = true));

    await sink.first;
    expect(sink.lines).toEqual([`warmup-peers: waiting for external test runs (vitest pids ${user.pid}) to finish using the peers (${dir})`]);
    expect(done).toBe(false);

    await stop(user);
    await waiting;
    expect(done).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives up after its limit, naming the users it waited for', async () => {
    const dir = usersDir(path.join(tempDir(), 'peers'));
    const user = idleProcess();
    await registerUser(dir, user.pid);
    await expect(waitForNoUsers(dir, { timeoutMs: 0, log: () => {} })).rejects.toThrow(
      `warmup-peers: gave up after 0 ms waiting for external test runs (vitest pids ${user.pid})`,
    );
  });

  it('waits while up.sh/down.sh hold the state dir lock, and not at all when nobody does', async () => {
    const lockFile = path.join(tempDir(), 'peers.lock');
    const free = logSink();
    await waitForPeersScripts(lockFile, { timeoutMs: 0, log: free.log });
    expect(free.lines).toEqual([]);

    // the lock as take_lock holds it (flock on the file), held until the holder's stdin closes
    const holder = spawn('flock', [lockFile, 'sh', '-c', 'echo held; read line'], { stdio: ['pipe', 'pipe', 'ignore'] });
    children.push(holder);
    await once(holder.stdout!, 'data');
    const sink = logSink();
    let done = false;
    const waiting = waitForPeersScripts(lockFile, { timeoutMs: 20_000, log: sink.log }).then(() => (done = true));

    await sink.first;
    expect(sink.lines).toEqual([`warmup-peers: waiting for test/peers up.sh/down.sh to finish (${lockFile} is held)`]);
    expect(done).toBe(false);

    holder.stdin!.end();
    await waiting;
    expect(done).toBe(true);
  });
});

describe('up.sh and down.sh while external runs use the peers', () => {
  /**
   * A state dir as up.sh leaves it, whose one recorded daemon is a decoy process of ours: if a
   * script went past its check, stop_all would stop the decoy. A dpkg-query shim that reports no
   * package installed makes up.sh fail before starting anything, should it ever get that far.
   */
  function stateDir(): { dir: string; decoy: ChildProcess & { pid: number }; env: NodeJS.ProcessEnv } {
    const dir = path.join(tempDir(), 'peers');
    mkdirSync(path.join(dir, 'pids'), { recursive: true });
    mkdirSync(path.join(dir, 'logs'));
    writeFileSync(path.join(dir, '.warmup-peers'), '');
    const decoy = idleProcess();
    writeFileSync(path.join(dir, 'pids', 'dnsmasq.pid'), `${decoy.pid}\n`);
    const bin = tempDir();
    writeFileSync(path.join(bin, 'dpkg-query'), '#!/bin/sh\nexit 0\n');
    chmodSync(path.join(bin, 'dpkg-query'), 0o755);
    const env = { ...process.env, WARMUP_PEERS_DIR: dir, PATH: `${bin}:${process.env.PATH}`, WARMUP_PEERS_FORCE: '' };
    return { dir, decoy, env };
  }

  function script(name: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
    return new Promise((resolve) => {
      execFile('bash', [path.join(HERE, name)], { env, timeout: 20_000 }, (err, _out, stderr) =>
        resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
      );
    });
  }

  // a user file holds the user's start time; an older one is empty
  for (const [name, format] of [['up.sh', 'current'], ['down.sh', 'current'], ['down.sh', 'older']] as const) {
    it(`${name} refuses, naming the users and the override, and touches no daemon (${format} user file)`, async () => {
      const { dir, decoy, env } = stateDir();
      const user = idleProcess();
      await registerUser(usersDir(dir), user.pid, format === 'older' ? null : undefined);

      const { code, stderr } = await script(name, env);
      expect(code).toBe(PEERS_IN_USE_EXIT);
      expect(stderr).toBe(
        `warmup-peers: refusing: external test runs use the peers (vitest pids: ${user.pid}, registered in ${dir}.users); ` +
          'wait for them to finish, or override with WARMUP_PEERS_FORCE=1\n',
      );
      expect(pidAlive(decoy.pid)).toBe(true);
      expect(existsSync(path.join(dir, 'pids', 'dnsmasq.pid'))).toBe(true);
    });
  }

  it('down.sh stops the peers with WARMUP_PEERS_FORCE=1 although a user lives', async () => {
    const { dir, decoy, env } = stateDir();
    await registerUser(usersDir(dir), idleProcess().pid);
    const exited = once(decoy, 'exit');

    const { code, stderr } = await script('down.sh', { ...env, WARMUP_PEERS_FORCE: '1' });
    expect(code).toBe(0);
    expect(stderr).toContain('WARMUP_PEERS_FORCE=1: going on although external test runs use the peers');
    await exited;
    expect(existsSync(path.join(dir, 'pids', 'dnsmasq.pid'))).toBe(false);
  });

  it('down.sh is not held back by a live PID started at another time than its file says (a reused PID)', async () => {
    const { dir, decoy, env } = stateDir();
    const reused = idleProcess();
    await registerUser(usersDir(dir), reused.pid, String(Number(processStartTime(reused.pid)) + 1));
    const exited = once(decoy, 'exit');

    const { code, stderr } = await script('down.sh', env);
    expect(stderr).not.toContain('refusing');
    expect(code).toBe(0);
    await exited;
    expect(pidAlive(reused.pid)).toBe(true);
    expect(readdirSync(usersDir(dir))).toEqual([]);
  });

  it('down.sh stops a recorded daemon started when its file says, and leaves alone a PID since reused by another process', async () => {
    const { dir, decoy, env } = stateDir();
    const start = processStartTime(decoy.pid);
    writeFileSync(path.join(dir, 'pids', 'dnsmasq.pid'), `${decoy.pid} ${start}\n`);
    const reused = idleProcess();
    writeFileSync(path.join(dir, 'pids', 'rbldnsd.pid'), `${reused.pid} ${Number(processStartTime(reused.pid)) + 1}\n`);
    const exited = once(decoy, 'exit');

    const { code } = await script('down.sh', env);
    expect(code).toBe(0);
    await exited;
    expect(pidAlive(reused.pid)).toBe(true);
    expect(readdirSync(path.join(dir, 'pids'))).toEqual([]);
  });

  it('down.sh is not held back by a dead user, whose file it removes', async () => {
    const { dir, decoy, env } = stateDir();
    const dead = await deadPid();
    await registerUser(usersDir(dir), dead);
    const exited = once(decoy, 'exit');

    const { code } = await script('down.sh', env);
    expect(code).toBe(0);
    await exited;
    expect(readdirSync(usersDir(dir))).toEqual([]);
  });
});
