import { describe, expect, it } from 'vitest';
import { expandRange } from '../../src/plan/ip.js';

describe('expandRange', () => {
  it.each([
    ['FIRST-LAST', '203.0.113.11-203.0.113.13', ['203.0.113.11', '203.0.113.12', '203.0.113.13']],
    ['FIRST-last octet', '203.0.113.11-12', ['203.0.113.11', '203.0.113.12']],
    ['a /30 block: every address of it', '203.0.113.8/30', ['203.0.113.8', '203.0.113.9', '203.0.113.10', '203.0.113.11']],
    ['a /32: one address', '203.0.113.7/32', ['203.0.113.7']],
    ['spaces around the slash', ' 198.51.100.254 / 31 ', ['198.51.100.254', '198.51.100.255']],
  ])('%s', (_what, text, addresses) => {
    expect(expandRange(text)).toEqual({ addresses });
  });

  it('a /28 holds 16 addresses, a /22 the most a plan may expand', () => {
    const r = expandRange('203.0.113.0/28');
    expect('addresses' in r && r.addresses).toHaveLength(16);
    expect('addresses' in r && [r.addresses[0], r.addresses[15]]).toEqual(['203.0.113.0', '203.0.113.15']);
    const big = expandRange('10.0.0.0/22');
    expect('addresses' in big && big.addresses).toHaveLength(1024);
  });

  it.each([
    ['host bits set', '203.0.113.5/28', '203.0.113.5 is not the first address of a /28 block (did you mean 203.0.113.0/28?)'],
    ['too large', '10.0.0.0/21', '10.0.0.0/21 holds 2048 addresses; at most 1024'],
    ['prefix out of range', '203.0.113.0/33', '/33 is not an IPv4 prefix length (0-32)'],
    ['not an address', '203.0.113/28', '203.0.113 is not an IPv4 address'],
    ['neither form', '203.0.113.0', 'must be FIRST-LAST or a CIDR block, e.g. 203.0.113.11-203.0.113.40 or 203.0.113.0/28 (got "203.0.113.0")'],
  ])('refuses %s', (_what, text, error) => {
    expect(expandRange(text)).toEqual({ error });
  });
});
