/**
 * Debian tools the ops tests drive (systemd-analyze, chromium). They are installed before the tests
 * run, as a step of its own (test/peers/install.sh, npm's `pretest`), never inside a test's timeout.
 */
import { execFileSync } from 'node:child_process';

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Fails with what to run when `command` (from Debian package `pkg`) is missing. */
export async function ensureTool(command: string, pkg: string): Promise<void> {
  if (has(command)) return;
  throw new Error(`${command} is missing (Debian package ${pkg}): run test/peers/install.sh (npm test runs it first)`);
}
