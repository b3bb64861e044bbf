/**
 * The written shape of a plan: what an operator may put in the YAML file.
 * Everything optional here gets its default in normalize.ts; the normalized
 * `Plan` (types.ts) is a separate, readonly type.
 *
 * Cross-field rules (launch after start, no duplicate IPs, ...) live in
 * normalize.ts so that each can name the exact key it is about.
 */
import { z } from 'zod';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const DURATION = /^\d+(\.\d+)?(ms|s|m|h|d)$/;

/** `YYYY-MM-DD`, a calendar day in the plan's time zone. */
export const dateString = z.string().regex(DATE, { error: 'must be a date written YYYY-MM-DD' });
/** `HH:MM` local time, 24-hour clock. */
export const timeOfDay = z.string().regex(HHMM, { error: 'must be a time of day written HH:MM (24-hour)' });
/** A duration such as `90s`, `15m`, `2h`, `1d`. */
export const duration = z.string().regex(DURATION, { error: 'must be a duration such as 30s, 15m, 2h or 1d' });

const positiveInt = z.number().int().positive();
const fraction = z.number().min(0).max(1);

/** A daily volume ramp: an explicit list of daily volumes, or a curve. */
export const rampSchema = z.strictObject({
  /** Explicit volumes per ramp day (stage); after the list the last value holds. */
  daily: z.array(z.number().int().nonnegative()).min(1).optional(),
  /** Curve: volume of the first ramp day. */
  start: positiveInt.optional(),
  /** Curve: multiplier from one ramp day to the next (1.3 - 2 is usual). */
  growth: z.number().optional(),
  /** Curve: volume to reach on launch day; the growth is derived from it. */
  reach: positiveInt.optional(),
  /** Curve: the volume never grows above this. */
  cap: positiveInt.optional(),
});

/** A ramp, inline or by the name of an entry in `ramps`. */
export const rampRef = z.union([z.string().min(1), rampSchema]);

const ipEntry = z.strictObject({
  /** One source address. */
  address: z.string().optional(),
  /** A range `first-last` of IPv4 addresses, e.g. 203.0.113.11-203.0.113.40, or a CIDR block, e.g. 203.0.113.0/28 (every address of it). */
  range: z.string().optional(),
  /** EHLO name. For a range a pattern: {octet} last octet, {n} position in the range, {ip} dashed address. */
  ehlo: z.string().min(1),
  /** Day this IP joins the ramp (default: the plan's start). */
  start: dateString.optional(),
  /** This IP's own ramp for every provider. */
  ramp: rampRef.optional(),
  /** Messages this IP sends on launch day, split by `share` (overrides the top-level launch_volume). */
  launch_volume: positiveInt.optional(),
  /** A fleet: the host (or hosts) whose `warmup start` sends from this IP; default any host that can bind it. */
  host: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
});

const imapAccess = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).optional(),
  tls: z.boolean().optional(),
  user: z.string().min(1).optional(),
  password_env: z.string().min(1).optional(),
  password_file: z.string().min(1).optional(),
});

const seedEntry = z.union([
  z.string(),
  z.strictObject({ address: z.string(), imap: imapAccess.partial().optional() }),
]);

/** Engagement with warm-up messages in seed mailboxes read over IMAP; off by default. */
const engagementSchema = z.strictObject({
  /** Set \Seen on engaged messages. */
  mark_read: z.boolean().optional(),
  /** Move engaged messages found in the spam folder to INBOX (needs the server's MOVE). */
  move_to_inbox: z.boolean().optional(),
  /** Set \Flagged on engaged messages. */
  flag: z.boolean().optional(),
  /** Fraction of placed messages engaged with, drawn at random per message. */
  share: fraction.optional(),
  /** Engage between min and max after the message was found (random per message). */
  delay: z.strictObject({ min: duration.optional(), max: duration.optional() }).optional(),
  /** At most this many messages engaged per mailbox per poll. */
  max_per_poll: positiveInt.optional(),
  /** Average pause between two engaged messages (randomised +-50%). */
  pace: duration.optional(),
});

/** The intra-day breaker on 5xx policy rejections (unknown users excluded). */
const rejectionBreakerSchema = z.strictObject({
  /** Answers older than this are not counted. */
  window: duration.optional(),
  /** The rate is measured over at most this many of the latest answers. */
  sample: positiveInt.optional(),
  /** Answers (accepted, deferred, rejected) needed in the window before it may trip. */
  min_attempts: positiveInt.optional(),
  /** Share of policy rejections above which the lane is held (1 switches the breaker off). */
  max_rejection_rate: fraction.optional(),
  /** How long the hold lasts: a duration, or `until_resumed` (the default). */
  hold: z.union([duration, z.literal('until_resumed')], { error: 'must be a duration such as 6h, or until_resumed' }).optional(),
});

const policyThresholds = z.strictObject({
  /** Share of the day's target that must be accepted to advance (SparkPost: 0.9). */
  advance_at: fraction.optional(),
  /** Deferral rate at or under which a lane may advance. */
  max_deferral_rate: fraction.optional(),
  /** Deferral rate above which the lane steps back instead of holding. */
  back_off_deferral_rate: fraction.optional(),
  /** Bounce (5xx) rate above which the lane pauses. */
  pause_bounce_rate: fraction.optional(),
  /** Factor applied to the stage on a step back (0.5 halves the volume). */
  back_off_factor: z.number().gt(0).lt(1).optional(),
  /** Holds in a row after which a lane is flagged. */
  flag_after_holds: positiveInt.optional(),
  /** Share of placements in spam above which a lane holds. */
  max_spam_rate: fraction.optional(),
  /** Intra-day breaker on 5xx policy rejections; a provider's entry overrides the plan's key by key. */
  rejection_breaker: rejectionBreakerSchema.optional(),
});

const ruleSchema = z.strictObject({
  name: z.string().min(1),
  provider: z.string().min(1).optional(),
  /** Regular expression over "code enhanced text". */
  match: z.string().min(1),
  /** `immediate`, or a threshold `COUNT/DURATION` such as `5/1h`. */
  trigger: z.string().regex(/^(immediate|\d+\/\d+(\.\d+)?(ms|s|m|h|d))$/, {
    error: 'must be "immediate" or COUNT/DURATION such as 5/1h',
  }).optional(),
  /**
   * suspend: the lane for `duration`; pause: the lane until resumed (or `duration`);
   * cut_rate: the lane's rate to `factor`; one_connection: one connection at a time;
   * pause_ip: the IP at every provider; pause_provider: the provider on every IP;
   * stop_all: every lane (e.g. an authentication failure); slow_mailbox: rest that seed mailbox only.
   */
  action: z.enum(['suspend', 'pause', 'cut_rate', 'one_connection', 'pause_ip', 'pause_provider', 'stop_all', 'slow_mailbox']),
  /** For cut_rate: the fraction of the rate that remains. */
  factor: z.number().gt(0).lt(1).optional(),
  duration: duration.optional(),
});

/** Sliding-window breaker on a lane's deferral rate: acts even where no rule matches. */
const breakerSchema = z.strictObject({
  window: duration.optional(),
  min_attempts: positiveInt.optional(),
  max_deferral_rate: fraction.optional(),
  suspend: duration.optional(),
});

const policySchema = policyThresholds.extend({
  circuit_breaker: breakerSchema.optional(),
  /** How long after the window the day-end decision waits for the day's retries to settle (default 2h). */
  retry_grace: duration.optional(),
  /** Reply-pattern rules added to (or replacing, by name) the built-in pack. */
  rules: z.array(ruleSchema).optional(),
  /** Names of built-in rules to switch off. */
  disable_rules: z.array(z.string()).optional(),
});

const providerSchema = z.strictObject({
  /** The built-in catalogue entry this provider is (default: the provider's name, when the catalogue has it). */
  catalogue: z.string().min(1).optional(),
  /** Recipient domains of this provider (gmail.com, googlemail.com); default: the catalogue's. */
  domains: z.array(z.string().min(1)).min(1).optional(),
  /** MX host suffixes that roll other domains up into this provider (.google.com); default: the catalogue's. */
  mx_suffixes: z.array(z.string().min(1)).optional(),
  /** Seed mailboxes: addresses, or {address, imap}. */
  seeds: z.array(seedEntry).optional(),
  /** A file of seed addresses, one a line (# comments allowed). */
  seeds_file: z.string().min(1).optional(),
  /** Files of opt-in, recently engaged recipients, one address a line. */
  recipients_files: z.array(z.string().min(1)).optional(),
  ramp: rampRef.optional(),
  /** Threshold overrides for this provider's lanes. */
  policy: policyThresholds.optional(),
  /** Default IMAP access for this provider's seed mailboxes. */
  imap: imapAccess.optional(),
  /** Act like a reader on the seeds (off unless an action is switched on). Never deletes anything. */
  engagement: engagementSchema.optional(),
});

/** The whole plan file. */
export const planSchema = z.strictObject({
  name: z.string().min(1),
  timezone: z.string().min(1),
  start: dateString,
  launch: dateString,
  window: z.strictObject({ start: timeOfDay, end: timeOfDay }).optional(),
  /** Weekdays without sending: mon, tue, wed, thu, fri, sat, sun. */
  skip_days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).optional(),
  sender: z.strictObject({
    from: z.strictObject({ address: z.string(), name: z.string().optional() }),
    envelope_from: z.string().optional(),
    reply_to: z.string().optional(),
    dkim: z.strictObject({
      domain: z.string().min(1),
      selector: z.string().min(1),
      private_key_file: z.string().min(1).optional(),
      private_key_env: z.string().min(1).optional(),
      /** A second, Ed25519 key (RFC 8463) signing beside the first (dual signing): its own selector, same domain. */
      ed25519: z.strictObject({
        selector: z.string().min(1),
        private_key_file: z.string().min(1).optional(),
        private_key_env: z.string().min(1).optional(),
      }).optional(),
    }).optional(),
    unsubscribe: z.strictObject({ url: z.string(), mailto: z.string().optional() }),
  }),
  ips: z.array(ipEntry).min(1),
  providers: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/), providerSchema),
  /** Messages per IP on launch day; with `share` the lanes' ramps are derived from it. */
  launch_volume: positiveInt.optional(),
  /** Part of the launch volume per provider (0..1, adding up to at most 1). */
  share: z.record(z.string(), fraction).optional(),
  /** Sending days before launch at which derived ramps reach their launch volume: the holds they can absorb (default 2). */
  launch_slack: z.number().int().nonnegative().optional(),
  ramps: z.record(z.string().min(1), rampSchema).optional(),
  policy: policySchema.optional(),
  dnsbl: z.strictObject({
    zones: z.array(z.string().min(1)).optional(),
    interval: duration.optional(),
    /** Resume a de-listed IP by itself after this cool-down (default: only `warmup resume`). */
    auto_resume_after: duration.optional(),
    /** DNSBL queries per second at most (fair use of the lists and of your resolver). Default 5. */
    queries_per_second: z.number().positive().max(1000).optional(),
  }).optional(),
  imap: z.strictObject({ poll_interval: duration.optional(), missing_after: duration.optional() }).optional(),
  alerts: z.strictObject({
    webhook: z.strictObject({ url: z.string().url(), secret_env: z.string().min(1).optional() }).optional(),
  }).optional(),
  content: z.strictObject({
    subjects: z.array(z.string().min(1)).min(1).optional(),
    text: z.string().optional(),
    text_file: z.string().optional(),
    html: z.string().optional(),
    html_file: z.string().optional(),
  }).optional(),
  delivery: z.strictObject({
    /** DNS servers, `host` or `host:port`; default: the system's. */
    dns_servers: z.array(z.string().min(1)).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    tls: z.enum(['opportunistic', 'require', 'none']).optional(),
    timeouts: z.strictObject({ connect: duration.optional(), greeting: duration.optional(), command: duration.optional() }).optional(),
    max_connections_per_mx: positiveInt.optional(),
    messages_per_connection: positiveInt.optional(),
    /** Provider name or domain -> `host:port`, replacing the MX lookup. */
    routes: z.record(z.string().min(1), z.string().min(1)).optional(),
    retry: z.strictObject({ intervals: z.array(duration).min(1).optional(), expire: duration.optional() }).optional(),
    /** A lane that fell behind sends at most this multiple of its hourly share. */
    catch_up_factor: z.number().min(1).optional(),
  }).optional(),
  warnings: z.strictObject({
    /** Warn when a seed mailbox would get more than this many messages a day. */
    mailbox_per_day: positiveInt.optional(),
    /** Warn (snowshoeing) when the peak day gives an IP less than this. */
    ip_peak_per_day: positiveInt.optional(),
  }).optional(),
  /** Where state is kept: a SQLite file (`path`, the default data/warmup.db) or a PostgreSQL server (`url`), for a fleet. */
  store: z.strictObject({
    path: z.string().min(1).optional(),
    /** postgres://user@host:port/database?sslmode=... (no password here: password_file, PGPASSWORD, a service file or ~/.pgpass). */
    url: z.string().min(1).optional(),
    /** A file holding the database password, e.g. ${CREDENTIALS_DIRECTORY}/warmup-db-password. */
    password_file: z.string().min(1).optional(),
  }).optional(),
  /** Route real mail: answer Postfix's transport lookups per recipient and learn from its log. Off unless given. */
  postfix: z.strictObject({
    /** Where warmup answers socketmap lookups: `IP:PORT` (loopback) or `unix:/path/to/socket`. */
    listen: z.string().min(1),
    /** The table name in `transport_maps = socketmap:...:NAME` (default warmup). */
    map_name: z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: 'must be letters, digits, dot, dash or underscore' }).optional(),
    /** Postfix's `maillog_file`: warmup reads each delivery of its transports from it. */
    log_file: z.string().min(1),
    /** When no warming lane has room: `defer` (Postfix keeps the mail queued) or a transport such as `smtp:` or `relay:[smarthost]:587`. */
    overflow: z.string().min(1).optional(),
    /** The reason Postfix logs for deferred mail (default "warm-up capacity exhausted"). */
    defer_reason: z.string().min(1).optional(),
    /** Prefix of the master.cf transports warmup prints (default warmup: warmup_203_0_113_10). */
    transport_prefix: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, { error: 'must start with a letter; letters, digits and underscore only' }).optional(),
    /** syslog_name prefix of those transports (default postfix-warmup: postfix-warmup/203.0.113.10). */
    syslog_prefix: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, { error: 'must start with a letter; letters, digits, dot, dash, underscore' }).optional(),
    /** Real time a lookup holds a lane's room until its delivery shows in the log (default 2m). */
    reservation_ttl: duration.optional(),
  }).optional(),
  /** Prometheus metrics and /healthz over HTTP: off unless given. */
  metrics: z.strictObject({
    /** `host:port` (IPv6 as `[::1]:9464`); a loopback address unless allow_remote. */
    listen: z.string().min(1),
    /** Permit a non-loopback address (metrics name IPs, providers and states: firewall it). */
    allow_remote: z.boolean().optional(),
  }).optional(),
});

/** The plan as written (before defaults). */
export type WrittenPlan = z.infer<typeof planSchema>;
export type WrittenRamp = z.infer<typeof rampSchema>;
export type WrittenRule = z.infer<typeof ruleSchema>;
export type WrittenThresholds = z.infer<typeof policyThresholds>;
export type WrittenImap = z.infer<typeof imapAccess>;
export type WrittenEngagement = z.infer<typeof engagementSchema>;
