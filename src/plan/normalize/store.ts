/**
 * The plan's `store` section when it names a PostgreSQL server (`url`): the
 * URL checked (never echoed with a password), and the password file.
 */
import { isPostgresUrl, postgresUrlProblem, redactUrl } from '../../store/pg-url.js';
import type { NormalizeContext } from './context.js';

export function normalizeStoreServer(ctx: NormalizeContext): { url: string; passwordFile: string | null } | null {
  const { w, err, warn, secretPath } = ctx;
  const store = w.store;
  if (!store) return null;
  if (store.url === undefined) {
    if (store.password_file !== undefined) err(['store', 'password_file'], 'only with store.url (a PostgreSQL server); a SQLite file has no password');
    return null;
  }
  if (store.path !== undefined) err(['store'], 'give path (a SQLite file) or url (a PostgreSQL server), not both');
  if (!isPostgresUrl(store.url)) {
    err(['store', 'url'], `must be a postgres:// URL (got "${redactUrl(store.url)}"); a SQLite file is store.path`);
    return null;
  }
  const problem = postgresUrlProblem(store.url);
  if (problem) {
    err(['store', 'url'], problem);
    return null;
  }
  if (redactUrl(store.url) !== store.url) {
    warn(['store', 'url'], 'holds a password, which the plan file then spreads to every copy: use store.password_file (a systemd credential), PGPASSWORD, a service file or ~/.pgpass');
  }
  let passwordFile: string | null = null;
  if (store.password_file !== undefined) {
    const p = secretPath(['store', 'password_file'], store.password_file, 'the database password', '');
    // A ${VAR} unset here (CREDENTIALS_DIRECTORY outside the service): the other sources apply.
    passwordFile = /\$\{/.test(p) ? null : p;
  }
  return { url: store.url, passwordFile };
}
