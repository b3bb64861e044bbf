import { describe, expect, it } from 'vitest';
import { encodeNetstring, NetstringDecoder } from '../../src/postfix/netstring.js';

describe('netstrings', () => {
  it('frames a string as LEN:DATA, counting bytes, not characters', () => {
    expect(encodeNetstring('OK smtp:').toString()).toBe('8:OK smtp:,');
    expect(encodeNetstring('é').toString()).toBe('2:é,');
    expect(encodeNetstring('').toString()).toBe('0:,');
  });

  it('decodes requests split anywhere and several in one chunk', () => {
    const d = new NetstringDecoder();
    const wire = Buffer.concat([encodeNetstring('warmup a@b.test'), encodeNetstring('warmup *'), encodeNetstring('warmup é@b.test')]);
    const out: string[] = [];
    for (let i = 0; i < wire.length; i += 3) out.push(...d.push(wire.subarray(i, i + 3)));
    expect(out).toEqual(['warmup a@b.test', 'warmup *', 'warmup é@b.test']);
    expect(new NetstringDecoder().push(wire)).toEqual(out);
  });

  it.each([
    ['a missing comma', '3:abcX'],
    ['a non-digit length', 'x3:abc,'],
    ['a leading zero', '03:abc,'],
    ['a length over the limit', '100001:'],
  ])('rejects %s with NETSTRING_INVALID', (_, wire) => {
    expect(() => new NetstringDecoder().push(Buffer.from(wire))).toThrow(expect.objectContaining({ code: 'NETSTRING_INVALID' }));
  });
});
