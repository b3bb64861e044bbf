/**
 * `sslmode` as libpq has it, against the real PostgreSQL 15 of the test peers with TLS on
 * (test/peers/up.sh: a certificate signed by a CA of the run, naming db.warmup.test only).
 * Connecting to 127.0.0.90 therefore fails verify-full on the name, and verify-ca (which
 * checks the chain, not the name) passes with the right CA and fails with another.
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/store/postgres.js';
import { resolvePgConnection } from '../../src/store/pg-url.js';
import { createPostgresDatabase, loadPeers } from '../peers/peers.js';

let url = '';
let tls: { ca: string; otherCa: string; serverName: string };

beforeAll(async () => {
  url = await createPostgresDatabase('pg_tls');
  tls = loadPeers().postgres.tls;
});

/** Whether the store's connection is encrypted, as the server sees it. */
async function encrypted(params: string): Promise<boolean> {
  const { store, db } = await openPostgres(`${url}?${params}`, { poolSize: 1 });
  try {
    const r = await sql<{ ssl: boolean }>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`.execute(db);
    return r.rows[0]!.ssl;
  } finally {
    await store.close();
  }
}

describe('sslmode against PostgreSQL with TLS', () => {
  it('disable (the default) connects in the clear; require encrypts without checking the certificate', async () => {
    expect(await encrypted('application_name=plain')).toBe(false);
    expect(await encrypted('sslmode=require')).toBe(true);
  });

  it('verify-ca checks the chain and not the host name', async () => {
    expect(await encrypted(`sslmode=verify-ca&sslrootcert=${encodeURIComponent(tls.ca)}`)).toBe(true);
    await expect(encrypted(`sslmode=verify-ca&sslrootcert=${encodeURIComponent(tls.otherCa)}`))
      .rejects.toMatchObject({ code: 'STORE_OPEN', message: expect.stringMatching(/certificate/i) });
  });

  it('verify-full also checks the host name: a certificate for db.warmup.test does not serve 127.0.0.90', async () => {
    await expect(encrypted(`sslmode=verify-full&sslrootcert=${encodeURIComponent(tls.ca)}`))
      .rejects.toMatchObject({ code: 'STORE_OPEN', message: expect.stringMatching(/does not match certificate's altnames/) });
  });

  it('require with a root certificate checks the chain, as libpq does', async () => {
    await expect(encrypted(`sslmode=require&sslrootcert=${encodeURIComponent(tls.otherCa)}`))
      .rejects.toMatchObject({ code: 'STORE_OPEN', message: expect.stringMatching(/certificate/i) });
    expect(await encrypted(`sslmode=require&sslrootcert=${encodeURIComponent(tls.ca)}`)).toBe(true);
  });

  it('names an unreadable sslrootcert', () => {
    expect(() => resolvePgConnection('postgres://u@127.0.0.90/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.crt'))
      .toThrow(expect.objectContaining({ code: 'STORE_URL', message: 'cannot read sslrootcert /nonexistent/ca.crt: ENOENT' }));
  });
});
