/** Bytes on disk of the attempts table and its indexes, from SQLite's dbstat table (for the benches). */
import BetterSqlite3 from 'better-sqlite3';

/** Bytes per attempt: the attempts table with its indexes, and the whole database file. */
export function bytesPerAttempt(dbPath: string): { attempts: number; attemptBytes: number; bytesPerAttempt: number; dbBytesPerAttempt: number; byObject: Record<string, number> } {
  const db = new BetterSqlite3(dbPath, { readonly: true });
  try {
    const attempts = Number(db.prepare('select count(*) from attempts').pluck().get());
    const names = new Set(['attempts', ...db.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'attempts'").pluck().all() as string[]]);
    const rows = db.prepare('select name, sum(pgsize) as bytes from dbstat group by name').all() as { name: string; bytes: number }[];
    const byObject = Object.fromEntries(rows.filter((r) => names.has(r.name)).map((r) => [r.name, r.bytes]));
    const attemptBytes = Object.values(byObject).reduce((a, b) => a + b, 0);
    const dbBytes = rows.reduce((a, r) => a + r.bytes, 0);
    return { attempts, attemptBytes, bytesPerAttempt: attempts ? attemptBytes / attempts : 0, dbBytesPerAttempt: attempts ? dbBytes / attempts : 0, byObject };
  } finally {
    db.close();
  }
}
