/**
 * A small warm-up history in a temp database for the metrics and report
 * tests: two IPs (127.0.0.63, .64) x two providers, five sending days, with
 * deferrals, bounces, a retry still queued, a suspension, a back-off,
 * placements and DNSBL answers (127.0.0.64 listed on day 3, cleared on day 5).
 * Written through the store's named queries, except the two rows the daemon's
 * own monitors write (dnsbl_results, placement counters), inserted directly.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';
import { addDays, zonedInstant } from '../../src/schedule/calendar.js';
import { laneRamp, stageVolume } from '../../src/schedule/ramp.js';
import { openSqlite, type OpenedSqlite } from '../../src/store/open.js';
import { addEvent, addHold, createMessage, decideLaneDay, ensureLanes, openLaneDay, recordAttempt } from '../../src/store/queries.js';

export const PLAN_TEXT = `name: ops-fixture
timezone: Europe/Paris
start: 2026-12-01
launch: 2026-12-12
window: { start: "09:00", end: "18:00" }
sender:
  from: { address: hello@news.example.com }
  unsubscribe: { url: "https://news.example.com/u" }
ips:
  - { address: 127.0.0.63, ehlo: mta63.warmup.test }
  - { address: 127.0.0.64, ehlo: mta64.warmup.test }
ramps:
  default: { start: 20, growth: 1.5, cap: 200 }
providers:
  gmail: { domains: [gmail.com], seeds: [a@gmail.com] }
  yahoo: { domains: [yahoo.com], seeds: [b@yahoo.com] }
dnsbl: { zones: [zen.dnsbl.test, bl.dnsbl.test] }
metrics: { listen: "127.0.0.111:9464" }
`;

export const DAYS = ['2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04', '2026-12-05'] as const;
/** "Now" for the fixture: day 5 at 17:00 Paris. */
export const NOW = zonedInstant('2026-12-05', 17 * 60, 'Europe/Paris');

export function fixturePlan(text = PLAN_TEXT): Plan {
  const r = loadPlan(text, { cwd: tmpdir(), env: {} });
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  return r.plan;
}

/** How a lane-day went: counts per outcome of first attempts. */
function outcomeOf(ip: string, provider: string, dayIndex: number, seq: number): 'accepted' | 'deferred' | 'bounced' {
  // 127.0.0.64 at yahoo struggles from day 3 on (deferrals), everything else mostly accepts.
  if (ip === '127.0.0.64' && provider === 'yahoo' && dayIndex >= 2 && seq % 3 === 0) return 'deferred';
  if (seq % 17 === 0) return 'bounced';
  if (seq % 11 === 0) return 'deferred';
  return 'accepted';
}

export interface Expected {
  /** attempts per `${ip}|${provider}|${outcome}` */
  readonly attempts: Map<string, number>;
  /** deferred messages still queued per `${ip}|${provider}` */
  readonly retries: Map<string, number>;
  /** targets per day per lane */
  readonly targets: Map<string, number>;
}

/** Opens a fresh store and writes the history; the caller closes it. */
export async function buildFixture(plan: Plan): Promise<{ store: OpenedSqlite; path: string; expected: Expected }> {
  const path = join(mkdtempSync(join(tmpdir(), 'warmup-ops-')), 'warmup.db');
  const store = await openSqlite(path);
  const db = store.db;
  const lanes = await ensureLanes(db, plan.name, plan.ips.flatMap((i) => plan.providers.map((p) => ({ ip: i.address, provider: p.name }))), zonedInstant(DAYS[0], 0, plan.timezone));
  const attempts = new Map<string, number>();
  const retries = new Map<string, number>();
  const targets = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);
  const stage = new Map<number, number>(lanes.map((l) => [l.id, 1]));

  for (const [d, day] of DAYS.entries()) {
    const from = zonedInstant(day, 9 * 60, plan.timezone);
    for (const lane of lanes) {
      const ip = plan.ips.find((i) => i.address === lane.ip)!;
      const provider = plan.providers.find((p) => p.name === lane.provider)!;
      const s = stage.get(lane.id)!;
      const target = stageVolume(laneRamp(ip, provider), s);
      targets.set(`${day}|${lane.ip}|${lane.provider}`, target);
      await openLaneDay(db, { lane_id: lane.id, day, stage: s, target, spread_from: from, spread_until: zonedInstant(day, 18 * 60, plan.timezone) }, from);
      // The struggling lane is suspended mid-day 4 and sends only half its target that day.
      const count = lane.ip === '127.0.0.64' && lane.provider === 'yahoo' && d === 3 ? Math.floor(target / 2) : target;
      for (let seq = 1; seq <= count; seq++) {
        const at = from + seq * 60_000;
        const m = await createMessage(db, { laneId: lane.id, day, recipient: `r${seq}@${provider.domains[0]}`, messageId: `${day}.${lane.id}.${seq}@news.example.com`, now: at });
        const outcome = outcomeOf(lane.ip, lane.provider, d, seq);
        const base = { messageId: m.id, laneId: lane.id, day, startedAt: at, latencyMs: 120, mxHost: 'mx.test', mxAddress: '127.0.0.56', stage: 'RCPT' } as const;
        bump(attempts, `${lane.ip}|${lane.provider}|${outcome}`);
        if (outcome === 'deferred') {
          await recordAttempt(db, { ...base, outcome, code: 451, enhanced: '4.7.1', reply: 'try later', retry: 0 }, { status: 'deferred', nextAttemptAt: at + 300_000 });
          // Earlier days' retries went through; the last day's stay queued.
          if (d < DAYS.length - 1) {
            bump(attempts, `${lane.ip}|${lane.provider}|accepted`);
            await recordAttempt(db, { ...base, startedAt: at + 300_000, outcome: 'accepted', code: 250, enhanced: '2.0.0', reply: 'ok', retry: 1 }, { status: 'accepted', at: at + 300_000 });
          } else {
            bump(retries, `${lane.ip}|${lane.provider}`);
          }
        } else {
          await recordAttempt(db, { ...base, outcome, code: outcome === 'accepted' ? 250 : 550, enhanced: outcome === 'accepted' ? '2.0.0' : '5.1.1', reply: outcome, retry: 0 }, { status: outcome, at });
        }
      }
      // Seed placements (what the IMAP poller counts into lane_days).
      await db.updateTable('lane_days').set({ inbox: 8 - (d % 3), spam: d % 3, missing: d === 2 ? 1 : 0 }).where('lane_id', '=', lane.id).where('day', '=', day).execute();
      if (d < DAYS.length - 1) {
        const struggling = lane.ip === '127.0.0.64' && lane.provider === 'yahoo' && d >= 2;
        const decision = struggling ? (d === 3 ? 'back_off' : 'hold') : 'advance';
        const next = decision === 'advance' ? s + 1 : decision === 'back_off' ? Math.max(1, Math.floor(s / 2)) : s;
        await decideLaneDay(db, lane.id, day, decision, next, struggling ? 1 : 0, zonedInstant(addDays(day, 1), 0, plan.timezone));
        if (decision !== 'advance') {
          await addEvent(db, { at: zonedInstant(addDays(day, 1), 0, plan.timezone), plan: plan.name, laneId: lane.id, ip: lane.ip, provider: lane.provider, kind: decision, actor: 'policy', cause: { deferralRate: 0.33 } });
        }
        stage.set(lane.id, next);
      }
    }
    // DNSBL passes at noon: 127.0.0.64 listed in zen on days 3-4.
    for (const ip of plan.ips) {
      for (const zone of plan.dnsbl.zones) {
        const listed = ip.address === '127.0.0.64' && zone === 'zen.dnsbl.test' && (d === 2 || d === 3);
        await db.insertInto('dnsbl_results').values({ at: zonedInstant(day, 12 * 60, plan.timezone), ip: ip.address, zone, status: listed ? 'listed' : 'clear', answer: listed ? '127.0.0.2' : null, meaning: listed ? 'listed' : null, txt: null }).execute();
      }
    }
  }
  await addHold(db, plan.name, { ip: '127.0.0.64', provider: 'yahoo' }, { kind: 'rule', actor: 'rule:yahoo-ta21', reason: 'deferral storm', until: NOW + 3_600_000, eventKind: 'suspended' }, zonedInstant(DAYS[3], 13 * 60, plan.timezone));
  await addHold(db, plan.name, { ip: '127.0.0.63', provider: 'gmail' }, { kind: 'operator', actor: 'operator', reason: 'operator check', until: null, eventKind: 'paused' }, zonedInstant(DAYS[4], 16 * 60, plan.timezone));
  return { store, path, expected: { attempts, retries, targets } };
}
