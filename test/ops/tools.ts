/**
 * Debian tools the ops tests drive (systemd-analyze, chromium): installed on
 * first use when missing, as the test peers are. Needs root and the package
 * registry; `apt-get update` only when a plain install fails.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Makes sure `command` exists, installing Debian package `pkg` if not. */
export async function ensureTool(command: string, pkg: string): Promise<void> {
  if (has(command)) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-install-recommends', pkg], { env, maxBuffer: 64 << 20 });
  try {
    await install();
  } catch {
    await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], { env, maxBuffer: 64 << 20 });
    await install();
  }
  if (!has(command)) throw new Error(`installed ${pkg} but ${command} is still missing`);
}
