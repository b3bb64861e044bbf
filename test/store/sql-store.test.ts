import { describe, expect, it } from 'vitest';
import { STORE_OPERATIONS } from '../../src/store/operations.js';
import { SQL_OPERATIONS } from '../../src/store/sql-store.js';

describe('sqlStore', () => {
  // STORE_OPERATIONS is spelled out in src/store/operations.ts, where the compiler checks it against the interface.
  it('binds exactly the operations of the Store interface', () => {
    expect([...SQL_OPERATIONS]).toEqual([...STORE_OPERATIONS]);
  });
});
