/**
 * Turns zod's issues into plan issues with plain-language messages, and finds
 * the near key for an unknown one ("did you mean ...?").
 */
import type { z } from 'zod';
import type { KeyPath } from './yaml-locate.js';

export interface RawIssue {
  readonly path: KeyPath;
  readonly message: string;
  /** Report at the key rather than at the value (unknown keys). */
  readonly atKey?: boolean;
}

/** A short, quoted rendering of a YAML value for messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function valueAt(root: unknown, path: KeyPath): unknown {
  let cur: unknown = root;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[part];
  }
  return cur;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string', number: 'a number', int: 'a whole number', boolean: 'true or false',
  array: 'a list', object: 'a mapping', record: 'a mapping',
};

/** Levenshtein distance, small inputs only. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The known key closest to `key`, if it is close enough to be a typo. */
export function nearestKey(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k);
    if (d < bestD) { bestD = d; best = k; }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; element?: z.ZodType; valueType?: z.ZodType; options?: z.ZodType[] };
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The keys an object schema accepts at `path` (empty when not an object). */
export function keysAt(schema: z.ZodType, path: KeyPath): string[] {
  let cur: z.ZodType | undefined = schema;
  const unwrap = (s: z.ZodType | undefined): z.ZodType | undefined => {
    while (s) {
      const d = defOf(s);
      if (d.type === 'optional' || d.type === 'nullable' || d.type === 'default') s = d.innerType;
      else if (d.type === 'union') s = d.options?.find((o) => defOf(o).type === 'object') ?? d.options?.[0];
      else return s;
    }
    return s;
  };
  for (const part of path) {
    cur = unwrap(cur);
    if (!cur) return [];
    const d = defOf(cur);
    if (d.type === 'object') cur = d.shape?.[String(part)];
    else if (d.type === 'array') cur = d.element;
    else if (d.type === 'record') cur = d.valueType;
    else return [];
  }
  cur = unwrap(cur);
  return cur && defOf(cur).type === 'object' ? Object.keys(defOf(cur).shape ?? {}) : [];
}

/** Flattens one zod issue into plan issues (an unknown-keys issue gives one per key). */
export function convertIssue(issue: z.core.$ZodIssue, data: unknown, schema: z.ZodType): RawIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const got = valueAt(data, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = keysAt(schema, path);
      return issue.keys.map((key) => {
        const near = nearestKey(key, known);
        const hint = near ? ` (did you mean "${near}"?)` : known.length ? ` (known keys: ${known.join(', ')})` : '';
        return { path: [...path, key], message: `unknown key "${key}"${hint}`, atKey: true };
      });
    }
    case 'invalid_type':
      if (got === undefined) return [{ path, message: 'is required' }];
      return [{ path, message: `must be ${TYPE_NAMES[issue.expected] ?? issue.expected} (got ${describeValue(got)})` }];
    case 'too_small': {
      if (issue.origin === 'array') return [{ path, message: `must have at least ${String(issue.minimum)} ${Number(issue.minimum) === 1 ? 'entry' : 'entries'}` }];
      if (issue.origin === 'string') return [{ path, message: 'must not be empty' }];
      const op = issue.inclusive ? 'at least' : 'greater than';
      return [{ path, message: `must be ${op} ${String(issue.minimum)} (got ${describeValue(got)})` }];
    }
    case 'too_big': {
      const op = issue.inclusive ? 'at most' : 'less than';
      return [{ path, message: `must be ${op} ${String(issue.maximum)} (got ${describeValue(got)})` }];
    }
    case 'invalid_value':
      return [{ path, message: `must be one of ${issue.values.map(String).join(', ')} (got ${describeValue(got)})` }];
    case 'invalid_format':
      return [{ path, message: `${issue.message} (got ${describeValue(got)})` }];
    case 'not_multiple_of':
      return [{ path, message: `must be a multiple of ${String(issue.divisor)}` }];
    case 'invalid_union': {
      // Report the branch that got furthest: the one whose issues are not a bare type mismatch here.
      const branches = issue.errors;
      const best = branches.find((b) => !(b.length === 1 && b[0]!.code === 'invalid_type' && b[0]!.path.length === 0)) ?? null;
      if (best) return best.flatMap((sub) => convertIssue({ ...sub, path: [...path, ...sub.path] } as z.core.$ZodIssue, data, schema));
      return [{ path, message: `has the wrong form (got ${describeValue(got)})` }];
    }
    default:
      return [{ path, message: issue.message }];
  }
}
