/**
 * `warmup status`'s output written to descriptor 1 directly (src/cli/io.ts directIo): every byte
 * once and in order, whatever the writes take at a time; a descriptor that would block hands the
 * rest to process.stdout. (The reader going away, EPIPE, is tested through the bin in status.test.ts.)
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { directIo } from '../../src/cli/io.js';

afterEach(() => vi.restoreAllMocks());

describe('directIo', () => {
  it('writes each text and a newline to descriptor 1, resuming short writes', () => {
    const written: Buffer[] = [];
    const io = directIo({
      writeSync: (fd, data, offset, length) => {
        expect(fd).toBe(1);
        const n = Math.min(length, 3); // a descriptor taking three bytes at a time
        written.push(Buffer.from(data.subarray(offset, offset + n)));
        return n;
      },
    });
    io.out('{"é": 1}');
    io.out('line\n');
    expect(Buffer.concat(written).toString()).toBe('{"é": 1}\nline\n');
  });

  it('writes bytes as they are with outBytes, resuming short writes', () => {
    const written: Buffer[] = [];
    const io = directIo({
      writeSync: (_fd, data, offset, length) => {
        const n = Math.min(length, 2);
        written.push(Buffer.from(data.subarray(offset, offset + n)));
        return n;
      },
    });
    io.outBytes!(Buffer.from('{"\u00e9": 1}\n'));
    io.out('x');
    expect(Buffer.concat(written).toString()).toBe('{"\u00e9": 1}\nx\n');
  });

  it('gives the rest to process.stdout when the descriptor would block, and keeps to it after', () => {
    const direct: Buffer[] = [];
    const streamed: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { streamed.push(Buffer.from(chunk).toString()); return true; });
    let calls = 0;
    const io = directIo({
      writeSync: (_fd, data, offset) => {
        if (++calls > 1) throw Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN' });
        direct.push(Buffer.from(data.subarray(offset, offset + 4)));
        return 4;
      },
    });
    io.out('abcdefgh');
    io.out('next');
    expect(Buffer.concat(direct).toString() + streamed.join('')).toBe('abcdefgh\nnext\n');
    expect(streamed).toEqual(['efgh\n', 'next\n']);
    expect(calls).toBe(2);
  });

  it('throws other write errors', () => {
    const io = directIo({ writeSync: () => { throw Object.assign(new Error('EIO'), { code: 'EIO' }); } });
    expect(() => io.out('x')).toThrow('EIO');
  });
});
