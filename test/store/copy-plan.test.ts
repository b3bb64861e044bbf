/** The decisions of `warmup store copy` that need no database (src/store/copy-plan.ts). */
import { describe, expect, it } from 'vitest';
import { copyOrder, identityAfter, liveLeases, migrationGap, pgValue, schemaProblems } from '../../src/store/copy-plan.js';

describe('pgValue: a SQLite value as the PostgreSQL column takes it', () => {
  it.each([
    { value: null, udt: 'int8', out: null },
    { value: 1_796_000_000_123n, udt: 'int8', out: '1796000000123' },
    { value: 9_007_199_254_740_993n, udt: 'int8', out: '9007199254740993' },
    { value: 2n ** 31n - 1n, udt: 'int4', out: '2147483647' },
    { value: 7, udt: 'int4', out: '7' },
    { value: 1n, udt: 'bool', out: true },
    { value: 0n, udt: 'bool', out: false },
    { value: 0.25, udt: 'float8', out: 0.25 },
    { value: 3n, udt: 'float8', out: 3 },
    { value: '{"reason":"x"}', udt: 'text', out: '{"reason":"x"}' },
    { value: '{"a":1}', udt: 'jsonb', out: '{"a":1}' },
    { value: 42n, udt: 'text', out: '42' },
  ])('$value into $udt is $out', ({ value, udt, out }) => {
    expect(pgValue(value, udt, 't.c')).toEqual(out);
  });

  it.each([
    { value: 2n ** 31n, udt: 'int4', message: 't.c: 2147483648 is out of the range of column type int4' },
    { value: 1.5, udt: 'int8', message: 't.c: 1.5 is not a whole number (column type int8)' },
    { value: 'abc', udt: 'int4', message: 't.c: "abc" is not a whole number (column type int4)' },
    { value: 2n, udt: 'bool', message: 't.c: 2 is not a boolean (0 or 1)' },
    { value: 'x', udt: 'float8', message: 't.c: "x" is not a number (column type float8)' },
    { value: Buffer.from('ab'), udt: 'text', message: 't.c: a blob of 2 bytes is a blob; column type text takes no blob' },
  ])('$value into $udt is refused with STORE_COPY_VALUE', ({ value, udt, message }) => {
    expect(() => pgValue(value, udt, 't.c')).toThrow(expect.objectContaining({ code: 'STORE_COPY_VALUE', message }));
  });
});

describe('copyOrder: parents before the tables whose keys name them', () => {
  it('puts lanes before messages before attempts and placements, others by name', () => {
    const keys = [{ child: 'attempts', parent: 'messages' }, { child: 'messages', parent: 'lanes' }, { child: 'placements', parent: 'messages' }, { child: 'runs', parent: 'runs' }];
    expect(copyOrder(['placements', 'attempts', 'runs', 'messages', 'lanes', 'events'], keys)).toEqual(['events', 'lanes', 'messages', 'attempts', 'placements', 'runs']);
  });

  it('refuses a cycle with STORE_COPY_SCHEMA', () => {
    expect(() => copyOrder(['a', 'b', 'c'], [{ child: 'a', parent: 'b' }, { child: 'b', parent: 'a' }]))
      .toThrow(expect.objectContaining({ code: 'STORE_COPY_SCHEMA', message: 'the foreign keys of a, b form a cycle: no insert order exists' }));
  });
});

describe('schemaProblems', () => {
  it('names each table and column present on one side only, and nothing when both agree', () => {
    const pg = new Map([['lanes', [{ name: 'id', udt: 'int8' }, { name: 'ip', udt: 'text' }]], ['runs', [{ name: 'id', udt: 'int8' }]]]);
    expect(schemaProblems(new Map([['lanes', ['ip', 'id']], ['runs', ['id']]]), pg)).toEqual([]);
    expect(schemaProblems(new Map([['lanes', ['id', 'extra']], ['old', ['id']]]), pg)).toEqual([
      'table old is in the SQLite file but not on PostgreSQL',
      'column lanes.extra is in the SQLite file but not on PostgreSQL',
      'column lanes.ip is on PostgreSQL but not in the SQLite file',
      'table runs is on PostgreSQL but not in the SQLite file',
    ]);
  });
});

describe('migrationGap', () => {
  it.each([
    { applied: ['0001', '0002'], pending: [], unknown: [] },
    { applied: ['0001'], pending: ['0002'], unknown: [] },
    { applied: ['0001', '0002', '0003'], pending: [], unknown: ['0003'] },
  ])('applied $applied against 0001, 0002: pending $pending, unknown $unknown', ({ applied, pending, unknown }) => {
    expect(migrationGap(applied, ['0001', '0002'])).toEqual({ pending, unknown });
  });
});

describe('liveLeases: which leases show a running daemon', () => {
  const now = 1_800_000_000_000;
  const o = { now, host: 'mta1', freshMs: 60_000, alive: (pid: number) => pid === 4242 };
  it.each([
    { what: 'renewed 5 s ago on another host', lease: { host: 'mta2', pid: 1, heartbeat_at: now - 5_000 }, live: true },
    { what: 'silent for two minutes on another host (crashed)', lease: { host: 'mta2', pid: 4242, heartbeat_at: now - 120_000 }, live: false },
    { what: 'silent for two minutes but its pid runs on this host', lease: { host: 'mta1', pid: 4242, heartbeat_at: now - 120_000 }, live: true },
    { what: 'silent for two minutes, its pid gone from this host', lease: { host: 'mta1', pid: 77, heartbeat_at: now - 120_000 }, live: false },
  ])('a lease $what: live $live', ({ lease, live }) => {
    expect(liveLeases([{ plan: 'p', ...lease }], o)).toHaveLength(live ? 1 : 0);
  });
});

describe('identityAfter', () => {
  it.each([
    { maxId: null, seq: null, out: { value: 1, called: false } },
    { maxId: 41, seq: null, out: { value: 41, called: true } },
    { maxId: 41, seq: 50, out: { value: 50, called: true } },
    { maxId: null, seq: 12, out: { value: 12, called: true } },
  ])('max id $maxId, sqlite_sequence $seq: setval $out', ({ maxId, seq, out }) => {
    expect(identityAfter(maxId, seq)).toEqual(out);
  });
});
