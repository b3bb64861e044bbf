/** Processes of this machine, by pid. */

/** Whether a process of this host runs (signal 0 only checks; EPERM means it exists under another user). */
export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}
