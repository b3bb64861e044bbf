/**
 * Finds where a key path sits in the YAML source, so every plan error can say
 * `file:line:column key.path: message`.
 */
import { isCollection, isMap, isScalar, type Document, type LineCounter, type Node } from 'yaml';

export type KeyPath = readonly (string | number)[];

export interface Located {
  readonly line: number;
  readonly column: number;
}

/** Renders `['providers', 'gmail', 'seeds', 2]` as `providers.gmail.seeds[2]`. */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

/**
 * Position of the value at `path` (or, with `atKey`, of its key). A path that
 * does not exist in the file (a missing key) is reported at its nearest
 * existing ancestor's key.
 */
export function locate(doc: Document, lines: LineCounter, path: KeyPath, atKey = false): Located {
  for (let depth = path.length; depth >= 0; depth--) {
    const prefix = path.slice(0, depth);
    const exists = depth === 0 || doc.hasIn(prefix);
    if (!exists) continue;
    // A whole mapping or list is best pointed at by its key (`gmail:`), not its first entry.
    const value = depth === 0 ? null : doc.getIn(prefix, true);
    const wantKey = atKey || depth < path.length || isCollection(value);
    if (wantKey && depth > 0) {
      const parent = doc.getIn(prefix.slice(0, -1), true) as Node | undefined;
      const last = prefix[prefix.length - 1];
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last));
        const range = (pair?.key as Node | undefined)?.range;
        if (range) return toPos(lines, range[0]);
      }
    }
    const node = (depth === 0 ? doc.contents : doc.getIn(prefix, true)) as Node | null | undefined;
    if (node?.range) return toPos(lines, node.range[0]);
  }
  return { line: 1, column: 1 };
}

/** Position of a key that exists in the map at `parentPath` (for unknown keys). */
export function locateKey(doc: Document, lines: LineCounter, parentPath: KeyPath, key: string): Located {
  return locate(doc, lines, [...parentPath, key], true);
}

function toPos(lines: LineCounter, offset: number): Located {
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}
