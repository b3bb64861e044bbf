import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.js';
import { planSecrets, renderUnit } from '../../src/ops/systemd.js';
import { parse } from 'yaml';
import { fixtureDir, validText } from './helpers.js';

// store: { url } names a PostgreSQL server; store: { path } (or nothing) a SQLite file.
const file = `${fixtureDir}plan.yaml`;
const load = (extra: string, env: NodeJS.ProcessEnv = {}) => loadPlan(`${validText}\n${extra}\n`, { file, env });
const lines = validText.split('\n').length;
const issueAt = (extra: string, path: string, kind: 'errors' | 'warnings' = 'errors') => {
  const r = load(extra);
  const list = kind === 'errors' ? (r.ok ? [] : r.errors) : r.warnings;
  const found = list.find((e) => e.path === path);
  if (!found) throw new Error(`no ${kind} at ${path}: ${JSON.stringify(list)}`);
  return found;
};

describe('store.url in the plan', () => {
  it('names the PostgreSQL store, with the password file when its variable is set', () => {
    const r = load('store:\n  url: postgres://warmup@db.internal:5432/warmup?sslmode=verify-full\n  password_file: ${CREDENTIALS_DIRECTORY}/warmup-db-password', { CREDENTIALS_DIRECTORY: '/run/credentials/warmup.service' });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.plan.storeServer).toEqual({ url: 'postgres://warmup@db.internal:5432/warmup?sslmode=verify-full', passwordFile: '/run/credentials/warmup.service/warmup-db-password' });
    expect(r.warnings.filter((w) => w.path.startsWith('store'))).toEqual([]);
  });

  it('without CREDENTIALS_DIRECTORY (an operator at a shell) has no password file: PGPASSWORD, a service file or ~/.pgpass apply', () => {
    const r = load('store:\n  url: postgres://warmup@db.internal/warmup\n  password_file: ${CREDENTIALS_DIRECTORY}/warmup-db-password');
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.plan.storeServer).toEqual({ url: 'postgres://warmup@db.internal/warmup', passwordFile: null });
  });

  it('a plan without store.url keeps SQLite', () => {
    const r = load('store:\n  path: data/x.db');
    expect(r.ok && r.plan.storeServer).toBe(null);
  });

  it('refuses a URL it cannot use, at the key\'s line and column, without echoing a password', () => {
    const bad = issueAt('store:\n  url: "postgres://warmup:s3cret@db:54x2/warmup"', 'store.url');
    expect([bad.line, bad.column]).toEqual([lines + 2, 8]);
    expect(bad.message).not.toContain('s3cret');
    expect(issueAt('store:\n  url: postgres://db/warmup?sslmod=require', 'store.url').message).toContain('unknown parameter "sslmod"');
    expect(issueAt('store:\n  url: postgres://db/warmup?sslmode=sometimes', 'store.url').message).toContain('sslmode must be one of');
    expect(issueAt('store:\n  url: mysql://db/warmup', 'store.url').message).toContain('must be a postgres:// URL');
    expect(issueAt('store:\n  url: postgres://db/warmup\n  path: data/x.db', 'store').message).toContain('not both');
    expect(issueAt('store:\n  password_file: /etc/pw', 'store.password_file').message).toContain('only with store.url');
  });

  it('warns when the URL carries the password, and never prints it', () => {
    const w = issueAt('store:\n  url: postgres://warmup:s3cret@db/warmup', 'store.url', 'warnings');
    expect(w.message).toContain('password_file');
    expect(w.message).not.toContain('s3cret');
  });

  it('warmup systemd hands the password file over as a credential and starts without --db', () => {
    const w = parse(`${validText}\nstore:\n  url: postgres://warmup@db/warmup\n  password_file: \${CREDENTIALS_DIRECTORY}/warmup-db-password\n`);
    const secrets = planSecrets(w, '/etc/warmup/credentials');
    expect(secrets.credentials).toContainEqual({ name: 'warmup-db-password', source: '/etc/warmup/credentials/warmup-db-password', env: null, key: 'store.password_file' });
    const unit = renderUnit({ planName: 'p', planPath: '/etc/warmup/plan.yaml', bin: '/usr/local/bin/warmup', user: null, credentials: secrets.credentials, storeServer: true });
    expect(unit).toContain('LoadCredential=warmup-db-password:/etc/warmup/credentials/warmup-db-password');
    expect(unit).toMatch(/ExecStart=\/usr\/local\/bin\/warmup start \/etc\/warmup\/plan.yaml\n/);
  });
});
