/**
 * Who uses the shared test peers, so that nobody restarts or stops them under a running test.
 *
 * An external test run (WARMUP_PEERS=external) registers as a user for its whole duration: an
 * file named by its vitest main-process PID in `$WARMUP_PEERS_DIR.users/` (outside the state dir,
 * which up.sh wipes), holding that process's start time ({@link processStartTime}). A file whose PID
 * is dead, or alive but started at another time (the PID was reused after a crash), is ignored and
 * removed by whoever sees it; an empty file (older format) counts while its PID is alive.
 * up.sh and down.sh (lib.sh `refuse_if_users`) refuse to run while a live user exists, and a
 * non-external run waits for the users to go before it starts the peers (global-setup.ts).
 *
 * The one race, a user registering while up.sh restarts the peers, is closed by ordering: up.sh
 * takes `$DIR.lock` and then reads the users; a user registers and then waits until nobody holds
 * `$DIR.lock` ({@link waitForPeersScripts}). Either up.sh sees the user and refuses, or the user
 * starts after up.sh has finished.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Exit status of up.sh / down.sh when they refuse because live users exist (lib.sh). */
export const PEERS_IN_USE_EXIT = 75;

/** Where the users of the peers in `peersDir` register. */
export function usersDir(peersDir: string): string {
  return `${peersDir}.users`;
}

/**
 * When process `pid` started: field 22 of /proc/PID/stat (clock ticks since boot), as digits; null
 * if it cannot be read (no such process, or no /proc). A PID names one process only together with
 * it: PIDs are reused (pid_max is 32768 here), a start time is not, for the life of the machine.
 */
export function processStartTime(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // field 2 is the command in parentheses and may itself hold spaces and ')': fields 3.. follow the last ')'
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3];
  return start && /^[0-9]+$/.test(start) ? start : null;
}

/**
 * True if a process with this PID exists (EPERM: it exists but is not ours) and, when `startTime`
 * is given, started then ({@link processStartTime}): a reused PID is another process. Without a
 * start time (older records), or where it cannot be read, the PID alone decides.
 */
export function pidAlive(pid: number, startTime?: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!startTime) return true;
  const now = processStartTime(pid);
  return now === null || now === startTime;
}

/**
 * Registers `pid` (default: this process) as a user of the peers, with its start time (tests pass
 * another to stand for a reused PID).
 */
export async function registerUser(
  dir: string,
  pid: number = process.pid,
  startTime: string | null = processStartTime(pid),
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, String(pid)), startTime === null ? '' : `${startTime}\n`);
}

/** Removes `pid`'s registration (no error if there is none). */
export async function unregisterUser(dir: string, pid: number = process.pid): Promise<void> {
  await rm(path.join(dir, String(pid)), { force: true });
}

/**
 * The registered PIDs that are alive (and started when their file says), ascending; dead users'
 * files are removed on the way.
 */
export async function liveUsers(dir: string): Promise<number[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const live: number[] = [];
  for (const name of names) {
    if (!/^[1-9][0-9]*$/.test(name)) continue;
    const pid = Number(name);
    const startTime = (await readFile(path.join(dir, name), 'utf8').catch(() => '')).trim();
    if (pidAlive(pid, startTime)) live.push(pid);
    else await rm(path.join(dir, name), { force: true });
  }
  return live.sort((a, b) => a - b);
}

/** How a wait reports itself: `log` gets one line at the start and then every 30 s. */
export interface WaitOptions {
  timeoutMs: number;
  log?: (line: string) => void;
}

/**
 * Polls `busy` every 250 ms until it returns null; while it returns a description of what is
 * awaited, logs `warmup-peers: waiting for <it>` (at once, then every 30 s, so a long wait is
 * visible but not noisy). Throws once `timeoutMs` has passed, naming what it waited for.
 */
export async function waitWhile(busy: () => Promise<string | null>, opts: WaitOptions): Promise<void> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const deadline = Date.now() + opts.timeoutMs;
  let announced = 0;
  for (;;) {
    const what = await busy();
    if (what === null) return;
    if (Date.now() >= deadline) throw new Error(`warmup-peers: gave up after ${opts.timeoutMs} ms waiting for ${what}`);
    if (Date.now() - announced > 30_000) {
      announced = Date.now();
      log(`warmup-peers: waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until no live user of the peers is registered in `dir` (a non-external run, before up.sh). */
export function waitForNoUsers(dir: string, opts: WaitOptions): Promise<void> {
  return waitWhile(async () => {
    const live = await liveUsers(dir);
    return live.length === 0 ? null : `external test runs (vitest pids ${live.join(', ')}) to finish using the peers (${dir})`;
  }, opts);
}

/**
 * Waits until nobody holds `lockFile` (`$DIR.lock`: up.sh, down.sh or mta.sh at work). An external
 * run calls it after {@link registerUser}, so it never starts on peers being restarted or stopped.
 */
export function waitForPeersScripts(lockFile: string, opts: WaitOptions): Promise<void> {
  return waitWhile(
    () =>
      new Promise((resolve, reject) => {
        // flock -n exits 1 when another process holds the lock; it takes and drops it otherwise
        execFile('flock', ['-n', lockFile, 'true'], (err) => {
          if (!err) resolve(null);
          else if (err.code === 1) resolve(`test/peers up.sh/down.sh to finish (${lockFile} is held)`);
          else reject(new Error(`flock ${lockFile} failed: ${err.message}`));
        });
      }),
    opts,
  );
}
