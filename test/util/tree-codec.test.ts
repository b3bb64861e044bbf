import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeTree, encodeTree } from '../../src/util/tree-codec.js';
import { loadPlan } from '../../src/plan/load.js';

const roundTrip = <T>(v: T): T => decodeTree(encodeTree(v)) as T;

describe('the tree codec gives back exactly what it was given', () => {
  it.each([
    ['Infinity', Infinity], ['-Infinity', -Infinity], ['NaN', NaN], ['-0', -0], ['a plain number', 1.5], ['a string', 'a"\u0001'], ['null', null], ['true', true],
  ])('keeps %s', (_, v) => {
    expect(Object.is(roundTrip({ v }).v, v)).toBe(true);
  });

  it('keeps undefined values as keys that are present', () => {
    const out = roundTrip({ a: undefined, b: [undefined, 1] });
    expect('a' in out).toBe(true);
    expect(out.b).toEqual([undefined, 1]);
    expect(out.b.length).toBe(2);
  });

  it('gives back Maps, Sets and RegExps as themselves', () => {
    const out = roundTrip({ m: new Map<string, unknown>([['x', { port: 25 }], ['y', 1]]), s: new Set([1, 'a']), r: /^mx\d+\.example\.com$/iu });
    expect(out.m).toBeInstanceOf(Map);
    expect([...out.m]).toEqual([['x', { port: 25 }], ['y', 1]]);
    expect(out.s).toBeInstanceOf(Set);
    expect([...out.s]).toEqual([1, 'a']);
    expect(out.r).toBeInstanceOf(RegExp);
    expect(out.r.source).toBe('^mx\\d+\\.example\\.com$');
    expect(out.r.flags).toBe('iu');
  });

  it('gives one object reached twice back as one object', () => {
    const shared = Object.freeze({ start: 50 });
    const out = roundTrip({ a: shared, b: [shared], c: { d: shared } });
    expect(out.a).toBe(out.b[0]);
    expect(out.a).toBe(out.c.d);
  });

  it('freezes what was frozen and leaves the rest mutable', () => {
    const out = roundTrip(Object.freeze({ frozen: Object.freeze([1]), open: [2], openObj: { x: 1 }, map: Object.freeze(new Map()) }));
    expect(Object.isFrozen(out)).toBe(true);
    expect(Object.isFrozen(out.frozen)).toBe(true);
    expect(Object.isFrozen(out.open)).toBe(false);
    expect(Object.isFrozen(out.openObj)).toBe(false);
    expect(Object.isFrozen(out.map)).toBe(true);
  });

  it.each([
    ['a function', { f: () => 1 }],
    ['a Date', { d: new Date(0) }],
    ['a class instance', { c: new (class Thing { x = 1 })() }],
    ['a bigint', { b: 1n }],
    ['a symbol', { s: Symbol('x') }],
    ['an object using the tag key', { '\u0000': 'map' }],
  ])('refuses %s rather than give back something else', (_, v) => {
    expect(() => encodeTree(v)).toThrow(/tree-codec/);
  });

  it('refuses a cycle', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => encodeTree(a)).toThrow(/cycle/);
  });

  it('gives back a normalized plan equal to the one loaded, with its RegExps and Map', () => {
    const r = loadPlan(readFileSync('plans/launch.yaml', 'utf8'), { file: 'plans/launch.yaml', secrets: 'skip' });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const back = roundTrip(r.plan);
    expect(back).toEqual(r.plan);
    expect(encodeTree(back)).toBe(encodeTree(r.plan));
  });
});
