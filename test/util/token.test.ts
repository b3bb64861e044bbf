import { describe, expect, it } from 'vitest';
import { randomHex } from '../../src/util/token.js';

describe('randomHex', () => {
  it('gives hex of the asked length, fresh bytes across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const h = randomHex(4);
      expect(h).toMatch(/^[0-9a-f]{8}$/);
      seen.add(h);
    }
    // 5,000 draws of 32 bits: a repeat has a probability of about 0.3%.
    expect(seen.size).toBeGreaterThan(4990);
    expect(randomHex(16)).toMatch(/^[0-9a-f]{32}$/);
    expect(randomHex(5000)).toMatch(/^[0-9a-f]{10000}$/);
  });
});
