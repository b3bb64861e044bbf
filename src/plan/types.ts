/**
 * The normalized plan: every default filled, every file read, every range
 * expanded. Built only by `loadPlan`; readonly everywhere after.
 */

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** A volume ramp in stages: stage 1 is a lane's first sending day. */
export type Ramp =
  | { readonly kind: 'daily'; readonly name: string; readonly daily: readonly number[] }
  | {
    readonly kind: 'curve'; readonly name: string; readonly start: number; readonly growth: number; readonly cap: number | null;
    /**
     * Set when the growth was derived (`reach:` or `launch_volume` x `share`): the curve reaches
     * `volume` `slack` sending days before launch, and is rebuilt that way for another start date.
     */
    readonly reach?: { readonly volume: number; readonly slack: number };
  };

export interface PlanIp {
  readonly address: string;
  readonly ehlo: string;
  /** First day this IP ramps (YYYY-MM-DD, plan time zone). */
  readonly start: string;
  /** Overrides the providers' ramps for this IP, when set. */
  readonly ramp: Ramp | null;
  /** Launch-day volume of this IP (`launch_volume`), or null. */
  readonly launchVolume: number | null;
  /** Ramps derived from `launch_volume` x `share`, per provider name (used unless `ramp` is set). */
  readonly laneRamps: Readonly<Record<string, Ramp>>;
  /**
   * A fleet (`ips[].host`): the hosts whose daemon may send from this IP (`warmup start --host`,
   * default the machine's host name); null: any host that can bind it (a floating address).
   */
  readonly hosts: readonly string[] | null;
}

export interface ImapAccess {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly user: string;
  /** Where the password comes from; it is read only when used, never stored. */
  readonly password: { readonly env: string } | { readonly file: string };
}

export interface Seed {
  readonly address: string;
  readonly imap: ImapAccess | null;
}

/** Engagement with warm-up messages in a provider's seed mailboxes (null on Provider: off). */
export interface Engagement {
  readonly markRead: boolean;
  readonly moveToInbox: boolean;
  readonly flag: boolean;
  /** Fraction of placed messages engaged with. */
  readonly share: number;
  /** Engage this long after the message was found: uniform between min and max. */
  readonly delayMs: { readonly min: number; readonly max: number };
  readonly maxPerPoll: number;
  /** Mean pause between two engaged messages (plan time), randomised +-50%. */
  readonly paceMs: number;
}

/**
 * The intra-day breaker on hard rejections: when more than `maxRejectionRate`
 * of a lane's latest answers (at most `sample` of them, none older than
 * `windowMs`) are 5xx policy rejections (unknown users are list hygiene and do
 * not count), with at least `minAttempts` answers, the lane is held at once.
 * Counting the latest answers rather than an hour's makes it react within a
 * few messages both on a lane sending 4 an hour and on one sending 400.
 */
export interface RejectionBreaker {
  readonly windowMs: number;
  readonly sample: number;
  readonly minAttempts: number;
  readonly maxRejectionRate: number;
  /** How long the hold lasts; null: until the operator resumes the lane. */
  readonly holdMs: number | null;
}

export interface Thresholds {
  readonly advanceAt: number;
  readonly maxDeferralRate: number;
  readonly backOffDeferralRate: number;
  readonly pauseBounceRate: number;
  readonly backOffFactor: number;
  readonly flagAfterHolds: number;
  readonly maxSpamRate: number;
  readonly rejectionBreaker: RejectionBreaker;
}

export interface Provider {
  readonly name: string;
  /** The built-in catalogue entry this provider is (src/catalogue/providers.ts), or null for the plan's own. */
  readonly catalogue: string | null;
  readonly domains: readonly string[];
  /** Lower-case, each starting with a dot. */
  readonly mxSuffixes: readonly string[];
  readonly seeds: readonly Seed[];
  /** Opt-in recipients read from `recipients_files`. */
  readonly recipients: readonly string[];
  readonly ramp: Ramp;
  readonly thresholds: Thresholds;
  /** Engagement on this provider's seeds; null: off (the default). */
  readonly engagement: Engagement | null;
}

export interface Rule {
  readonly name: string;
  readonly provider: string | null;
  readonly match: RegExp;
  /** null: at once; otherwise `count` matches within `windowMs`. */
  readonly trigger: { readonly count: number; readonly windowMs: number } | null;
  readonly action: 'suspend' | 'pause' | 'cut_rate' | 'one_connection' | 'pause_ip' | 'pause_provider' | 'stop_all' | 'slow_mailbox';
  readonly factor: number | null;
  readonly durationMs: number | null;
}

export interface Plan {
  /** Absolute path of the plan file, or null when loaded from text. */
  readonly file: string | null;
  readonly name: string;
  readonly timezone: string;
  readonly start: string;
  readonly launch: string;
  /** Minutes after local midnight. */
  readonly window: { readonly start: number; readonly end: number };
  readonly skipDays: readonly Weekday[];
  readonly sender: {
    readonly from: { readonly address: string; readonly name: string | null };
    readonly envelopeFrom: string;
    readonly replyTo: string | null;
    /** `privateKeyPem` is null when the plan was loaded without secrets (commands that never sign). */
    readonly dkim: {
      readonly domain: string;
      readonly selector: string;
      readonly privateKeyPem: string | null;
      /** Dual signing: an Ed25519 key (RFC 8463) signing beside the first key, under its own selector. */
      readonly ed25519?: { readonly selector: string; readonly privateKeyPem: string | null } | null;
    } | null;
    readonly unsubscribe: { readonly url: string; readonly mailto: string | null };
  };
  readonly ips: readonly PlanIp[];
  readonly providers: readonly Provider[];
  readonly policy: {
    readonly thresholds: Thresholds;
    /** The plan's own rules (the built-in pack is merged in src/policy/rules.ts). */
    readonly rules: readonly Rule[];
    readonly disabledRules: readonly string[];
    readonly breaker: { readonly windowMs: number; readonly minAttempts: number; readonly maxDeferralRate: number; readonly suspendMs: number };
    /** The day-end decision waits for the day's retries until this long after the window. */
    readonly retryGraceMs: number;
  };
  readonly dnsbl: { readonly zones: readonly string[]; readonly intervalMs: number; readonly autoResumeAfterMs: number | null; readonly queriesPerSecond: number };
  readonly imap: { readonly pollIntervalMs: number; readonly missingAfterMs: number };
  readonly alerts: { readonly webhook: { readonly url: string; readonly secretEnv: string | null } | null };
  readonly content: { readonly subjects: readonly string[]; readonly text: string; readonly html: string };
  readonly delivery: {
    readonly dnsServers: readonly string[];
    readonly port: number;
    readonly tls: 'opportunistic' | 'require' | 'none';
    readonly timeouts: { readonly connectMs: number; readonly greetingMs: number; readonly commandMs: number };
    readonly maxConnectionsPerMx: number;
    readonly messagesPerConnection: number;
    /** Provider name or domain -> host:port. */
    readonly routes: ReadonlyMap<string, { readonly host: string; readonly port: number }>;
    readonly retry: { readonly intervalsMs: readonly number[]; readonly expireMs: number };
    readonly catchUpFactor: number;
  };
  readonly warnings: { readonly mailboxPerDay: number; readonly ipPeakPerDay: number };
  /** Absolute path of the SQLite database. */
  readonly storePath: string;
  /**
   * The PostgreSQL store (`store.url`), or null for SQLite at `storePath`.
   * `passwordFile` is null when not given or when its ${VAR} is unset here
   * (then PGPASSWORD, a service file or ~/.pgpass apply).
   */
  readonly storeServer: { readonly url: string; readonly passwordFile: string | null } | null;
  /** Routing real mail through Postfix (`postfix:`), or null when off. */
  readonly postfix: PostfixSettings | null;
  /** Where the Prometheus endpoint listens (`metrics.listen`), or null when metrics are off. */
  readonly metrics: { readonly host: string; readonly port: number } | null;
}

/** One problem found in a plan, located in the YAML file. */
export interface PlanIssue {
  readonly severity: 'error' | 'warning';
  /** Dotted key path, e.g. `providers.gmail.ramp.growth`; empty for the whole file. */
  readonly path: string;
  /** 1-based; 0 when the issue has no place in the file. */
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** The plan's `postfix:` section, normalized. */
export interface PostfixSettings {
  readonly listen: { readonly kind: 'inet'; readonly host: string; readonly port: number } | { readonly kind: 'unix'; readonly path: string };
  readonly mapName: string;
  /** Absolute path of Postfix's maillog_file. */
  readonly logFile: string;
  /** When no warming lane has room: a transport (`smtp:`, `relay:[host]:587`) or defer with the reason. */
  readonly overflow: { readonly kind: 'transport'; readonly transport: string } | { readonly kind: 'defer'; readonly reason: string };
  readonly deferReason: string;
  readonly transportPrefix: string;
  readonly syslogPrefix: string;
  /** Real milliseconds a lookup holds its lane's room until the log shows the delivery. */
  readonly reservationTtlMs: number;
}
