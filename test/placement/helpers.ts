/**
 * Placement test fixtures: a plan whose seeds are the Dovecot peer's users, a
 * store in a temp dir, and real sends through the Postfix MX so that the
 * messages rows and the mailboxes agree.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { createSmtpMailer, type Mailer } from '../../src/send/mailer.js';
import { buildMessage } from '../../src/send/message.js';
import { openSqlite, type OpenedSqlite } from '../../src/store/open.js';
import { pendingPlacements } from '../../src/store/placements.js';
import type { Database } from '../../src/store/schema.js';
import { Kysely, SqliteDialect } from 'kysely';
import { createMessage, ensureLanes, openLaneDay, recordAttempt, type LaneRow } from '../../src/store/queries.js';
import type { Clock } from '../../src/util/clock.js';
import { createLogger, type Logger } from '../../src/util/log.js';
import { loadPeers } from '../peers/peers.js';

export const JUNK_IP = '127.0.0.39';
/** Inbox sends; also where nothing listens on 143 (the "server down" address). */
export const INBOX_IP = '127.0.0.141';
export const DEAD_IMAP = '127.0.0.141';
export const SEED_PASSWORD_ENV = 'WARMUP_TEST_SEED_PASSWORD';
export const BAD_PASSWORD_ENV = 'WARMUP_TEST_SEED_BAD_PASSWORD';

export interface SeedSpec {
  readonly address: string;
  /** IMAP host override (default: the Dovecot peer). */
  readonly host?: string;
  readonly passwordEnv?: string;
}

/** A plan with one provider `pt` (postfix.test) whose seeds have IMAP access. */
export function placementPlan(opts: { name: string; seeds: readonly SeedSpec[]; providerExtra?: string; extra?: string }): { plan: Plan; env: Record<string, string> } {
  const { host, port } = loadPeers().imap;
  const dir = mkdtempSync(join(tmpdir(), `warmup-${opts.name}-`));
  const seeds = opts.seeds.map((s) =>
    `      - address: ${s.address}\n        imap: { host: "${s.host ?? host}", port: ${port}, tls: false, password_env: ${s.passwordEnv ?? SEED_PASSWORD_ENV} }`).join('\n');
  const text = `name: ${opts.name}
timezone: UTC
start: 2026-12-01
launch: 2026-12-20
sender:
  from: { address: hello@news.warmup.test }
  unsubscribe: { url: "https://news.warmup.test/u?r={{recipient}}" }
ips:
  - { address: ${INBOX_IP}, ehlo: mta141.warmup.test }
  - { address: ${JUNK_IP}, ehlo: mta39.warmup.test }
providers:
  pt:
    domains: [postfix.test]
    seeds:
${seeds}
${opts.providerExtra ?? ''}
imap: { poll_interval: 5m, missing_after: 2h }
warnings: { ip_peak_per_day: 1 }
store: { path: ${join(dir, 'warmup.db')} }
${opts.extra ?? ''}`;
  const env = { [SEED_PASSWORD_ENV]: loadPeers().imap.password, [BAD_PASSWORD_ENV]: 'not-the-password' };
  const r = loadPlan(text, { env });
  if (!r.ok) throw new Error(`test plan invalid:\n${r.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`).join('\n')}`);
  return { plan: r.plan, env };
}

/** A logger whose JSON lines are kept for assertions (and for checking no password leaks). */
export function memoryLogger(): { log: Logger; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb(); } });
  const log = createLogger({ level: 'debug', destination });
  return { log, text: () => chunks.join(''), lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export interface World {
  readonly plan: Plan;
  readonly store: OpenedSqlite;
  readonly lanes: Map<string, LaneRow>;
  readonly day: string;
  readonly mailer: Mailer;
  close(): Promise<void>;
}

/** Opens the plan's store, creates both lanes and opens their day. */
export async function openWorld(plan: Plan, clock: Clock): Promise<World> {
  const store = await openSqlite(plan.storePath);
  const now = clock.now();
  const day = new Date(now).toISOString().slice(0, 10);
  const rows = await ensureLanes(store.db, plan.name, plan.ips.map((ip) => ({ ip: ip.address, provider: 'pt' })), now);
  for (const l of rows) {
    await openLaneDay(store.db, { lane_id: l.id, day, stage: 1, target: 50, spread_from: now, spread_until: now + 3_600_000 }, now);
  }
  const mailer = createSmtpMailer({ clock, pool: { maxConnections: 1 } });
  return {
    plan, store, day, mailer, lanes: new Map(rows.map((l) => [l.ip, l])),
    close: async () => { await mailer.close(); await store.close(); },
  };
}

/**
 * Sends one real warm-up message from `ip` to `to` through the Postfix MX and
 * records it as the daemon would (createMessage, then an accepted attempt).
 * With `send: false` only the rows are written (a message that has not arrived);
 * `deliver()` sends that same message through the MX later (a late arrival).
 */
export async function sendWarmup(w: World, clock: Clock, ip: string, to: string, opts: { send?: boolean } = {}): Promise<{ id: number; messageId: string; deliver: () => Promise<void> }> {
  const mx = loadPeers().mx;
  const lane = w.lanes.get(ip)!;
  const token = `pl${randomBytes(8).toString('hex')}`;
  const built = buildMessage({
    from: { address: 'hello@news.warmup.test' }, to, subject: 'Placement {{seq}}', text: 'Hello {{local_part}}',
    unsubscribe: { url: 'https://news.warmup.test/u?id={{message_id}}', mailto: 'mailto:unsub@news.warmup.test' },
    provider: 'pt', ip, seq: 1,
  }, { now: clock.now(), newId: () => token });
  const messageId = built.messageId.slice(1, -1);
  const { id } = await createMessage(w.store.db, { laneId: lane.id, day: w.day, recipient: to, messageId, now: clock.now() });
  const startedAt = clock.now();
  const deliver = async () => {
    const [rec] = await w.mailer.send({
      envelope: built.envelope, message: { fields: built.fields }, localAddress: ip, ehloName: `mta${ip.split('.')[3]}.warmup.test`,
      host: mx.hostname, address: mx.host, port: mx.port, tls: 'none',
    });
    if (rec?.outcome !== 'accepted') throw new Error(`send from ${ip} to ${to} not accepted: ${rec?.text}`);
  };
  if (opts.send !== false) await deliver();
  await recordAttempt(w.store.db, {
    messageId: id, laneId: lane.id, day: w.day, startedAt, latencyMs: 1, mxHost: mx.hostname, mxAddress: mx.host,
    outcome: 'accepted', code: 250, enhanced: '2.0.0', reply: '250 2.0.0 Ok', stage: 'data', retry: 0,
  }, { status: 'accepted', at: clock.now() });
  return { id, messageId, deliver };
}

/**
 * The accepted messages to `mailboxes` that the store's pending-placement query walks: it
 * records the SQL the store's query runs, asks SQLite's plan which index of `messages` it searches,
 * and counts that index's entries for these recipients (a partial index holds only the rows its
 * WHERE admits). This is what a poll reads from the store, whatever the query returns after
 * its joins.
 */
export async function pendingReads(w: World, mailboxes: readonly string[]): Promise<number> {
  const raw = new BetterSqlite3(w.plan.storePath, { readonly: true });
  const texts: string[] = [];
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: {
    close: () => {},
    prepare: (sql: string) => { texts.push(sql); return raw.prepare(sql) as never; },
  } }) });
  try {
    await pendingPlacements(db, w.plan.name, mailboxes);
    if (texts.length !== 1) throw new Error(`expected one query, got ${texts.length}`);
    const text = texts[0]!;
    const plan = raw.prepare(`explain query plan ${text}`).all(...Array.from({ length: (text.match(/\?/g) ?? []).length }, () => null)) as { detail: string }[];
    const index = plan.map((p) => /^SEARCH messages USING (?:COVERING )?INDEX (\w+)/.exec(p.detail)?.[1]).find((x) => x !== undefined);
    if (!index) throw new Error(`the pending query does not search an index of messages: ${plan.map((p) => p.detail).join('; ')}`);
    const sql = raw.prepare("select sql from sqlite_master where type = 'index' and name = ?").pluck().get(index) as string;
    const where = / where (.*)$/is.exec(sql)?.[1] ?? '1';
    return raw.prepare(`select count(*) from messages indexed by ${index} where recipient in (${mailboxes.map(() => '?').join(', ')}) and (${where})`).pluck().get(...mailboxes) as number;
  } finally {
    await db.destroy();
    raw.close();
  }
}
