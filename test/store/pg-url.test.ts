/**
 * `sslmode` as libpq has it, against the real PostgreSQL 15 of the test peers with TLS on
 * (test/peers/up.sh: a certificate signed by a CA of the run, naming db.warmup.test only).
 * Connecting to 127.0.0.90 therefore fails verify-full on the name, and verify-ca (which
 * checks the chain, not the name) passes with the right CA and fails with another.
 * `prefer` and `allow` fall back through a loopback proxy that refuses one way (./pg-tls-proxy.ts).
 * Over the peer's unix socket every sslmode connects in the clear, as libpq's do.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/store/postgres.js';
import { fallsBack, resolvePgConnection } from '../../src/store/pg-url.js';
import { createPostgresDatabase, loadPeers } from '../peers/peers.js';
import { startTlsProxy, type ProxyMode, type TlsProxy } from './pg-tls-proxy.js';

let url = '';
let tls: { ca: string; otherCa: string; serverName: string };
let upstream: { host: string; port: number };
let socketDir = '';

beforeAll(async () => {
  url = await createPostgresDatabase('pg_tls');
  const pg = loadPeers().postgres;
  tls = pg.tls;
  upstream = { host: pg.host, port: pg.port };
  socketDir = pg.socketDir;
});

/** Whether the store's connection is encrypted, as the server sees it. */
async function encrypted(params: string, target = url): Promise<boolean> {
  const { store, db } = await openPostgres(`${target}${params ? `?${params}` : ''}`, { poolSize: 1 });
  try {
    const r = await sql<{ ssl: boolean }>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`.execute(db);
    return r.rows[0]!.ssl;
  } finally {
    await store.close();
  }
}

describe('sslmode against PostgreSQL with TLS', () => {
  it('disable connects in the clear; require encrypts without checking the certificate', async () => {
    expect(await encrypted('sslmode=disable')).toBe(false);
    expect(await encrypted('sslmode=require')).toBe(true);
  });

  it('prefer, the default as in libpq, encrypts when the server offers TLS, whatever its certificate', async () => {
    expect(await encrypted('')).toBe(true);
    expect(await encrypted('sslmode=prefer')).toBe(true);
  });

  it('PGSSLMODE sets the mode when the URL does not, and a bad one is named', () => {
    const at = (env: NodeJS.ProcessEnv, u = 'postgres://u@127.0.0.90/db') => resolvePgConnection(u, { env });
    expect(at({}).sslmode).toBe('prefer');
    expect(at({ PGSSLMODE: 'disable' })).toMatchObject({ sslmode: 'disable', attempts: [false], location: 'postgres://u@127.0.0.90:5432/db?sslmode=disable' });
    expect(at({ PGSSLMODE: 'disable' }, 'postgres://u@127.0.0.90/db?sslmode=allow').sslmode).toBe('allow');
    expect(() => at({ PGSSLMODE: 'sometimes' })).toThrow(expect.objectContaining({ code: 'STORE_URL', message: expect.stringContaining('(got "sometimes" from PGSSLMODE)') }));
  });

  it('prefer and allow over a unix socket are one plain attempt: libpq ignores sslmode there', () => {
    for (const mode of ['prefer', 'allow']) {
      expect(resolvePgConnection(`postgres:///db?host=%2Ftmp&user=u&sslmode=${mode}`, { env: {} }).attempts).toEqual([false]);
      expect(resolvePgConnection(`postgres://u@127.0.0.90/db?sslmode=${mode}`, { env: {} }).attempts).toHaveLength(2);
    }
  });

  it('every sslmode, verify-full too, connects in the clear over the unix socket and says so, as libpq ignores sslmode there', async () => {
    const dbname = new URL(url).pathname.slice(1);
    for (const mode of ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']) {
      // An sslrootcert that cannot be read: libpq reads it only for TLS, so over a socket it is no error.
      const target = `postgres:///${dbname}?host=${encodeURIComponent(socketDir)}&user=warmup&sslmode=${mode}&sslrootcert=%2Fnonexistent%2Fca.crt`;
      const logs: object[] = [];
      const { store, db } = await openPostgres(target, { poolSize: 1, log: { info: (fields, msg) => logs.push({ ...fields, msg }) } });
      try {
        const r = await sql<{ ssl: boolean; addr: string | null; n: number }>`select s.ssl, inet_client_addr()::text as addr, (select count(*) from kysely_migration)::int as n from pg_stat_ssl s where s.pid = pg_backend_pid()`.execute(db);
        expect([mode, r.rows[0]]).toEqual([mode, { ssl: false, addr: null, n: expect.any(Number) }]);
        // Who asked for certificate checks learns that the socket has none.
        expect([mode, logs]).toEqual([mode, ['require', 'verify-ca', 'verify-full'].includes(mode)
          ? [{ store: expect.stringContaining(encodeURIComponent(socketDir)), sslmode: mode, tls: false, msg: 'store connects in the clear over a unix socket: sslmode applies to TCP only, as in libpq' }]
          : []]);
      } finally {
        await store.close();
      }
    }
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

describe('prefer and allow: the TLS is settled at open, falling back as libpq does', () => {
  let proxy: TlsProxy | undefined;
  afterEach(async () => { await proxy?.close(); proxy = undefined; });

  /** The store's URL through the proxy, and what its log said. */
  async function viaProxy(mode: ProxyMode, params: string) {
    const tlsDir = dirname(tls.ca);
    proxy = await startTlsProxy(mode, upstream, { cert: readFileSync(join(tlsDir, 'server.crt'), 'utf8'), key: readFileSync(join(tlsDir, 'server.key'), 'utf8') });
    const logs: object[] = [];
    const opened = await openPostgres(`${url.replace(`${upstream.host}:${upstream.port}`, `127.0.0.1:${proxy.port}`)}${params}`,
      { poolSize: 3, log: { info: (fields, msg) => logs.push({ ...fields, msg }) } });
    return { ...opened, logs, seen: proxy.seen };
  }

  /** pg_stat_ssl of three connections the pool holds at once (so three distinct ones). */
  async function sslOfThree(db: Awaited<ReturnType<typeof viaProxy>>['db']): Promise<boolean[]> {
    const one = () => sql<{ ssl: boolean; pid: number }>`select s.ssl, s.pid from pg_stat_ssl s, pg_sleep(0.2) where s.pid = pg_backend_pid()`.execute(db);
    const rows = (await Promise.all([one(), one(), one()])).map((r) => r.rows[0]!);
    expect(new Set(rows.map((r) => r.pid)).size).toBe(3);
    return rows.map((r) => r.ssl);
  }

  it('prefer goes on in the clear when the server refuses TLS, and every pooled connection does the same; require does not', async () => {
    const { store, db, logs, seen } = await viaProxy('refuse-tls', '');
    try {
      await store.ensureLanes('p', [{ ip: '127.0.0.5', provider: 'gmail' }], 0);
      expect(await sslOfThree(db)).toEqual([false, false, false]);
      expect(seen).toEqual(['ssl-request', 'startup', 'startup', 'startup']);
      expect(logs).toEqual([{ store: expect.stringMatching(/^postgres:\/\/warmup@127\.0\.0\.1:\d+\//), sslmode: 'prefer', tls: false, msg: 'store connects in the clear: the server refused TLS' }]);
    } finally {
      await store.close();
    }
    await proxy!.close();
    await expect(viaProxy('refuse-tls', '?sslmode=require')).rejects.toMatchObject({ code: 'STORE_OPEN', message: expect.stringContaining('The server does not support SSL connections') });
    // When the second way fails too, the error tells both.
    await expect(openPostgres(`postgres://warmup@127.0.0.1:${proxy!.port}/no_such_db`)).rejects.toMatchObject({ code: 'STORE_OPEN',
      message: `cannot open database postgres://warmup@127.0.0.1:${proxy!.port}/no_such_db (with TLS: The server does not support SSL connections; then in the clear): database "no_such_db" does not exist` });
  });

  /** Opens the real server's store with `params`; pg_stat_ssl of its connection and what it logged. */
  async function direct(params: string): Promise<{ ssl: boolean; logs: object[] }> {
    const logs: object[] = [];
    const { store, db } = await openPostgres(`${url}${params}`, { poolSize: 1, log: { info: (fields, msg) => logs.push({ ...fields, msg }) } });
    try {
      return { ssl: (await sql<{ ssl: boolean }>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`.execute(db)).rows[0]!.ssl, logs };
    } finally {
      await store.close();
    }
  }

  it('prefer against a server that offers TLS takes it, and says so', async () => {
    expect(await direct('')).toEqual({ ssl: true, logs: [expect.objectContaining({ sslmode: 'prefer', tls: true, msg: 'store connects with TLS' })] });
  });

  it('allow connects in the clear first, where the server takes it, and says so', async () => {
    expect(await direct('?sslmode=allow')).toEqual({ ssl: false, logs: [expect.objectContaining({ sslmode: 'allow', tls: false, msg: 'store connects in the clear' })] });
  });

  /** A login refused (28000) with one encryption: the fixed mode fails on it, the other retries the other way for the whole pool. */
  const loginRefusals = [
    { title: 'allow retries with TLS when the server rejects the plaintext login (28000), and keeps TLS for the pool; disable does not',
      proxy: 'refuse-plaintext', fixed: 'disable', params: '?sslmode=allow', mode: 'allow', refused: 'startup', retried: 'ssl-request', tls: true,
      ip: '127.0.0.6', msg: 'store connects with TLS: the server refused the connection in the clear' },
    { title: 'prefer, the default, retries in the clear when the server rejects the TLS login (28000, a hostnossl line), and keeps it for the pool; require does not',
      proxy: 'refuse-tls-login', fixed: 'require', params: '', mode: 'prefer', refused: 'ssl-request', retried: 'startup', tls: false,
      ip: '127.0.0.7', msg: 'store connects in the clear: the server refused the login with TLS' },
  ] as const;
  for (const c of loginRefusals) {
    it(c.title, async () => {
      await expect(viaProxy(c.proxy, `?sslmode=${c.fixed}`)).rejects.toMatchObject({ code: 'STORE_OPEN', message: expect.stringContaining('no pg_hba.conf entry') });
      expect(proxy!.seen).toEqual([c.refused]);
      await proxy!.close();
      const { store, db, logs, seen } = await viaProxy(c.proxy, c.params);
      try {
        await store.ensureLanes('p', [{ ip: c.ip, provider: 'gmail' }], 0);
        expect(await sslOfThree(db)).toEqual([c.tls, c.tls, c.tls]);
        expect(seen).toEqual([c.refused, c.retried, c.retried, c.retried]);
        expect(logs).toEqual([expect.objectContaining({ sslmode: c.mode, tls: c.tls, msg: c.msg })]);
      } finally {
        await store.close();
      }
    });
  }

  it('falls back only on the refusal the other way can cure', () => {
    const refusedTls = new Error('The server does not support SSL connections');
    const noHbaLine = Object.assign(new Error('no pg_hba.conf entry for host "127.0.0.1", user "u", database "d", no encryption'), { code: '28000' });
    const noHbaLineTls = Object.assign(new Error('no pg_hba.conf entry for host "127.0.0.1", user "u", database "d", SSL encryption'), { code: '28000' });
    const badPassword = Object.assign(new Error('password authentication failed for user "u"'), { code: '28P01' });
    const cases: Array<[Parameters<typeof fallsBack>[0], unknown, boolean]> = [
      ['prefer', refusedTls, true], ['prefer', noHbaLineTls, true], ['prefer', badPassword, false], ['prefer', new Error('connect ECONNREFUSED 127.0.0.1:1'), false],
      ['allow', noHbaLine, true], ['allow', badPassword, false], ['allow', refusedTls, false],
      ['require', refusedTls, false], ['require', noHbaLineTls, false], ['disable', noHbaLine, false],
    ];
    for (const [mode, err, expected] of cases) expect([mode, (err as Error).message, fallsBack(mode, err)]).toEqual([mode, (err as Error).message, expected]);
  });
});
