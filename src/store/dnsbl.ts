/**
 * DNSBL answers.
 * One named function per query; kept within what kysely also runs on PostgreSQL.
 */
import { chunks } from '../util/chunks.js';
import { rows } from './prepared.js';
import { inTransaction } from './transaction.js';
import type { Selectable } from 'kysely';
import type { Db, DnsblResultsTable } from './schema.js';

/** A row of dnsbl_results. */
export type DnsblResultRow = Selectable<DnsblResultsTable>;

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
export function latestDnsblResults(db: Db, ips: readonly string[]): Promise<DnsblResultRow[]> {
  if (ips.length === 0) return Promise.resolve([]);
  // Fixed SQL (./prepared.ts): every /metrics scrape runs it, and building it cost more than running it.
  return rows<DnsblResultRow>(db, `select * from "dnsbl_results" where "id" in (select max("id") from "dnsbl_results"
    where "ip" in (${ips.length === 1 ? '?' : `?${', ?'.repeat(ips.length - 1)}`}) group by "ip", "zone") order by "ip", "zone"`, ips);
}

/** Every DNSBL answer for these IPs, oldest first (report history). */
export function dnsblHistory(db: Db, ips: readonly string[]) {
  if (ips.length === 0) return Promise.resolve([]);
  return db.selectFrom('dnsbl_results').select(['at', 'ip', 'zone', 'status'])
    .where('ip', 'in', [...ips]).orderBy('at').orderBy('id').execute();
}
