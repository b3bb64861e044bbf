/** How a plan's errors and warnings are printed (kept apart from the loader, which the plan cache does not load). */
import { basename } from 'node:path';
import type { PlanIssue } from './types.js';

/** `launch.yaml:14:7 providers.gmail.ramp.growth: must be greater than 1 (got 0.8)` */
export function formatIssue(fileName: string, issue: PlanIssue): string {
  const where = issue.line > 0 ? `${basename(fileName)}:${issue.line}:${issue.column}` : basename(fileName);
  const tag = issue.severity === 'warning' ? ' warning:' : '';
  return `${where}${tag} ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}
