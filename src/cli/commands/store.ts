/**
 * `warmup store copy`: moves a SQLite store's history into PostgreSQL (a
 * warm-up begun on one host, going on as a fleet). The copy itself is
 * src/store/copy.ts; this parses, prints each table's rows, and the result.
 */
import { hostname } from 'node:os';
import { isPostgresUrl, redactUrl } from '../../store/pg-url.js';
import { ExitError } from '../../util/errors.js';
import { pidAlive } from '../../util/pid.js';
import { parse } from '../args.js';
import { num, table } from '../format.js';
import type { CliIo } from '../io.js';

export const usage = `Usage: warmup store copy --from FILE.db --to postgres://... [--replace] [--migrate-source] [--json]

Copies every row of a SQLite store (the plan's store.path, e.g. data/warmup.db)
into a PostgreSQL database, to go on with the warm-up as a fleet: lanes, days,
decisions, holds, messages, attempts, events, DNSBL answers, placements, runs.
The file is only read. The database is migrated to this warmup's version and
filled in one transaction: an error or Ctrl-C leaves it as it was. Each
table's row count is checked on both sides before the commit, and the ids go
on after the copied ones. Then point the plan at it (store: { url }).

Refused (nothing written, exit 1) while a daemon runs on the file (an IP lease
renewed in the last minute: stop \`warmup start\` first), when the file lacks
migrations of this warmup, and when the database already holds rows.

  --from FILE       the SQLite file
  --to URL          the PostgreSQL database (password as for store.url: the
                    URL, PGPASSWORD, ~/.pgpass, a service)
  --replace         delete the database's rows first (same transaction)
  --migrate-source  apply this warmup's pending migrations to the file first
  --json            print the result as JSON`;

/** Rows between two progress lines of one table (a multiple of the copy's batch of 5,000). */
const PROGRESS_ROWS = 250_000;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    from: { type: 'string' }, to: { type: 'string' }, replace: { type: 'boolean' }, 'migrate-source': { type: 'boolean' }, json: { type: 'boolean' },
  }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const usageError = (what: string): never => { io.err(`warmup store: ${what}\n\n${usage}`); throw new ExitError(2); };
  if (positionals.length !== 1 || positionals[0] !== 'copy') usageError(positionals.length === 0 ? 'which action? (copy)' : `unknown action "${positionals.join(' ')}" (known: copy)`);
  if (values.from === undefined || values.to === undefined) usageError('copy needs --from FILE and --to postgres://...');
  const from = values.from!;
  const to = values.to!;
  if (isPostgresUrl(from)) usageError('--from is the SQLite file; the PostgreSQL URL goes to --to');
  if (!isPostgresUrl(to)) usageError(`--to must be a postgres:// URL (got ${redactUrl(to)})`);

  const { copySqliteToPostgres } = await import('../../store/copy.js');
  const { resolve } = await import('node:path');
  const path = resolve(io.cwd, from);
  if (!values.json) io.err(`copying ${path} into ${redactUrl(to)} ...`);
  const result = await copySqliteToPostgres({
    from: path, to, replace: Boolean(values.replace), migrateSource: Boolean(values['migrate-source']),
    now: Date.now(), host: hostname().toLowerCase(), alive: pidAlive,
    ...(values.json ? {} : {
      onTable: (t: string, rows: number) => io.err(`  ${t}: ${num(rows)} row${rows === 1 ? '' : 's'}`),
      // A store of millions of attempts takes minutes: a line now and then on the long tables.
      onBatch: (t: string, rows: number) => { if (rows % PROGRESS_ROWS === 0) io.err(`  ${t}: ${num(rows)} rows so far`); },
    }),
  });
  if (values.json) { io.out(JSON.stringify(result, null, 2)); return 0; }
  io.out(table(['table', 'rows', 'next id'], [
    ...result.tables.map((t) => [t.table, num(t.rows), t.nextId === null ? '' : String(t.nextId)]),
    ['total', num(result.total), ''],
  ]));
  io.out(`\ncopied ${num(result.total)} rows of ${result.tables.length} tables from ${result.from} into ${result.to}`
    + ` (migrations: ${result.migrations}${result.sourceMigrated ? ', the file migrated first' : ''}); every table's row count verified on both sides.`
    + `\nNext: point the plan at it (store: { url: ${result.to} }) and start the daemons.`);
  return 0;
}
