import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MEMORY_OPERATIONS } from '../../../src/store/memory/index.js';
import { SQL_OPERATIONS } from '../../../src/store/sql-store.js';

describe('conformance suite', () => {
  it('the memory store has exactly the SQL store\'s operations', () => {
    expect([...MEMORY_OPERATIONS]).toEqual([...SQL_OPERATIONS]);
  });

  it('calls every operation of the Store interface in at least one test', () => {
    const dir = import.meta.dirname;
    const text = readdirSync(dir).filter((f) => f.endsWith('.test.ts') && f !== 'coverage.test.ts')
      .map((f) => readFileSync(`${dir}/${f}`, 'utf8')).join('\n');
    const untested = SQL_OPERATIONS.filter((op) => !new RegExp(`\\.${op}\\(`).test(text));
    expect(untested).toEqual([]);
  });
});
