/**
 * vitest globalSetup: starts the real loopback test peers once per run (test/peers/up.sh) and
 * stops them afterwards (test/peers/down.sh). With WARMUP_PEERS=external the peers are assumed
 * to be running already (started by hand or by CI): only $WARMUP_PEERS_DIR/peers.json is checked.
 *
 * The peers live on fixed loopback addresses, so two test runs on one machine cannot use them at
 * the same time (rate-limit counters, greylisting and verdicts are per client IP, and a second
 * up.sh restarts everything). A run therefore holds an exclusive run lock ($DIR.run-lock, owned by
 * the vitest main process: its PID in `owner`, its start time in `owner-start`) from setup to
 * teardown; a second run waits for it (at most WARMUP_PEERS_WAIT_MS, default 15 min) and a lock
 * whose owner died is taken over (also when its PID is alive but names a process started at another
 * time: PIDs are reused).
 *
 * External runs share the running peers with each other and with the run holding the lock, so
 * the peers must not be restarted or stopped under them (users.ts): an external run registers as
 * a user ($DIR.users/PID) and starts once no up.sh/down.sh is at work; a non-external run waits
 * (same limit) until no user is left before up.sh, and at teardown leaves the peers running if
 * users registered meanwhile (down.sh refuses: stopping the peers would fail those runs' tests).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
  waitWhile,
} from './users.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const dir = process.env.WARMUP_PEERS_DIR ?? '/tmp/warmup-peers';
const external = process.env.WARMUP_PEERS === 'external';
const lockDir = `${dir}.run-lock`;
const ownerFile = path.join(lockDir, 'owner');
const ownerStartFile = path.join(lockDir, 'owner-start');
const users = usersDir(dir);
const waitMs = Number(process.env.WARMUP_PEERS_WAIT_MS ?? 15 * 60_000);
let holdingLock = false;
let registered = false;

/**
 * Runs test/peers/NAME: 'done', or 'in-use' when it refused because external runs use the peers.
 * WARMUP_PEERS_FORCE is not passed on: a test run never overrides that refusal.
 */
function runScript(name: string, timeoutMs: number): Promise<'done' | 'in-use'> {
  const env = { ...process.env };
  delete env.WARMUP_PEERS_FORCE;
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [path.join(HERE, name)],
      { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, _stdout, stderr) => {
        if (!err) resolve('done');
        else if (err.code === PEERS_IN_USE_EXIT) resolve('in-use');
        else reject(new Error(`test/peers/${name} failed (${err.killed ? 'timed out' : `exit ${err.code}`}):\n${stderr}`));
      },
    );
  });
}

async function acquireRunLock(timeoutMs: number): Promise<void> {
  await waitWhile(async () => {
    for (;;) {
      try {
        await mkdir(lockDir);
        // the start time first, in a file of its own: checkouts whose global-setup predates it read
        // `owner` as a bare PID, and a reader that sees `owner` sees `owner-start` too
        await writeFile(ownerStartFile, `${processStartTime(process.pid) ?? ''}\n`);
        await writeFile(ownerFile, `${process.pid}\n`);
        holdingLock = true;
        return null;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = Number((await readFile(ownerFile, 'utf8').catch(() => '')).trim());
      const ownerStart = (await readFile(ownerStartFile, 'utf8').catch(() => '')).trim();
      // an owner that died (or whose PID now names a process started at another time), or a lock
      // left without owner for 5 s (its creator died in between), is taken over
      const stale = owner > 0
        ? !pidAlive(owner, ownerStart)
        : Date.now() - ((await stat(lockDir).catch(() => undefined))?.mtimeMs ?? 0) > 5000;
      if (!stale) return `test run pid ${owner} to release ${lockDir}`;
      await rm(lockDir, { recursive: true, force: true });
    }
  }, { timeoutMs });
}

async function releaseRunLock(): Promise<void> {
  if (!holdingLock) return;
  holdingLock = false;
  await rm(lockDir, { recursive: true, force: true });
}

/**
 * Every test file's temporary folders (os.tmpdir(): mkdtemp, daemons' state, plans) go into one
 * folder of this run, removed at teardown: tests that kill a daemon or fail midway leave nothing
 * behind in /tmp. Test workers and the processes they start inherit TMPDIR.
 */
let runTmp: string | null = null;

async function makeRunTmp(): Promise<void> {
  runTmp = await mkdtemp(path.join(tmpdir(), 'warmup-test-run-'));
  // As /tmp itself: the peers' daemons (postfix, dovecot, postgres users) reach files tests put here.
  await chmod(runTmp, 0o1777);
  process.env.TMPDIR = runTmp;
}

async function removeRunTmp(): Promise<void> {
  if (runTmp) await rm(runTmp, { recursive: true, force: true });
  runTmp = null;
}

/** An external run: register as a user, then wait for any up.sh/down.sh at work to finish. */
async function joinExternal(): Promise<void> {
  await registerUser(users);
  registered = true;
  await waitForPeersScripts(`${dir}.lock`, { timeoutMs: waitMs });
  if (!existsSync(path.join(dir, 'peers.json'))) {
    throw new Error(`WARMUP_PEERS=external but ${dir}/peers.json does not exist: start test/peers/up.sh first`);
  }
}

/**
 * A non-external run, holding the run lock: up.sh once no external run uses the peers. up.sh checks
 * again under its own lock and refuses if one registered since: then wait and try again.
 */
async function startPeers(): Promise<void> {
  const deadline = Date.now() + waitMs;
  // Packages are installed before vitest starts (npm's `pretest`: test/peers/install.sh), so up.sh
  // only starts daemons: ~3 s idle; the limit allows for a machine loaded by other work.
  const startMs = Number(process.env.WARMUP_PEERS_START_TIMEOUT_MS ?? 120_000);
  do {
    await waitForNoUsers(users, { timeoutMs: Math.max(0, deadline - Date.now()) });
    if ((await runScript('up.sh', startMs)) === 'done') return;
  } while (Date.now() < deadline);
  throw new Error(`warmup-peers: gave up after ${waitMs} ms: external test runs kept using the peers (${users})`);
}

/** down.sh; if it refuses (external runs registered during this run), the peers stay up for them. */
async function stopPeers(): Promise<void> {
  if ((await runScript('down.sh', 60_000)) === 'done') return;
  const live = await liveUsers(users);
  process.stderr.write(
    `warmup-peers: leaving the test peers running: external test runs (vitest pids ${live.join(', ')}) use them; ` +
      `stop them with test/peers/down.sh once those runs are over\n`,
  );
}

/** Undoes whatever setup got to: registration, run lock, the run's temporary folder. */
async function leave(): Promise<void> {
  if (registered) await unregisterUser(users);
  registered = false;
  await releaseRunLock();
  await removeRunTmp();
}

export async function setup(): Promise<void> {
  await makeRunTmp();
  try {
    if (external) return await joinExternal();
    await acquireRunLock(waitMs);
    await startPeers();
  } catch (err) {
    await leave();
    throw err;
  }
}

export async function teardown(): Promise<void> {
  try {
    if (holdingLock) await stopPeers();
  } finally {
    await leave();
  }
}
