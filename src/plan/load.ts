/**
 * `loadPlan(text) -> { plan } | { errors }`: YAML syntax, then schema, then
 * rules and files, then schedule warnings. Never throws for a bad plan, and
 * never touches the database.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { normalizePlan, type PlanFiles, type SecretsMode } from './normalize.js';
import { planSchema } from './schema.js';
import type { Plan, PlanIssue } from './types.js';
export { formatIssue } from './issues.js';
import { scheduleWarnings } from './warnings.js';
import { formatPath, locate, type KeyPath } from './yaml-locate.js';
import { convertIssue } from './zod-issues.js';

export type LoadResult =
  | { readonly ok: true; readonly plan: Plan; readonly warnings: readonly PlanIssue[] }
  | { readonly ok: false; readonly errors: readonly PlanIssue[]; readonly warnings: readonly PlanIssue[] };

export interface LoadOptions {
  /** Path of the plan file: names it in messages and anchors relative file names. */
  readonly file?: string;
  /** Defaults to the current directory. */
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly files?: PlanFiles;
  /** Compute the schedule warnings (default true); commands that do not show them skip the work. */
  readonly scheduleWarnings?: boolean;
  /** Read the secrets (`load`, default), only warn what start will need (`check`), or ignore them (`skip`). */
  readonly secrets?: SecretsMode;
}

/** The real file reader. */
export const diskFiles: PlanFiles = Object.freeze({ read: (p: string) => readFileSync(p, 'utf8'), exists: (p: string) => existsSync(p) });

/**
 * Parses and validates a plan.
 *
 * @example
 * const r = loadPlan(readFileSync('plans/small.yaml', 'utf8'), { file: 'plans/small.yaml' });
 * if (!r.ok) for (const e of r.errors) console.error(formatIssue('small.yaml', e));
 */
export function loadPlan(text: string, options: LoadOptions = {}): LoadResult {
  const cwd = options.cwd ?? process.cwd();
  const file = options.file ? resolve(cwd, options.file) : null;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const errors: PlanIssue[] = [];
  const warnings: PlanIssue[] = [];

  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
      errors.push({ severity: 'error', path: '', line: pos.line, column: pos.col, message: `YAML: ${firstLine(e.message)}` });
    }
    return { ok: false, errors, warnings };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (e) {
    // yaml stops an alias bomb (a billion laughs) by throwing: report it like any bad plan, at the
    // alias that expands the most, so `validate` exits 2 with file:line:col and `start` is not restarted.
    const pos = lines.linePos(worstAlias(doc) ?? 0);
    return { ok: false, errors: [{ severity: 'error', path: '', line: pos.line, column: pos.col, message: `YAML: ${firstLine((e as Error).message)} (aliases expand too much)` }], warnings };
  }
  const at = (severity: PlanIssue['severity'], path: KeyPath, message: string, atKey = false): PlanIssue => {
    const pos = locate(doc, lines, path, atKey);
    return { severity, path: formatPath(path), line: pos.line, column: pos.column, message };
  };

  const parsed = planSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const raw of convertIssue(issue, data, planSchema)) errors.push(at('error', raw.path, raw.message, raw.atKey));
    }
    return { ok: false, errors: sortIssues(errors), warnings };
  }

  const plan = normalizePlan(parsed.data, {
    baseDir: file ? dirname(file) : cwd,
    cwd,
    env: options.env ?? process.env,
    files: options.files ?? diskFiles,
    file,
    secrets: options.secrets ?? 'load',
  }, (path, message) => errors.push(at('error', path, message)), (path, message) => warnings.push(at('warning', path, message)));

  if (!plan || errors.length > 0) return { ok: false, errors: sortIssues(errors), warnings: sortIssues(warnings) };
  if (options.scheduleWarnings !== false) scheduleWarnings(plan, (path, message) => warnings.push(at('warning', path, message)));
  return { ok: true, plan, warnings: sortIssues(warnings) };
}

/** Reads and loads a plan file; a missing file is an error result too. */
export function loadPlanFile(path: string, options: Omit<LoadOptions, 'file'> = {}): LoadResult {
  let text: string;
  try {
    text = (options.files ?? diskFiles).read(resolve(options.cwd ?? process.cwd(), path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? `plan file not found: ${path}` : `cannot read plan file ${path}: ${(e as Error).message}`;
    return { ok: false, errors: [{ severity: 'error', path: '', line: 0, column: 0, message }], warnings: [] };
  }
  return loadPlan(text, { ...options, file: path });
}

function sortIssues(list: PlanIssue[]): PlanIssue[] {
  return [...list].sort((a, b) => a.line - b.line || a.column - b.column);
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** Offset of the first alias whose anchor itself holds aliases (where an alias bomb starts nesting). */
function worstAlias(doc: Document): number | null {
  let first: number | null = null;
  let nested: number | null = null;
  visit(doc, {
    Alias(_key, node) {
      const offset = node.range?.[0] ?? null;
      first ??= offset;
      const target = node.resolve(doc);
      if (nested === null && target && (isMap(target) || isSeq(target))) {
        let inner = false;
        visit(target, { Alias() { inner = true; return visit.BREAK; } });
        if (inner) nested = offset;
      }
    },
  });
  return nested ?? first;
}
