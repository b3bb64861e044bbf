/**
 * warmup's own series in the Prometheus text exposition format (0.0.4),
 * written as bytes. A scrape of 512 lanes is 16,000-24,000 samples; per lane
 * only the values change between scrapes, so each lane's sample prefixes
 * (`warmup_lane_today{ip="..",provider="..",figure="sent"} `) are encoded
 * once and kept, and a scrape copies them and writes the numbers' digits into
 * one buffer: no string per sample, no rope to flatten, no UTF-8 encoding of
 * the whole text when the response is sent.
 *
 * The text is byte for byte what the earlier string-building writer gave
 * (test/ops/metrics-text.test.ts holds that).
 */
import type { IpLeaseView } from '../store/lease.js';
import { DAY_FIGURES, type LaneGauge } from '../store/lanes.js';
import type { Outcome } from '../store/schema.js';

/** One read of the store, shared by every family of a scrape so the figures agree. */
export interface Snapshot {
  /** The plan's lanes by id, with today's (plan time zone) counters. */
  readonly lanes: readonly LaneGauge[];
  readonly attempts: ReadonlyArray<{ readonly lane_id: number; readonly outcome: Outcome | string; readonly n: number }>;
  readonly queues: ReadonlyMap<number, { readonly inFlight: number; readonly retries: number }>;
  readonly dnsbl: ReadonlyArray<{ readonly ip: string; readonly zone: string; readonly status: string; readonly at: number }>;
  /** A fleet's IP leases (which daemon sends from which IP) and the wall clock they are read at. */
  readonly leases?: readonly IpLeaseView[] | undefined;
  readonly realNow?: number | undefined;
  readonly now: number;
  readonly lastTick: number;
}

const STATES = ['active', 'suspended', 'paused'] as const;

/** Prometheus text exposition: a family's header. */
function header(name: string, type: 'counter' | 'gauge', help: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
}

function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const validTick = (t: number): boolean => Number.isFinite(t) && t > 0;

const H = {
  attempts: header('warmup_attempts_total', 'counter', 'SMTP delivery attempts by lane and outcome (accepted, deferred, bounced, network, timeout, tls, protocol, dns, interrupted).'),
  stage: header('warmup_lane_stage', 'gauge', 'Ramp stage a lane has reached (sending days ramped).'),
  state: header('warmup_lane_state', 'gauge', '1 for the state a lane is in (active, suspended, paused), 0 for the others.'),
  rate: header('warmup_lane_rate_factor', 'gauge', 'Share of the planned sending rate in force (rules may cut it).'),
  retry: header('warmup_retry_queue', 'gauge', 'Deferred messages waiting for their retry, per lane.'),
  inFlight: header('warmup_in_flight', 'gauge', 'Messages being attempted now, per lane.'),
  today: header('warmup_lane_today', 'gauge', `Today's (plan time zone) lane-day figures: ${DAY_FIGURES.join(', ')}.`),
  listed: header('warmup_dnsbl_listed', 'gauge', '1 when the newest answer of the zone lists the IP, 0 otherwise (clear, error, unknown).'),
  checked: header('warmup_dnsbl_checked_timestamp_seconds', 'gauge', 'When the zone last answered for the IP (unix seconds).'),
  tick: header('warmup_last_tick_timestamp_seconds', 'gauge', 'When the daemon last ran a scheduling pass (unix seconds, daemon clock; 0 before the first).'),
  tickAge: header('warmup_last_tick_age_seconds', 'gauge', 'Seconds since the last scheduling pass (daemon clock); absent before the first.'),
  attended: header('warmup_ip_attended', 'gauge', '1 while the daemon holding the IP\'s lease heartbeats, 0 once reported unattended (labels: the IP and the host holding it).'),
  heartbeat: header('warmup_ip_heartbeat_age_seconds', 'gauge', 'Real seconds since the daemon holding the IP\'s lease last heartbeat.'),
};

/** Bytes appended to one growing buffer. */
export class ByteText {
  buf: Buffer;
  n = 0;
  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Room for `k` more bytes. */
  room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n), 0);
    this.buf = next;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length + 32); // and a value with its newline
    this.buf.set(b, this.n);
    this.n += b.length;
  }

  text(s: string): void {
    this.room(s.length * 3);
    this.n += this.buf.write(s, this.n, 'utf8');
  }

  /** `v` as formatValue writes it, then a newline. Non-negative integers below 10^15 digit by digit. */
  value(v: number): void {
    if (v >= 0 && v < 1e15 && Math.floor(v) === v) {
      const b = this.buf;
      let end = this.n + 1;
      for (let x = v; x >= 10; x = Math.floor(x / 10)) end++;
      let i = end;
      b[i] = 10;
      let x = v;
      do {
        b[--i] = 48 + (x % 10);
        x = Math.floor(x / 10);
      } while (x > 0);
      this.n = end + 1;
    } else {
      this.text(formatValue(v));
      this.buf[this.n++] = 10;
    }
  }

  /** The bytes written (a view, not a copy). */
  result(): Buffer {
    return this.buf.subarray(0, this.n);
  }
}

/** A lane's sample prefixes, encoded once: stage, the three states, rate factor, retry queue, in flight, then {@link DAY_FIGURES}. */
interface LanePrefixes {
  readonly ip: string;
  readonly provider: string;
  readonly labels: string;
  readonly fixed: Uint8Array[];
  readonly outcomes: Map<string, Uint8Array>;
  /** The scrape that last saw the lane. */
  seen: number;
}

const FIXED = 7;

/**
 * Writes warmup's series for snapshots, keeping each lane's encoded sample
 * prefixes between scrapes (a lane's IP and provider do not change; a lane
 * whose do is encoded again).
 */
export class MetricsWriter {
  readonly #lanes = new Map<number, LanePrefixes>();
  #scrape = 0;
  /** Bytes the last exposition took: the next buffer starts that large. */
  #lastSize = 1 << 16;

  #prefixes(l: LaneGauge): LanePrefixes {
    let p = this.#lanes.get(l.id);
    if (p === undefined || p.ip !== l.ip || p.provider !== l.provider) {
      const labels = `ip="${escapeLabel(l.ip)}",provider="${escapeLabel(l.provider)}"`;
      const fixed = [
        `warmup_lane_stage{${labels}} `,
        ...STATES.map((st) => `warmup_lane_state{${labels},state="${st}"} `),
        `warmup_lane_rate_factor{${labels}} `,
        `warmup_retry_queue{${labels}} `,
        `warmup_in_flight{${labels}} `,
        ...DAY_FIGURES.map((f) => `warmup_lane_today{${labels},figure="${f}"} `),
      ].map((s) => Buffer.from(s, 'utf8'));
      p = { ip: l.ip, provider: l.provider, labels, fixed, outcomes: new Map(), seen: 0 };
      this.#lanes.set(l.id, p);
    }
    return p;
  }

  /** The snapshot's series, then `tail` (the process metrics), as one buffer. */
  write(s: Snapshot, tail = ''): Buffer {
    const scrape = ++this.#scrape;
    const out = new ByteText(this.#lastSize + tail.length * 3 + 4096);
    const lanes = s.lanes;
    const prefixes: LanePrefixes[] = new Array(lanes.length);
    for (let i = 0; i < lanes.length; i++) {
      const p = this.#prefixes(lanes[i]!);
      p.seen = scrape;
      prefixes[i] = p;
    }
    if (this.#lanes.size > 2 * lanes.length + 64) {
      for (const [id, p] of this.#lanes) if (p.seen !== scrape) this.#lanes.delete(id);
    }

    out.text(H.attempts);
    for (const a of s.attempts) {
      const p = this.#lanes.get(a.lane_id);
      if (p === undefined || p.seen !== scrape) continue; // a lane no longer in the plan
      let prefix = p.outcomes.get(a.outcome);
      if (prefix === undefined) {
        prefix = Buffer.from(`warmup_attempts_total{${p.labels},outcome="${escapeLabel(a.outcome)}"} `, 'utf8');
        p.outcomes.set(a.outcome, prefix);
      }
      out.bytes(prefix);
      out.value(a.n);
    }
    out.text(H.stage);
    for (let i = 0; i < lanes.length; i++) { out.bytes(prefixes[i]!.fixed[0]!); out.value(lanes[i]!.stage); }
    out.text(H.state);
    for (let i = 0; i < lanes.length; i++) {
      const fixed = prefixes[i]!.fixed;
      const state = lanes[i]!.state;
      for (let k = 0; k < STATES.length; k++) { out.bytes(fixed[1 + k]!); out.value(state === STATES[k] ? 1 : 0); }
    }
    out.text(H.rate);
    for (let i = 0; i < lanes.length; i++) { out.bytes(prefixes[i]!.fixed[4]!); out.value(lanes[i]!.rate_factor); }
    out.text(H.retry);
    for (let i = 0; i < lanes.length; i++) { out.bytes(prefixes[i]!.fixed[5]!); out.value(s.queues.get(lanes[i]!.id)?.retries ?? 0); }
    out.text(H.inFlight);
    for (let i = 0; i < lanes.length; i++) { out.bytes(prefixes[i]!.fixed[6]!); out.value(s.queues.get(lanes[i]!.id)?.inFlight ?? 0); }
    out.text(H.today);
    for (let i = 0; i < lanes.length; i++) {
      const day = lanes[i]!.day;
      if (day === null) continue;
      const fixed = prefixes[i]!.fixed;
      for (let f = 0; f < DAY_FIGURES.length; f++) { out.bytes(fixed[FIXED + f]!); out.value(day[f]!); }
    }
    out.text(smallFamilies(s));
    if (tail) out.text(tail);
    this.#lastSize = out.n;
    return out.result();
  }
}

/** The families with a few samples (DNSBL, the tick, a fleet's leases), as text. */
function smallFamilies(s: Snapshot): string {
  let out = H.listed;
  for (const r of s.dnsbl) out += `warmup_dnsbl_listed{ip="${escapeLabel(r.ip)}",zone="${escapeLabel(r.zone)}"} ${r.status === 'listed' ? 1 : 0}\n`;
  out += H.checked;
  for (const r of s.dnsbl) out += `warmup_dnsbl_checked_timestamp_seconds{ip="${escapeLabel(r.ip)}",zone="${escapeLabel(r.zone)}"} ${formatValue(r.at / 1000)}\n`;
  out += H.tick;
  out += `warmup_last_tick_timestamp_seconds ${formatValue(validTick(s.lastTick) ? s.lastTick / 1000 : 0)}\n`;
  out += H.tickAge;
  if (validTick(s.lastTick)) out += `warmup_last_tick_age_seconds ${formatValue((s.now - s.lastTick) / 1000)}\n`;
  // A fleet (any host's daemon serves the whole plan): who sends from each IP, and whether it still heartbeats.
  const leases = s.leases ?? [];
  out += H.attended;
  for (const l of leases) out += `warmup_ip_attended{ip="${escapeLabel(l.ip)}",host="${escapeLabel(l.host)}"} ${l.unattendedAt === null ? 1 : 0}\n`;
  out += H.heartbeat;
  for (const l of leases) out += `warmup_ip_heartbeat_age_seconds{ip="${escapeLabel(l.ip)}",host="${escapeLabel(l.host)}"} ${formatValue(Math.max(0, ((s.realNow ?? s.now) - l.heartbeatAt) / 1000))}\n`;
  return out;
}

/** warmup's series of one snapshot as text (tests, embedding). */
export function warmupMetricsText(s: Snapshot): string {
  return new MetricsWriter().write(s).toString('utf8');
}

export { validTick };
