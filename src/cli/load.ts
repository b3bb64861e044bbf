/** Loading a plan for a command: prints every error and exits 2 on a bad plan. */
import { formatIssue } from '../plan/issues.js';
import { loadPlanFile } from '../plan/load.js';
import type { SecretsMode } from '../plan/normalize.js';
import type { Plan, PlanIssue } from '../plan/types.js';
import type { CliIo } from './io.js';
import { refusePlan } from './load-reading.js';

/**
 * Secrets are not read unless asked for (`secrets: 'load'`, the commands that sign or compare the
 * key: start, check), so every other command works on a fresh checkout without a key.
 */
export function loadOrExit(
  file: string,
  io: CliIo,
  options: { quietWarnings?: boolean; scheduleWarnings?: boolean; secrets?: SecretsMode } = {},
): { plan: Plan; warnings: readonly PlanIssue[] } {
  const r = loadPlanFile(file, {
    cwd: io.cwd, env: io.env, scheduleWarnings: options.scheduleWarnings ?? !options.quietWarnings, secrets: options.secrets ?? 'skip',
  });
  if (!r.ok) refusePlan(file, r, io);
  if (!options.quietWarnings) for (const w of r.warnings) io.err(formatIssue(file, w));
  return { plan: r.plan, warnings: r.warnings };
}
