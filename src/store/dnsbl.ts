/**
 * DNSBL answers.
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import { chunks } from '../util/chunks.js';
import { inTransaction } from './transaction.js';
import type { Db } from './schema.js';

/** One DNSBL answer to record (dnsbl_results). */
export interface DnsblResultInput {
  readonly ip: string;
  readonly zone: string;
  readonly status: 'listed' | 'clear' | 'error' | 'unknown';
  readonly answer: string | null;
  readonly meaning: string | null;
  readonly txt: string | null;
}

/** Records the answers of one DNSBL pass, all at `at`. */
export async function recordDnsblResults(db: Db, rows: readonly DnsblResultInput[], at: number): Promise<void> {
  if (rows.length === 0) return;
  await inTransaction(db, async (trx) => {
    for (const chunk of chunks(rows, 200)) {
      await trx.insertInto('dnsbl_results').values(chunk.map((r) => ({ at, ip: r.ip, zone: r.zone, status: r.status, answer: r.answer, meaning: r.meaning, txt: r.txt }))).execute();
    }
  });
}

/**
 * The last definitive answer (listed or clear) per IP and zone: what a new
 * answer is compared with to see a listing appear or go. Errors and unknowns
 * are skipped, so a flaky resolver never looks like a de-listing.
 */
export function lastDnsblVerdicts(db: Db, ips: readonly string[]) {
  if (ips.length === 0) return Promise.resolve([]);
  return db.selectFrom('dnsbl_results').selectAll().where('id', 'in', (eb) => eb.selectFrom('dnsbl_results')
    .select((e) => e.fn.max('id').as('id')).where('status', 'in', ['listed', 'clear']).where('ip', 'in', [...ips]).groupBy(['ip', 'zone']))
    .orderBy('ip').orderBy('zone').execute();
}

/** The most recent answers per IP and zone, whatever their status (status displays). */
export function latestDnsblResults(db: Db, ips: readonly string[]) {
  if (ips.length === 0) return Promise.resolve([]);
  return db.selectFrom('dnsbl_results').selectAll().where('id', 'in', (eb) => eb.selectFrom('dnsbl_results')
    .select((e) => e.fn.max('id').as('id')).where('ip', 'in', [...ips]).groupBy(['ip', 'zone']))
    .orderBy('ip').orderBy('zone').execute();
}

/** Every DNSBL answer for these IPs, oldest first (report history). */
export function dnsblHistory(db: Db, ips: readonly string[]) {
  if (ips.length === 0) return Promise.resolve([]);
  return db.selectFrom('dnsbl_results').select(['at', 'ip', 'zone', 'status'])
    .where('ip', 'in', [...ips]).orderBy('at').orderBy('id').execute();
}
