/**
 * vitest globalSetup: starts the real loopback test peers once per run (test/peers/up.sh) and
 * stops them afterwards (test/peers/down.sh). With WARMUP_PEERS=external the peers are assumed
 * to be running already (started by hand or by CI): only $WARMUP_PEERS_DIR/peers.json is checked.
 *
 * The peers live on fixed loopback addresses, so two test runs on one machine cannot use them at
 * the same time (rate-limit counters, greylisting and verdicts are per client IP, and a second
 * up.sh restarts everything). A run therefore holds an exclusive run lock ($DIR.run-lock, owned by
 * the vitest main process PID) from setup to teardown; a second run waits for it (at most
 * WARMUP_PEERS_WAIT_MS, default 15 min) and a lock whose owner died is taken over.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const dir = process.env.WARMUP_PEERS_DIR ?? '/tmp/warmup-peers';
const external = process.env.WARMUP_PEERS === 'external';
const lockDir = `${dir}.run-lock`;
const ownerFile = path.join(lockDir, 'owner');
let holdingLock = false;

function runScript(name: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [path.join(HERE, name)],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, _stdout, stderr) => {
        if (err) reject(new Error(`test/peers/${name} failed (${err.killed ? 'timed out' : `exit ${err.code}`}):\n${stderr}`));
        else resolve();
      },
    );
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquireRunLock(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let announced = 0;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(ownerFile, `${process.pid}\n`);
      holdingLock = true;
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number((await readFile(ownerFile, 'utf8').catch(() => '')).trim());
    if (owner > 0 ? !alive(owner) : Date.now() - ((await stat(lockDir).catch(() => undefined))?.mtimeMs ?? 0) > 5000) {
      await rm(lockDir, { recursive: true, force: true }); // owner died: take over
      continue;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `test peers are in use by another test run (vitest pid ${owner}, lock ${lockDir}); gave up after ${timeoutMs} ms`,
      );
    }
    if (Date.now() - announced > 30_000) {
      announced = Date.now();
      process.stderr.write(`warmup-peers: waiting for test run pid ${owner} to release ${lockDir}\n`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
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

export async function setup(): Promise<void> {
  await makeRunTmp();
  if (external) {
    if (!existsSync(path.join(dir, 'peers.json'))) {
      throw new Error(`WARMUP_PEERS=external but ${dir}/peers.json does not exist: start test/peers/up.sh first`);
    }
    return;
  }
  await acquireRunLock(Number(process.env.WARMUP_PEERS_WAIT_MS ?? 15 * 60_000));
  try {
    // Packages are installed before vitest starts (npm's `pretest`: test/peers/install.sh), so this
    // only starts daemons: ~3 s idle; the limit allows for a machine loaded by other work.
    await runScript('up.sh', Number(process.env.WARMUP_PEERS_START_TIMEOUT_MS ?? 120_000));
  } catch (err) {
    await releaseRunLock();
    await removeRunTmp();
    throw err;
  }
}

export async function teardown(): Promise<void> {
  try {
    if (!external) await runScript('down.sh', 60_000);
  } finally {
    await releaseRunLock();
    await removeRunTmp();
  }
}
