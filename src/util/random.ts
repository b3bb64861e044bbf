/**
 * A small seeded PRNG: Math.random cannot be seeded, and a simulation (or
 * engagement choices) must give the same result for the same seed. Pure.
 */

/** A source of numbers in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: 32 bits of state, good enough spread for modelling replies
 * (not for anything secret).
 *
 * @example
 * const r = seededRandom(42); r(); // always the same first value for 42
 */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
