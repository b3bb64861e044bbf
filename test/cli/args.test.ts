import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { plainParse, type Options } from '../../src/cli/args.js';

const OPTIONS: Options = {
  day: { type: 'string' }, at: { type: 'string' }, json: { type: 'boolean' }, queue: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
};

describe('plainParse (parseArgs without loading it, for plain command lines)', () => {
  it.each([
    [['plan.yaml']],
    [['plan.yaml', '--json', '--at', '2026-12-05T18:00:00Z']],
    [['--json', 'plan.yaml', '--day', '3', '--queue']],
    [['plan.yaml', '--day', '3', '--day', '4']],
    [['a', 'b', '--help']],
    [[]],
  ])('gives what parseArgs gives for %j', (args) => {
    const plain = plainParse(args, OPTIONS);
    const real = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
    expect(plain).toEqual({ values: { ...real.values }, positionals: real.positionals });
    expect(Object.getPrototypeOf(plain!.values)).toBe(Object.getPrototypeOf(real.values));
    expect(Object.keys(plain!.values)).toEqual(Object.keys(real.values));
  });

  it.each([
    [['-h']], [['plan.yaml', '--at=2026-12-05']], [['--', '--json']], [['--nope']], [['--at']], [['--at', '--json']],
    [['--at', '-1']], [['-']], [['plan.yaml', '--']], [['--__proto__']], [['--toString']],
  ])('leaves %j to parseArgs', (args) => {
    expect(plainParse(args, OPTIONS)).toBeNull();
  });

  it('leaves options with defaults or multiple values to parseArgs', () => {
    expect(plainParse(['x'], { n: { type: 'string', default: '1' } })).toBeNull();
    expect(plainParse(['x'], { n: { type: 'string', multiple: true } })).toBeNull();
  });
});
