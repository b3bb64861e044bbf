import { describe, expect, it } from 'vitest';
import { isLoopbackIp, joinHostPort, splitHostPort } from '../../src/util/host-port.js';

describe('splitHostPort: the one host:port parser', () => {
  it.each([
    ['mx.example.test', { host: 'mx.example.test', port: null }],
    ['MX.example.test:2525', { host: 'MX.example.test', port: 2525 }],
    ['127.0.0.53', { host: '127.0.0.53', port: null }],
    ['127.0.0.53:26', { host: '127.0.0.53', port: 26 }],
    ['  127.0.0.1:9464 ', { host: '127.0.0.1', port: 9464 }], // blanks around are ignored
    ['[::1]:2525', { host: '::1', port: 2525 }],
    ['[::1]', { host: '::1', port: null }],
    ['[2001:db8::25]:587', { host: '2001:db8::25', port: 587 }],
    ['[127.0.0.1]:25', { host: '127.0.0.1', port: 25 }], // Postfix-style [host]
    ['[smarthost.example]:587', { host: 'smarthost.example', port: 587 }],
    ['::1', { host: '::1', port: null }], // a bare IPv6 address has no port
    ['2001:db8::1', { host: '2001:db8::1', port: null }],
    ['::ffff:127.0.0.1', { host: '::ffff:127.0.0.1', port: null }],
    ['host:1', { host: 'host', port: 1 }],
    ['host:65535', { host: 'host', port: 65535 }],
    ['host:025', { host: 'host', port: 25 }],
  ])('%j -> %o', (text, expected) => {
    expect(splitHostPort(text)).toEqual(expected);
  });

  it.each([
    ['', 'is empty'],
    ['   ', 'is empty'],
    ['a b:25', 'contains a blank'],
    ['host:', 'no port number'],
    ['host:port', 'no port number'],
    ['host:-1', 'no port number'],
    ['host:+25', 'no port number'],
    ['host:123456', 'no port number'],
    ['host:0', 'port must be 1-65535 (got 0)'],
    ['host:65536', 'port must be 1-65535 (got 65536)'],
    ['host:70000', 'port must be 1-65535'],
    [':25', 'has no host'],
    ['[]:25', 'has no host'],
    ['[::1', 'unclosed bracket'],
    ['[::1]25', 'unclosed bracket'],
    ['[::1]:', 'no port number'],
    ['[::1]:0', 'port must be 1-65535'],
    ['::1]:25', 'bracket inside'],
    ['2001:db8::1:25:', 'several colons'], // not an address, and a port on an IPv6 address needs brackets
    ['a:b:c', 'several colons'],
  ])('%j is refused: %s', (text, why) => {
    const r = splitHostPort(text);
    expect('error' in r && r.error).toContain(why);
  });

  it('reads an unbracketed IPv6 address that ends in digits as the address, never as a port', () => {
    // 2001:db8::1:25 is a valid IPv6 address: the :25 is its last group, not a port.
    expect(splitHostPort('2001:db8::1:25')).toEqual({ host: '2001:db8::1:25', port: null });
  });
});

describe('isLoopbackIp', () => {
  it.each([
    ['127.0.0.1', true], ['127.255.0.9', true], ['::1', true], ['0:0:0:0:0:0:0:1', true], ['::ffff:127.0.0.1', true], ['::FFFF:127.0.0.2', true],
    ['0.0.0.0', false], ['192.0.2.7', false], ['::', false], ['::2', false], ['::ffff:192.0.2.7', false], ['localhost', false], ['128.0.0.1', false],
  ])('%s: %s', (ip, loopback) => {
    expect(isLoopbackIp(ip)).toBe(loopback);
  });
});

describe('joinHostPort', () => {
  it.each([
    ['127.0.0.1', 9464, '127.0.0.1:9464'], ['::1', 9464, '[::1]:9464'], ['mx.example', 25, 'mx.example:25'],
  ] as const)('%s and %i -> %s, which splitHostPort reads back', (host, port, text) => {
    expect(joinHostPort(host, port)).toBe(text);
    expect(splitHostPort(text)).toEqual({ host, port });
  });
});
