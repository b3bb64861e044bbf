import { describe, expect, it } from 'vitest';
import { ExitError, WarmupError, describeError } from '../../src/util/errors.js';

describe('error classes', () => {
  it('instanceof recognises errors of another copy of the module (a one-file bundle beside the split one), and nothing else', async () => {
    // A second instance of the module, as the bundled `warmup status` has its own.
    const copy = '../../src/util/errors.js?copy';
    const other = await import(copy) as typeof import('../../src/util/errors.js');
    expect(other.WarmupError).not.toBe(WarmupError);
    const w = new other.WarmupError('STORE_URL', 'bad url');
    const x = new other.ExitError(2, 'usage');
    expect(w instanceof WarmupError).toBe(true);
    expect(w instanceof ExitError).toBe(false);
    expect(x instanceof ExitError).toBe(true);
    expect(x instanceof WarmupError).toBe(false);
    expect(new WarmupError('A', 'a') instanceof other.WarmupError).toBe(true);
    expect(w instanceof Error).toBe(true);
    expect(describeError(w)).toBe('STORE_URL: bad url');
    for (const v of [new Error('plain'), null, undefined, 'WarmupError', { code: 'X', message: 'y', name: 'WarmupError' }]) {
      expect(v instanceof WarmupError).toBe(false);
      expect(v instanceof ExitError).toBe(false);
    }
    // The brand is not an own property: errors compare and spread as before.
    expect(Object.getOwnPropertySymbols(w)).toEqual([]);
  });
});
