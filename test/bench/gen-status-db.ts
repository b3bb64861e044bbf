/**
 * Fills a warmup database for the `status` bench: 14 days x 64 IPs x 8
 * providers, and `perLaneDay` messages per lane-day with one attempt each (plus
 * a retry for every 20th), i.e. at least 5M attempts by default. Raw
 * better-sqlite3 prepared statements in big transactions: the daemon's
 * queries would take hours for this.
 *
 * Usage: node --import tsx test/bench/gen-status-db.ts PLAN.yaml DB [--per-lane-day N]
 */
import BetterSqlite3 from 'better-sqlite3';
import { parseArgs } from 'node:util';
import { loadPlanFile } from '../../src/plan/load.js';
import { addDays, zonedInstant } from '../../src/schedule/calendar.js';
import { openSqlite } from '../../src/store/open.js';
import { tallyReply, type ReplyTally } from '../../src/store/reply-tallies.js';
import type { Outcome } from '../../src/store/schema.js';

export async function generateStatusDb(planFile: string, dbPath: string, perLaneDay: number): Promise<{ attempts: number; messages: number; laneDays: number }> {
  const loaded = loadPlanFile(planFile);
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join('\n'));
  const plan = loaded.plan;
  const store = await openSqlite(dbPath); // creates and migrates
  await store.close();
  const db = new BetterSqlite3(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const now = zonedInstant(plan.launch, 0, plan.timezone);
  const insLane = db.prepare(`insert into lanes (plan, ip, provider, stage, state, state_until, state_reason, rate_factor, rate_until, max_connections, holds_in_row, decided_day, updated_at)
    values (?, ?, ?, 14, 'active', null, null, 1, null, null, 0, ?, ?)`);
  const insDay = db.prepare(`insert into lane_days (lane_id, day, stage, target, spread_from, spread_until, decision, decided_at, sent, accepted, deferred, bounced, failed, expired, retries)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?)`);
  const insMsg = db.prepare(`insert into messages (lane_id, day, seq, recipient, message_id, status, attempts, created_at, next_attempt_at, finished_at)
    values (?, ?, ?, ?, ?, 'accepted', ?, ?, null, ?)`);
  const insAtt = db.prepare(`insert into attempts (message_id, lane_id, day, started_at, latency_ms, mx_host, mx_address, outcome, code, enhanced, reply, stage, retry)
    values (?, ?, ?, ?, ?, ?, '192.0.2.25', ?, ?, ?, ?, ?, ?)`);
  const lastDay = addDays(plan.launch, -1);
  let attempts = 0;
  let messages = 0;
  let laneDays = 0;
  const laneIds: Array<{ id: number; ip: string; provider: string }> = [];
  db.transaction(() => {
    for (const ip of plan.ips) for (const p of plan.providers) {
      const id = Number(insLane.run(plan.name, ip.address, p.name, lastDay, now).lastInsertRowid);
      laneIds.push({ id, ip: ip.address, provider: p.name });
    }
  })();
  for (let d = 0; d < 14; d++) {
    const day = addDays(plan.start, d);
    const from = zonedInstant(day, plan.window.start, plan.timezone);
    const until = zonedInstant(day, plan.window.end, plan.timezone);
    db.transaction(() => {
      for (const lane of laneIds) {
        const retries = Math.floor(perLaneDay / 20);
        insDay.run(lane.id, day, d + 1, perLaneDay, from, until, d === 13 ? null : 'advance', d === 13 ? null : until, perLaneDay, perLaneDay, retries, retries);
        laneDays++;
        const step = (until - from) / perLaneDay;
        for (let k = 1; k <= perLaneDay; k++) {
          const at = Math.round(from + k * step);
          const retry = k % 20 === 0;
          const mid = Number(insMsg.run(lane.id, day, k, `seed${(k % 10) + 1}@${lane.provider}.bench.test`, `wu-${lane.id}-${day}-${k}@bench.warmup.test`, retry ? 2 : 1, at, at + 1000).lastInsertRowid);
          messages++;
          const mx = `mx.${lane.provider}.bench.test`;
          if (retry) {
            insAtt.run(mid, lane.id, day, at, 210, mx, 'deferred', 421, '4.7.0', '421 4.7.0 [TSS04] Messages from 198.51.100.1 temporarily deferred due to unexpected volume or user complaints', 'rcpt', 0);
            attempts++;
          }
          insAtt.run(mid, lane.id, day, at + (retry ? 300_000 : 0), 180, mx, 'accepted', 250, '2.0.0', '250 2.0.0 OK 1741083072 sim - gsmtp', 'dot', retry ? 1 : 0);
          attempts++;
        }
      }
    })();
  }
  // The running counts the daemon keeps beside each attempt (metrics read them, not attempts).
  db.exec('delete from lane_outcomes; insert into lane_outcomes (lane_id, outcome, n) select lane_id, outcome, count(*) from attempts group by lane_id, outcome');
  // Each lane's last attempt (status reads it, not the attempts).
  db.exec(`delete from lane_last; insert into lane_last (lane_id, at, outcome, code, reply) select lane_id, started_at, outcome, code, reply from attempts
    where id in (select (select a.id from attempts a where a.lane_id = l.id order by a.started_at desc, a.id desc limit 1) from lanes l)`);
  // And per lane-day, outcome and reply shape for what was not accepted (status reads these).
  const tallies = new Map<string, ReplyTally>();
  const groups = db.prepare(`select lane_id, day, outcome, reply, count(*) as n from attempts where lane_id = ? and outcome != 'accepted' group by day, outcome, reply`);
  for (const lane of laneIds) {
    for (const r of groups.all(lane.id) as Array<{ lane_id: number; day: string; outcome: Outcome; reply: string | null; n: number }>) {
      tallyReply(tallies, { laneId: r.lane_id, day: r.day, outcome: r.outcome, reply: r.reply }, r.n);
    }
  }
  const insReply = db.prepare('insert into lane_replies (lane_id, day, outcome, reply_key, reply, n) values (?, ?, ?, ?, ?, ?)');
  db.transaction(() => {
    db.exec('delete from lane_replies');
    for (const t of tallies.values()) insReply.run(t.lane_id, t.day, t.outcome, t.reply_key, t.reply, t.n);
  })();
  db.close();
  return { attempts, messages, laneDays };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'per-lane-day': { type: 'string' } } });
  const r = await generateStatusDb(positionals[0]!, positionals[1]!, Number(values['per-lane-day'] ?? 700));
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
