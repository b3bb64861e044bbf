/**
 * Typed schema of the warmup database. Times are epoch milliseconds (INTEGER /
 * BIGINT), days are plan-local `YYYY-MM-DD` strings. Column types stay within
 * what SQLite and PostgreSQL share, so a fleet can later point at one server.
 */
import type { Generated, Kysely, Selectable } from 'kysely';

export interface RunsTable {
  id: Generated<number>;
  plan: string;
  plan_file: string | null;
  host: string;
  pid: number;
  started_at: number;
  /** Clock speed: 1 is real time. */
  speed: number;
  /** Wall-clock time the run started (started_at is the daemon's own clock). */
  real_started_at: number | null;
  ended_at: number | null;
  end_reason: string | null;
}

/**
 * A summary of the lane's holds, kept in step with them (src/store/holds.ts):
 * active with none, paused when one has no end, suspended when all lapse.
 */
export type LaneState = 'active' | 'suspended' | 'paused';

export interface LanesTable {
  id: Generated<number>;
  plan: string;
  ip: string;
  provider: string;
  /** Ramp stage reached (days actually ramped, not calendar days). */
  stage: number;
  /** Summary of the lane's holds; written only by src/store/holds.ts. */
  state: LaneState;
  /** For a suspension: when its last hold lapses (epoch ms). */
  state_until: number | null;
  state_reason: string | null;
  /** Fraction of the planned rate in force (rules may cut it). */
  rate_factor: number;
  rate_until: number | null;
  /** Connection cap set by a rule (null: the plan's). */
  max_connections: number | null;
  holds_in_row: number;
  /** Last day whose day-end decision was made. */
  decided_day: string | null;
  updated_at: number;
}

/** in_flight: being attempted now; deferred: waiting for its retry. */
export type MessageStatus = 'in_flight' | 'accepted' | 'deferred' | 'bounced' | 'expired';

/** seed: a warm-up message warmup sent itself; routed: real mail Postfix delivered through a lane. */
export type MessageSource = 'seed' | 'routed';

export interface MessagesTable {
  id: Generated<number>;
  source: Generated<MessageSource>;
  lane_id: number;
  /** Plan-local day whose volume this message counts against. */
  day: string;
  /** 1-based position in the lane's day. */
  seq: number;
  recipient: string;
  /** The Message-ID header value, without angle brackets. */
  message_id: string;
  status: MessageStatus;
  attempts: number;
  created_at: number;
  next_attempt_at: number | null;
  finished_at: number | null;
  /** Greylisting answers this message got (by their text). */
  greylisted: Generated<number>;
  /** "Try again later" answers on its first try that only the retry that succeeds confirms as greylisting. */
  grey_suspect: Generated<number>;
  /** A routed message: the fleet host whose Postfix logged it (its queue holds it while deferred). Null for seed sends. */
  host: Generated<string | null>;
  /**
   * When its placement in a seed mailbox was recorded (plan time; found or given up as missing),
   * null until then. The same fact as its placements row, kept here so that the partial index
   * of accepted messages still to place (migration 0017) loses the message once it is placed.
   */
  placed_at: Generated<number | null>;
}

export type Outcome = 'accepted' | 'deferred' | 'bounced' | 'network' | 'timeout' | 'tls' | 'protocol' | 'dns' | 'interrupted';

export interface AttemptsTable {
  id: Generated<number>;
  message_id: number;
  lane_id: number;
  day: string;
  started_at: number;
  latency_ms: number | null;
  mx_host: string | null;
  mx_address: string | null;
  outcome: Outcome;
  code: number | null;
  enhanced: string | null;
  reply: string | null;
  stage: string | null;
  retry: number;
}

/** Per lane per day running totals, kept in step with attempts so status never scans them. */
export interface LaneDaysTable {
  lane_id: number;
  day: string;
  /** Ramp stage this day ran at. */
  stage: number;
  /** The day's volume (pro rata when the lane started its day late). */
  target: number;
  /** The instants the day's volume is spread over. */
  spread_from: number;
  spread_until: number;
  /** Day-end decision (advance, hold, back_off, pause) once made. */
  decision: string | null;
  decided_at: number | null;
  /** Messages created (first attempts) this day: seed sends and routed mail together. */
  sent: Generated<number>;
  /** Of those, real mail routed through Postfix (its first delivery try on this lane). */
  routed: Generated<number>;
  routed_accepted: Generated<number>;
  routed_deferred: Generated<number>;
  routed_bounced: Generated<number>;
  routed_failed: Generated<number>;
  accepted: Generated<number>;
  /** 4xx answers about the IP or the sender (attempts). */
  deferred: Generated<number>;
  /** 4xx answers about one mailbox (Gmail 450 4.2.1), kept out of the lane's rates. */
  mailbox_deferred: Generated<number>;
  /** 4xx greylisting answers (attempts), kept out of `deferred` and the lane's rates. */
  greylisted: Generated<number>;
  /** Messages accepted on a retry after greylisting. */
  greylist_passed: Generated<number>;
  /** Final 5xx outcomes (messages). */
  bounced: Generated<number>;
  /** Of `bounced`: answers about the recipient (unknown user 5.1.1 / 5.1.10, mailbox full): list hygiene. */
  hygiene_bounced: Generated<number>;
  failed: Generated<number>;
  expired: Generated<number>;
  retries: Generated<number>;
  inbox: Generated<number>;
  spam: Generated<number>;
  missing: Generated<number>;
  /** The launch forecast after the day's decision (`ready`, `behind`...), written once by the host that decided. */
  forecast: string | null;
}

export interface EventsTable {
  id: Generated<number>;
  at: number;
  plan: string;
  lane_id: number | null;
  ip: string | null;
  provider: string | null;
  kind: string;
  from_state: string | null;
  to_state: string | null;
  /** operator | policy | rule:<name> | dnsbl | daemon */
  actor: string;
  /** JSON: the figures, the rule and reply, or the operator's reason. */
  cause: string;
}

export interface DnsblResultsTable {
  id: Generated<number>;
  at: number;
  ip: string;
  zone: string;
  status: 'listed' | 'clear' | 'error' | 'unknown';
  answer: string | null;
  meaning: string | null;
  txt: string | null;
}

export interface PlacementsTable {
  id: Generated<number>;
  message_id: number;
  lane_id: number;
  day: string;
  mailbox: string;
  folder: string | null;
  placement: 'inbox' | 'spam' | 'other' | 'missing';
  arrived_after_ms: number | null;
  checked_at: number;
  /** Engagement: when to act on the message (null: not chosen), when it was done, and what was done ("read,flag,move"). */
  engage_at: number | null;
  engaged_at: number | null;
  engaged: string | null;
}

/** Why a lane does not send: one row per (lane, kind, actor). See src/store/holds.ts. */
export interface HoldsTable {
  id: Generated<number>;
  plan: string;
  lane_id: number;
  /** operator | policy | dnsbl | rule | breaker */
  kind: string;
  /** operator | policy | dnsbl | rule:<name> | policy:circuit-breaker | ... */
  actor: string;
  reason: string;
  /** When it lapses by itself (epoch ms), or null: until removed. */
  until: number | null;
  /** JSON: what justified it (e.g. the top replies), or null. */
  evidence: string | null;
  created_at: number;
  updated_at: number;
}

/** The one daemon allowed per plan and database (see src/store/lease.ts). */
export interface LeasesTable {
  plan: string;
  host: string;
  pid: number;
  /** Wall-clock ms: the lease is stale when the heartbeat stops. */
  acquired_at: number;
  heartbeat_at: number;
  /** A random token: only the holder renews or releases it. */
  token: string;
}

/**
 * A fleet's per-IP leases (see src/store/lease.ts): which daemon (host, pid)
 * sends from each IP of a plan, with its heartbeat. Wall-clock ms.
 */
export interface IpLeasesTable {
  plan: string;
  ip: string;
  host: string;
  pid: number;
  /** Random per daemon process: only the holder renews or releases it. */
  token: string;
  acquired_at: number;
  heartbeat_at: number;
  /** When another host reported the heartbeat stopped (the IP is unattended), or null. */
  unattended_at: number | null;
  /**
   * The holder's own staleness window (ms: 1.5 of its `--heartbeat`): every daemon judges this
   * lease by it, whatever its own heartbeat. Null on leases from before migration 0018 (judged by
   * the reader's own window, as then).
   */
  stale_ms: number | null;
}

/**
 * Work a fleet does once, whichever host does it: the next time it is due
 * (periodic checks such as the DNSBL pass), or how far it got (the alert cursor).
 */
export interface FleetClaimsTable {
  plan: string;
  kind: string;
  /** Clock ms from which the claim may be taken again. */
  next_at: number;
  /** A position (the last event id forwarded as an alert), or 0. */
  cursor: number;
  host: string;
  claimed_at: number;
}

/**
 * Where warmup stopped reading Postfix's log: the file (by inode) and the byte after the last line read,
 * per host (each host of a fleet tails its own Postfix's log).
 */
export interface PostfixLogTable {
  plan: string;
  host: string;
  path: string;
  inode: string;
  offset: number;
  updated_at: number;
}

/** Attempts per lane and outcome, kept in step with the attempts rows (metrics read these). */
export interface LaneOutcomesTable {
  lane_id: number;
  outcome: string;
  n: number;
}

/**
 * Non-accepted attempts per lane-day, outcome and reply shape (`replyShape`, src/policy/reply-shape.ts), kept in
 * step with the attempts rows: `warmup status` reads its reply columns from these
 * instead of each deferral's row. `reply_key` names the shape in the primary key
 * (a digest: a reply can be longer than PostgreSQL's index entries allow).
 */
export interface LaneRepliesTable {
  lane_id: number;
  day: string;
  outcome: string;
  reply_key: string;
  reply: string;
  n: number;
}

/**
 * Each lane's last attempt (the greatest start time; of equal ones, the last written), kept
 * in step with the attempts rows: `warmup status` reads a lane's last reply here instead of
 * seeking it in the attempts (two random pages per lane of a large file).
 */
export interface LaneLastTable {
  lane_id: number;
  at: number;
  outcome: string;
  code: number | null;
  reply: string | null;
}

export interface Database {
  lane_outcomes: LaneOutcomesTable;
  lane_last: LaneLastTable;
  lane_replies: LaneRepliesTable;
  holds: HoldsTable;
  leases: LeasesTable;
  ip_leases: IpLeasesTable;
  fleet_claims: FleetClaimsTable;
  runs: RunsTable;
  lanes: LanesTable;
  messages: MessagesTable;
  attempts: AttemptsTable;
  lane_days: LaneDaysTable;
  events: EventsTable;
  dnsbl_results: DnsblResultsTable;
  placements: PlacementsTable;
  postfix_log: PostfixLogTable;
}

/** The database handle every query takes. */
export type Db = Kysely<Database>;
export type LaneRow = Selectable<LanesTable>;
export type LaneDayRow = Selectable<LaneDaysTable>;
