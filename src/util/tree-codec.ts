/**
 * A tree of plain data to JSON text and back, exactly: what `JSON.stringify`
 * would lose is kept. Maps, Sets and RegExps come back as themselves, numbers
 * that JSON cannot hold (Infinity, NaN, -0) and `undefined` values keep their
 * value, an object reached twice comes back as one object (not two copies),
 * and what was frozen comes back frozen, what was not comes back mutable.
 * Anything else (a function, a class instance, a Date, a symbol, a bigint, a
 * cycle) is refused with an Error: a caller that caches with it then does not
 * cache, rather than cache something that would come back different.
 *
 * Used by the plan cache (plan/cache.ts): a normalized Plan holds RegExps, a
 * Map and shared, frozen objects.
 */

/** The key of a tag object: `{ "\u0000": kind, ... }`. A real object with this key is refused. */
const TAG = '\u0000';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Encodes `value` as JSON text.
 *
 * @example
 * const text = encodeTree({ match: /a/i, routes: new Map([['x', 1]]) });
 * decodeTree(text); // { match: /a/i, routes: Map { 'x' => 1 } }, frozen as the original was
 * @throws Error for what the codec cannot carry (see the module's comment)
 */
export function encodeTree(value: unknown): string {
  // First pass: objects met more than once get an id, so they are written once.
  const count = new Map<object, number>();
  const onPath = new Set<object>();
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    if (onPath.has(v)) throw new Error('tree-codec: a cycle');
    const n = (count.get(v) ?? 0) + 1;
    count.set(v, n);
    if (n > 1) return;
    onPath.add(v);
    if (v instanceof Map) for (const [k, e] of v) { visit(k); visit(e); }
    else if (v instanceof Set) for (const e of v) visit(e);
    else if (Array.isArray(v)) for (const e of v) visit(e);
    else if (!(v instanceof RegExp)) for (const e of Object.values(v)) visit(e);
    onPath.delete(v);
  };
  visit(value);
  const ids = new Map<object, number>();
  for (const [o, n] of count) if (n > 1) ids.set(o, ids.size);
  const written = new Set<object>();

  const enc = (v: unknown): Json => {
    switch (typeof v) {
      case 'undefined': return { [TAG]: 'undef' };
      case 'boolean': case 'string': return v;
      case 'number': return Number.isFinite(v) && !Object.is(v, -0) ? v : { [TAG]: 'num', v: Object.is(v, -0) ? '-0' : String(v) };
      case 'object': break;
      default: throw new Error(`tree-codec: cannot encode a ${typeof v}`);
    }
    if (v === null) return null;
    const id = ids.get(v);
    if (id !== undefined && written.has(v)) return { [TAG]: 'ref', id };
    if (id !== undefined) written.add(v);
    const body = encObject(v);
    return id === undefined ? body : { [TAG]: 'def', id, v: body };
  };
  const encObject = (v: object): Json => {
    const frozen = Object.isFrozen(v);
    let body: Json;
    if (v instanceof RegExp && Object.getPrototypeOf(v) === RegExp.prototype) {
      if (v.lastIndex !== 0) throw new Error('tree-codec: a RegExp with state');
      return { [TAG]: 're', s: v.source, f: v.flags };
    } else if (v instanceof Map && Object.getPrototypeOf(v) === Map.prototype) {
      return { [TAG]: 'map', e: [...v].map(([k, e]) => [enc(k), enc(e)]), f: frozen };
    } else if (v instanceof Set && Object.getPrototypeOf(v) === Set.prototype) {
      return { [TAG]: 'set', e: [...v].map(enc), f: frozen };
    } else if (Array.isArray(v)) {
      if (Object.keys(v).length !== v.length) throw new Error('tree-codec: a sparse array or one with extra keys');
      body = v.map(enc);
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new Error(`tree-codec: cannot encode a ${(v.constructor as { name?: string } | undefined)?.name ?? 'class instance'}`);
      if (Object.getOwnPropertySymbols(v).length > 0) throw new Error('tree-codec: an object with symbol keys');
      const o: Record<string, Json> = {};
      for (const [k, e] of Object.entries(v)) {
        if (k === TAG) throw new Error('tree-codec: an object with the tag key');
        o[k] = enc(e);
      }
      if (proto === null) return { [TAG]: 'bare', v: o, f: frozen };
      body = o;
    }
    return frozen ? body : { [TAG]: 'mut', v: body };
  };
  return JSON.stringify(enc(value));
}

/**
 * Decodes what {@link encodeTree} wrote.
 *
 * @throws Error when the text is not what encodeTree writes
 */
export function decodeTree(text: string): unknown {
  const defs = new Map<number, unknown>();
  const dec = (j: Json, freeze = true): unknown => {
    if (j === null || typeof j !== 'object') return j;
    if (Array.isArray(j)) {
      const a = j.map((e) => dec(e));
      return freeze ? Object.freeze(a) : a;
    }
    if (TAG in j) {
      const t = j as Record<string, Json>;
      switch (t[TAG]) {
        case 'undef': return undefined;
        case 'num': return Number(t.v);
        case 're': return new RegExp(String(t.s), String(t.f));
        case 'mut': return dec(t.v!, false);
        case 'def': { const v = dec(t.v!); defs.set(Number(t.id), v); return v; }
        case 'ref': {
          if (!defs.has(Number(t.id))) throw new Error('tree-codec: a reference before its definition');
          return defs.get(Number(t.id));
        }
        case 'map': { const m = new Map((t.e as Json[][]).map(([k, e]) => [dec(k!), dec(e!)])); return t.f ? Object.freeze(m) : m; }
        case 'set': { const s = new Set((t.e as Json[]).map((e) => dec(e))); return t.f ? Object.freeze(s) : s; }
        case 'bare': { const o = Object.assign(Object.create(null) as object, decEntries(t.v as Record<string, Json>)); return t.f ? Object.freeze(o) : o; }
        default: throw new Error(`tree-codec: unknown tag ${String(t[TAG])}`);
      }
    }
    const o = decEntries(j);
    return freeze ? Object.freeze(o) : o;
  };
  const decEntries = (j: Record<string, Json>): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(j)) o[k] = dec(j[k]!);
    return o;
  };
  return dec(JSON.parse(text) as Json);
}
