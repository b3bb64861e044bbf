/**
 * Loading a plan for a command that only reads it (`warmup status`): through
 * the plan cache (plan/cache.ts), so a hit loads neither the YAML parser nor the
 * schema. Kept apart from ./load.ts, which loads both.
 */
import { planCacheFor, loadPlanFileCached } from '../plan/cache.js';
import { formatIssue } from '../plan/issues.js';
import type { Plan, PlanIssue } from '../plan/types.js';
import { ExitError } from '../util/errors.js';
import type { CliIo } from './io.js';

/**
 * The plan, with secrets skipped and warnings neither computed nor printed;
 * a bad plan prints its errors and exits 2, as `loadOrExit` does.
 */
export async function loadForReading(file: string, io: CliIo): Promise<Plan> {
  const r = await loadPlanFileCached(file, { cwd: io.cwd, env: io.env, cache: planCacheFor(io.env), scheduleWarnings: false });
  if (!r.ok) refusePlan(file, r, io);
  return r.plan;
}

/** Prints a plan's errors and warnings and exits 2. */
export function refusePlan(file: string, r: { readonly errors: readonly PlanIssue[]; readonly warnings: readonly PlanIssue[] }, io: CliIo): never {
  io.err(`${file}: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}`);
  for (const e of r.errors) io.err(`  ${formatIssue(file, e)}`);
  for (const w of r.warnings) io.err(`  ${formatIssue(file, w)}`);
  throw new ExitError(2);
}
