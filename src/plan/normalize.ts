/**
 * Written plan -> normalized Plan: defaults, ranges expanded, files read, and
 * every cross-field rule. Errors are collected (not thrown) with the key path
 * they are about; files are read through the injected `PlanFiles`.
 */
import { createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { parseDuration } from './duration.js';
import { DEFAULT_BREAKER, DEFAULT_CONTENT, DEFAULT_DNSBL_ZONES, DEFAULT_RAMP, DEFAULT_THRESHOLDS, DEFAULT_WINDOW, DEFAULTS } from './defaults.js';
import { providerIdentity } from './catalogue-provider.js';
import { deriveLaneRamps } from './launch-volume.js';
import { ehloFor, expandRange, isHostname, isMailbox } from './ip.js';
import type { WrittenEngagement, WrittenImap, WrittenPlan, WrittenRamp, WrittenThresholds } from './schema.js';
import type { Engagement, ImapAccess, Plan, PlanIp, Provider, Ramp, Rule, Seed, Thresholds } from './types.js';
import type { KeyPath } from './yaml-locate.js';
import { daysBetween, isValidDate, isValidTimeZone } from '../schedule/calendar.js';
import { countSendingDays } from '../schedule/ramp.js';
import { TEMPLATE_VARIABLES, unknownTemplateVariables } from '../send/message.js';

/** How a plan reaches its side files (keys, seed lists, templates). */
export interface PlanFiles {
  /** Reads a UTF-8 file; throws an errno error (ENOENT, EACCES, EISDIR) when it cannot. */
  read(absolutePath: string): string;
  /** Whether a file exists (used for secrets that are not read, to warn what start will need). */
  exists?(absolutePath: string): boolean;
}

export interface NormalizeOptions {
  /** Directory relative file names in the plan are resolved against. */
  readonly baseDir: string;
  /** The current directory (kept for messages; every relative path, the default store too, follows `baseDir`). */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly files: PlanFiles;
  readonly file: string | null;
  /**
   * What to do with secrets (the DKIM private key, IMAP password files): `load` reads and checks
   * them (start, check); `check` reads nothing but warns what `start` will need (validate);
   * `skip` ignores them (commands that never sign: plan, simulate, status, report...).
   */
  readonly secrets?: SecretsMode;
}

/** See {@link NormalizeOptions.secrets}. */
export type SecretsMode = 'load' | 'check' | 'skip';

type Report = (path: KeyPath, message: string) => void;

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export function normalizePlan(w: WrittenPlan, opts: NormalizeOptions, error: Report, warn: Report): Plan | null {
  let failed = false;
  const err: Report = (path, message) => { failed = true; error(path, message); };
  const dur = (text: string): number => parseDuration(text) ?? 0; // schema already checked the form

  const secrets: SecretsMode = opts.secrets ?? 'load';
  /** Expands ${VAR} from the environment, then resolves against the plan's folder. */
  const expandPath = (name: string): { abs: string } | { missing: string } => {
    let missing: string | null = null;
    const expanded = name.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, v: string) => {
      const val = opts.env[v];
      if (val === undefined) missing = v;
      return val ?? '';
    });
    if (missing) return { missing };
    return { abs: isAbsolute(expanded) ? expanded : resolve(opts.baseDir, expanded) };
  };
  const filePath = (path: KeyPath, name: string): string | null => {
    const p = expandPath(name);
    if ('missing' in p) { err(path, `environment variable ${p.missing} is not set`); return null; }
    return p.abs;
  };
  /**
   * A secret file's path when secrets are not loaded: never an error; with `check`, a warning
   * for what `start` will need (the variable set, the file present).
   */
  const secretPath = (path: KeyPath, name: string, what: string, create: string): string => {
    const p = expandPath(name);
    if (secrets === 'check') {
      if ('missing' in p) {
        const hint = p.missing === 'CREDENTIALS_DIRECTORY' ? ' (the unit `warmup systemd` prints sets it and hands the file over)' : '';
        warn(path, `warmup start will need environment variable ${p.missing} for ${what}${hint}`);
      } else if (opts.files.exists && !opts.files.exists(p.abs)) {
        warn(path, `warmup start will need ${what} at ${p.abs}, which does not exist yet${create ? `: ${create.replace('$FILE', p.abs)}` : ''}`);
      }
    }
    return 'abs' in p ? p.abs : name;
  };
  const readText = (path: KeyPath, name: string): string | null => {
    const abs = filePath(path, name);
    if (abs === null) return null;
    try {
      return opts.files.read(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') err(path, `file not found: ${abs}`);
      else if (code === 'EACCES') err(path, `file not readable (permission denied): ${abs}`);
      else if (code === 'EISDIR') err(path, `is a directory, not a file: ${abs}`);
      else err(path, `cannot read ${abs}: ${(e as Error).message}`);
      return null;
    }
  };
  /** One address a line; blank lines and # comments skipped. */
  const readAddressFile = (path: KeyPath, name: string): string[] => {
    const text = readText(path, name);
    if (text === null) return [];
    const out: string[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') return;
      if (!isMailbox(line)) err(path, `${name}:${i + 1}: "${line}" is not an email address`);
      else out.push(line.toLowerCase());
    });
    return out;
  };

  // --- dates, zone, window
  if (!isValidTimeZone(w.timezone)) err(['timezone'], `unknown time zone "${w.timezone}" (use an IANA name such as Europe/Paris)`);
  if (!isValidDate(w.start)) err(['start'], `${w.start} is not a calendar day`);
  if (!isValidDate(w.launch)) err(['launch'], `${w.launch} is not a calendar day`);
  else if (isValidDate(w.start) && daysBetween(w.start, w.launch) <= 0) err(['launch'], `must be after start (${w.start}), got ${w.launch}`);
  const window = { start: minutesOf(w.window?.start ?? DEFAULT_WINDOW.start), end: minutesOf(w.window?.end ?? DEFAULT_WINDOW.end) };
  if (window.end <= window.start) err(['window', 'end'], `must be after window.start (${w.window?.start}), got ${w.window?.end}`);
  const skipDays = [...new Set(w.skip_days ?? [])];
  if (skipDays.length === 7) err(['skip_days'], 'skips every day of the week: nothing would ever be sent');
  const datesOk = !failed;

  // --- ramps
  const rampCache = new Map<string, Ramp | null>();
  const sendingDays = datesOk ? countSendingDays(w.start, w.launch, skipDays) : 1;
  const buildRamp = (path: KeyPath, name: string, r: WrittenRamp): Ramp | null => {
    const isCurve = r.start !== undefined || r.growth !== undefined || r.reach !== undefined || r.cap !== undefined;
    if (r.daily && isCurve) { err(path, 'give either daily (an explicit list) or a curve (start, growth/reach, cap), not both'); return null; }
    if (r.daily) {
      let ok = true;
      for (let i = 1; i < r.daily.length; i++) {
        if (r.daily[i]! < r.daily[i - 1]!) {
          err([...path, 'daily', i], `must not decrease: day ${i + 1} (${r.daily[i]}) is less than day ${i} (${r.daily[i - 1]})`);
          ok = false;
          break;
        }
      }
      if (!ok) return null;
      const steep = r.daily.findIndex((v, i) => i > 0 && r.daily![i - 1]! > 0 && v / r.daily![i - 1]! > 2);
      if (steep > 0) warn([...path, 'daily', steep], `grows more than 2x in a day (${r.daily[steep - 1]} -> ${r.daily[steep]}): providers read fast jumps as a spam run`);
      if (datesOk && r.daily.length > sendingDays + 1) {
        warn([...path, 'daily'], `has ${r.daily.length} days but only ${sendingDays} sending days fit before launch: the ramp's end falls after launch`);
      }
      return { kind: 'daily', name, daily: Object.freeze([...r.daily]) };
    }
    if (r.start === undefined) { err(path, 'a ramp needs daily (a list of volumes) or a curve with start'); return null; }
    if (r.growth !== undefined && r.reach !== undefined) { err([...path, 'reach'], 'give growth or reach, not both'); return null; }
    if (r.growth === undefined && r.reach === undefined) { err(path, 'a curve needs growth (daily multiplier) or reach (volume on launch day)'); return null; }
    if (r.growth !== undefined && !(r.growth > 1)) { err([...path, 'growth'], `must be greater than 1 (got ${r.growth})`); return null; }
    if (r.cap !== undefined && r.cap < r.start) { err([...path, 'cap'], `must be at least start (${r.start}), got ${r.cap}`); return null; }
    if (r.reach !== undefined) {
      if (r.reach <= r.start) { err([...path, 'reach'], `must be greater than start (${r.start}), got ${r.reach}`); return null; }
      // Launch day is stage sendingDays + 1; grow so that stage lands on `reach`.
      const growth = (r.reach / r.start) ** (1 / Math.max(1, sendingDays));
      if (growth > 2) warn([...path, 'reach'], `needs growth ${growth.toFixed(2)}x a day to reach ${r.reach} from ${r.start} in ${sendingDays} sending days: faster than 2x a day, which providers read as a spam run; start earlier or aim lower`);
      return { kind: 'curve', name, start: r.start, growth, cap: r.cap ?? r.reach, reach: Object.freeze({ volume: r.reach, slack: 0 }) };
    }
    if (r.growth! > 2) warn([...path, 'growth'], `${r.growth} is faster than 2x a day: practitioners grow 1.3-2x`);
    if (datesOk && r.cap !== undefined) {
      const plateau = Math.ceil(Math.log(r.cap / r.start) / Math.log(r.growth!)) + 1;
      if (plateau > sendingDays + 1) {
        warn([...path, 'cap'], `reaches its cap (${r.cap}) on ramp day ${plateau}, but launch day is ramp day ${sendingDays + 1}: the ramp's end falls after launch`);
      }
    }
    return { kind: 'curve', name, start: r.start, growth: r.growth!, cap: r.cap ?? null };
  };
  const namedRamp = (name: string): Ramp | null => {
    if (!rampCache.has(name)) rampCache.set(name, buildRamp(['ramps', name], name, w.ramps![name]!));
    return rampCache.get(name)!;
  };
  for (const name of Object.keys(w.ramps ?? {})) namedRamp(name);
  const defaultRamp: Ramp | null = w.ramps?.default
    ? namedRamp('default')
    : { kind: 'curve', name: 'builtin', start: DEFAULT_RAMP.start, growth: DEFAULT_RAMP.growth, cap: DEFAULT_RAMP.cap };
  const resolveRamp = (path: KeyPath, ref: string | WrittenRamp | undefined, inlineName: string): Ramp | null => {
    if (ref === undefined) return defaultRamp;
    if (typeof ref === 'string') {
      if (!w.ramps || !(ref in w.ramps)) {
        const known = Object.keys(w.ramps ?? {});
        err(path, `no ramp named "${ref}"${known.length ? ` (ramps: ${known.join(', ')})` : ' (the plan has no ramps section)'}`);
        return null;
      }
      return namedRamp(ref);
    }
    return buildRamp(path, inlineName, ref);
  };

  // --- thresholds
  const thresholds = (t: WrittenThresholds | undefined, base: Thresholds): Thresholds => Object.freeze({
    advanceAt: t?.advance_at ?? base.advanceAt,
    maxDeferralRate: t?.max_deferral_rate ?? base.maxDeferralRate,
    backOffDeferralRate: t?.back_off_deferral_rate ?? base.backOffDeferralRate,
    pauseBounceRate: t?.pause_bounce_rate ?? base.pauseBounceRate,
    backOffFactor: t?.back_off_factor ?? base.backOffFactor,
    flagAfterHolds: t?.flag_after_holds ?? base.flagAfterHolds,
    maxSpamRate: t?.max_spam_rate ?? base.maxSpamRate,
    rejectionBreaker: Object.freeze({
      windowMs: t?.rejection_breaker?.window ? dur(t.rejection_breaker.window) : base.rejectionBreaker.windowMs,
      sample: t?.rejection_breaker?.sample ?? base.rejectionBreaker.sample,
      minAttempts: t?.rejection_breaker?.min_attempts ?? base.rejectionBreaker.minAttempts,
      maxRejectionRate: t?.rejection_breaker?.max_rejection_rate ?? base.rejectionBreaker.maxRejectionRate,
      holdMs: t?.rejection_breaker?.hold === undefined ? base.rejectionBreaker.holdMs
        : t.rejection_breaker.hold === 'until_resumed' ? null : dur(t.rejection_breaker.hold),
    }),
  });
  const checkThresholds = (path: KeyPath, t: Thresholds): void => {
    if (t.backOffDeferralRate < t.maxDeferralRate) {
      err([...path, 'back_off_deferral_rate'], `must be at least max_deferral_rate (${t.maxDeferralRate}), got ${t.backOffDeferralRate}`);
    }
  };
  const planThresholds = thresholds(w.policy, DEFAULT_THRESHOLDS);
  checkThresholds(['policy'], planThresholds);

  // --- IPs
  const ips: PlanIp[] = [];
  const seenIp = new Map<string, string>();
  w.ips.forEach((entry, i) => {
    const path = ['ips', i] as const;
    if ((entry.address === undefined) === (entry.range === undefined)) {
      err(path, 'give either address or range');
      return;
    }
    let addresses: string[];
    if (entry.address !== undefined) {
      if (isIP(entry.address) === 0) { err([...path, 'address'], `"${entry.address}" is not an IP address`); return; }
      addresses = [entry.address];
    } else {
      const r = expandRange(entry.range!);
      if ('error' in r) { err([...path, 'range'], r.error); return; }
      addresses = r.addresses;
      if (!entry.ehlo.includes('{')) err([...path, 'ehlo'], 'a range needs an EHLO pattern with {octet}, {n} or {ip}, or every IP gets the same name');
    }
    const start = entry.start ?? w.start;
    if (entry.start !== undefined && datesOk) {
      if (!isValidDate(entry.start)) err([...path, 'start'], `${entry.start} is not a calendar day`);
      else if (daysBetween(w.start, entry.start) < 0) err([...path, 'start'], `must not be before the plan's start (${w.start}), got ${entry.start}`);
      else if (daysBetween(entry.start, w.launch) <= 0) err([...path, 'start'], `must be before launch (${w.launch}), got ${entry.start}`);
    }
    const ramp = entry.ramp === undefined ? null : resolveRamp([...path, 'ramp'], entry.ramp, `ips[${i}]`);
    if (entry.ramp !== undefined && entry.launch_volume !== undefined) err([...path, 'launch_volume'], 'give launch_volume or ramp, not both');
    const launchVolume = entry.launch_volume ?? w.launch_volume ?? null;
    addresses.forEach((address, k) => {
      const where = `ips[${i}]${entry.range ? ` (${entry.range})` : ''}`;
      const before = seenIp.get(address);
      if (before) err([...path, entry.range ? 'range' : 'address'], `${address} is listed twice: also in ${before}`);
      seenIp.set(address, where);
      const ehlo = ehloFor(entry.ehlo, address, k + 1);
      if (!isHostname(ehlo)) err([...path, 'ehlo'], `"${ehlo}" is not a host name`);
      ips.push(Object.freeze({ address, ehlo, start, ramp, launchVolume, laneRamps: Object.freeze({}) }));
    });
  });

  // --- providers
  const providers: Provider[] = [];
  const domainOwner = new Map<string, string>();
  for (const [name, p] of Object.entries(w.providers)) {
    const path = ['providers', name] as const;
    const identity = providerIdentity(w, name, err);
    const domains = [...(identity.domains ?? [])];
    domains.forEach((d, i) => {
      if (!isHostname(d)) err([...path, 'domains', i], `"${d}" is not a domain name`);
      const owner = domainOwner.get(d);
      if (owner) err([...path, 'domains', i], `${d} is already in provider ${owner}: a domain belongs to one provider`);
      else domainOwner.set(d, name);
    });
    const mxSuffixes = identity.mxSuffixes.map((s, i) => {
      const low = s.toLowerCase();
      const suffix = low.startsWith('.') ? low : `.${low}`;
      if (!isHostname(suffix.slice(1))) err([...path, 'mx_suffixes', i], `"${s}" is not a host name suffix`);
      return suffix;
    });
    const imapFor = (seedPath: KeyPath, address: string, own: Partial<WrittenImap> | undefined): ImapAccess | null => {
      if (!own && !p.imap) return null;
      const m = { ...p.imap, ...own };
      if (!m.host) { err([...seedPath, 'imap', 'host'], 'is required'); return null; }
      if ((m.password_env === undefined) === (m.password_file === undefined)) {
        err(own ? [...seedPath, 'imap'] : [...path, 'imap'], 'give password_env or password_file (passwords are never inline)');
        return null;
      }
      const tls = m.tls ?? true;
      return Object.freeze({
        host: m.host, port: m.port ?? (tls ? DEFAULTS.imapPort : 143), tls, user: m.user ?? address,
        password: m.password_env !== undefined ? { env: m.password_env } : {
          file: secrets === 'load'
            ? filePath([...path, 'imap', 'password_file'], m.password_file!) ?? ''
            : secretPath([...path, 'imap', 'password_file'], m.password_file!, `the IMAP password of ${m.user ?? address}`, ''),
        },
      });
    };
    const seeds: Seed[] = [];
    (p.seeds ?? []).forEach((s, i) => {
      const address = typeof s === 'string' ? s : s.address;
      const sp = typeof s === 'string' ? [...path, 'seeds', i] : [...path, 'seeds', i, 'address'];
      if (!isMailbox(address)) { err(sp, `"${address}" is not an email address`); return; }
      seeds.push(Object.freeze({ address: address.toLowerCase(), imap: imapFor([...path, 'seeds', i], address, typeof s === 'string' ? undefined : s.imap) }));
    });
    if (p.seeds_file) {
      for (const address of readAddressFile([...path, 'seeds_file'], p.seeds_file)) {
        seeds.push(Object.freeze({ address, imap: imapFor([...path, 'seeds_file'], address, undefined) }));
      }
    }
    const recipients = (p.recipients_files ?? []).flatMap((f, i) => readAddressFile([...path, 'recipients_files', i], f));
    const noFileErrors = !failed;
    // With postfix: routing real mail, a provider may warm up on real mail alone.
    if (seeds.length === 0 && recipients.length === 0 && noFileErrors && !w.postfix) {
      err(path, 'has no recipients: add seeds, seeds_file or recipients_files');
    }
    const ramp = resolveRamp([...path, 'ramp'], p.ramp, `providers.${name}`);
    const t = thresholds(p.policy, planThresholds);
    checkThresholds([...path, 'policy'], t);
    const engagement = engagementOf(p.engagement);
    if (engagement && engagement.delayMs.min > engagement.delayMs.max) err([...path, 'engagement', 'delay'], 'min must not be above max');
    if (engagement && !seeds.some((sd) => sd.imap)) err([...path, 'engagement'], 'needs IMAP access to the seeds (providers.X.imap or seeds[].imap)');
    if (ramp) {
      providers.push(Object.freeze({
        name, catalogue: identity.entry?.id ?? null, domains: Object.freeze(domains), mxSuffixes: Object.freeze(mxSuffixes),
        seeds: Object.freeze(dedupeSeeds(seeds)), recipients: Object.freeze([...new Set(recipients)]), ramp, thresholds: t, engagement,
      }));
    }
  }
  if (Object.keys(w.providers).length === 0) err(['providers'], 'must name at least one provider');
  const lanedIps = datesOk ? deriveLaneRamps(w, ips, providers, skipDays, err, warn) : ips;

  // --- sender
  const s = w.sender;
  if (!isMailbox(s.from.address)) err(['sender', 'from', 'address'], `"${s.from.address}" is not an email address`);
  if (s.envelope_from !== undefined && !isMailbox(s.envelope_from)) err(['sender', 'envelope_from'], `"${s.envelope_from}" is not an email address`);
  if (s.reply_to !== undefined && !isMailbox(s.reply_to)) err(['sender', 'reply_to'], `"${s.reply_to}" is not an email address`);
  let dkim: Plan['sender']['dkim'] = null;
  if (s.dkim) {
    const dp = ['sender', 'dkim'] as const;
    if (!isHostname(s.dkim.domain)) err([...dp, 'domain'], `"${s.dkim.domain}" is not a domain name`);
    /**
     * One key of the plan: undefined when it is missing or broken (reported), its PEM when loaded,
     * null when secrets are not loaded (commands that never sign; a fresh checkout has none).
     */
    const dkimKey = (path: KeyPath, k: { selector: string; private_key_file?: string | undefined; private_key_env?: string | undefined }, type: 'rsa or ed25519' | 'ed25519'): string | null | undefined => {
      if ((k.private_key_file === undefined) === (k.private_key_env === undefined)) {
        err(path, 'give private_key_file or private_key_env (keys are never inline)');
        return undefined;
      }
      const keygen = `\`warmup keygen --out $FILE --selector ${k.selector} --domain ${s.dkim!.domain}${type === 'ed25519' ? ' --type ed25519' : ''}\` creates one`;
      if (secrets !== 'load') {
        if (k.private_key_file !== undefined) secretPath([...path, 'private_key_file'], k.private_key_file, 'the DKIM private key', keygen);
        else if (secrets === 'check' && opts.env[k.private_key_env!] === undefined) {
          warn([...path, 'private_key_env'], `warmup start will need environment variable ${k.private_key_env} (the DKIM private key, PEM)`);
        }
        return null;
      }
      let pem: string | null = null;
      const keyPath: KeyPath = [...path, k.private_key_file !== undefined ? 'private_key_file' : 'private_key_env'];
      if (k.private_key_file !== undefined) pem = readText(keyPath, k.private_key_file);
      else {
        pem = opts.env[k.private_key_env!] ?? null;
        if (pem === null) err(keyPath, `environment variable ${k.private_key_env} is not set`);
      }
      if (pem === null) return undefined;
      let keyType: string | undefined;
      try {
        keyType = createPrivateKey(pem).asymmetricKeyType;
      } catch {
        err(keyPath, 'is not a PEM private key');
        return undefined;
      }
      if (type === 'ed25519' ? keyType !== 'ed25519' : keyType !== 'rsa' && keyType !== 'ed25519') {
        err(keyPath, `is a ${keyType} key; expected ${type === 'ed25519' ? 'an Ed25519 key' : 'an RSA or Ed25519 key'}`);
        return undefined;
      }
      return pem;
    };
    const pem = dkimKey(dp, s.dkim, 'rsa or ed25519');
    let ed25519: { selector: string; privateKeyPem: string | null } | null = null;
    if (s.dkim.ed25519) {
      const ep = [...dp, 'ed25519'] as const;
      if (s.dkim.ed25519.selector === s.dkim.selector) err([...ep, 'selector'], 'needs a selector of its own: each key is published at its own selector');
      const edPem = dkimKey(ep, s.dkim.ed25519, 'ed25519');
      if (edPem !== undefined) ed25519 = Object.freeze({ selector: s.dkim.ed25519.selector, privateKeyPem: edPem });
    }
    if (pem !== undefined && (ed25519 !== null || !s.dkim.ed25519)) {
      dkim = Object.freeze({ domain: s.dkim.domain.toLowerCase(), selector: s.dkim.selector, privateKeyPem: pem, ...(ed25519 ? { ed25519 } : {}) });
    }
    const fromDomain = s.from.address.split('@')[1]?.toLowerCase() ?? '';
    if (isHostname(s.dkim.domain) && fromDomain && fromDomain !== s.dkim.domain.toLowerCase() && !fromDomain.endsWith(`.${s.dkim.domain.toLowerCase()}`)) {
      err([...dp, 'domain'], `${s.dkim.domain} is not aligned with the From domain ${fromDomain}: DMARC needs the DKIM domain to be the From domain or its parent`);
    }
  }
  let unsubUrl: URL | null = null;
  try { unsubUrl = new URL(s.unsubscribe.url.replaceAll(/\{\{\w+\}\}/g, 'x')); } catch { /* reported below */ }
  if (!unsubUrl || unsubUrl.protocol !== 'https:') err(['sender', 'unsubscribe', 'url'], `must be an https URL (RFC 8058 one-click), got "${s.unsubscribe.url}"`);
  if (s.unsubscribe.mailto !== undefined && !isMailbox(s.unsubscribe.mailto)) err(['sender', 'unsubscribe', 'mailto'], `"${s.unsubscribe.mailto}" is not an email address`);

  // --- policy rules
  const providerNames = new Set(Object.keys(w.providers));
  const rules: Rule[] = (w.policy?.rules ?? []).flatMap((r, i) => {
    const rp = ['policy', 'rules', i] as const;
    let match: RegExp | null = null;
    try { match = new RegExp(r.match, 'i'); } catch (e) { err([...rp, 'match'], `is not a valid regular expression: ${(e as Error).message}`); }
    if (r.provider !== undefined && !providerNames.has(r.provider)) err([...rp, 'provider'], `no provider named "${r.provider}"`);
    if (r.action === 'cut_rate' && r.factor === undefined) err([...rp, 'factor'], 'is required for action cut_rate');
    if (['suspend', 'cut_rate', 'one_connection', 'slow_mailbox'].includes(r.action) && r.duration === undefined) {
      err([...rp, 'duration'], `is required for action ${r.action} (how long it lasts, e.g. 2h)`);
    }
    let trigger: Rule['trigger'] = null;
    if (r.trigger && r.trigger !== 'immediate') {
      const [count, win] = r.trigger.split('/');
      trigger = { count: Number(count), windowMs: dur(win!) };
    }
    if (!match) return [];
    return [Object.freeze({
      name: r.name, provider: r.provider ?? null, match, trigger, action: r.action,
      factor: r.factor ?? null, durationMs: r.duration ? dur(r.duration) : null,
    })];
  });

  // --- content
  const c = w.content ?? {};
  const pick = (inline: string | undefined, file: string | undefined, key: string, fallback: string): string => {
    if (inline !== undefined && file !== undefined) { err(['content', `${key}_file`], `give ${key} or ${key}_file, not both`); return fallback; }
    if (file !== undefined) return readText(['content', `${key}_file`], file) ?? fallback;
    return inline ?? fallback;
  };
  // Templates may only use the variables the message builder fills in.
  const checkTemplate = (path: KeyPath, text: string): void => {
    const unknown = unknownTemplateVariables(text);
    if (unknown.length) err(path, `unknown template variable${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `{{${u}}}`).join(', ')} (known: ${TEMPLATE_VARIABLES.map((v) => `{{${v}}}`).join(', ')})`);
  };
  (c.subjects ?? []).forEach((t, i) => checkTemplate(['content', 'subjects', i], t));
  if (c.text !== undefined) checkTemplate(['content', 'text'], c.text);
  if (c.html !== undefined) checkTemplate(['content', 'html'], c.html);
  checkTemplate(['sender', 'unsubscribe', 'url'], s.unsubscribe.url);
  const content = Object.freeze({
    subjects: Object.freeze([...(c.subjects ?? DEFAULT_CONTENT.subjects)]),
    text: pick(c.text, c.text_file, 'text', DEFAULT_CONTENT.text),
    html: pick(c.html, c.html_file, 'html', DEFAULT_CONTENT.html),
  });

  // --- delivery
  const d = w.delivery ?? {};
  const routes = new Map<string, { host: string; port: number }>();
  for (const [key, target] of Object.entries(d.routes ?? {})) {
    const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(target.trim());
    const port = m?.[2] ? Number(m[2]) : d.port ?? DEFAULTS.port;
    if (!m || !(isIP(m[1]!) || isHostname(m[1]!)) || port < 1 || port > 65535) {
      err(['delivery', 'routes', key], `must be host or host:port (got "${target}")`);
      continue;
    }
    if (!providerNames.has(key) && !isHostname(key)) err(['delivery', 'routes', key], `"${key}" is neither a provider nor a domain`);
    routes.set(key.toLowerCase(), Object.freeze({ host: m[1]!, port }));
  }
  (d.dns_servers ?? []).forEach((server, i) => {
    const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(server);
    if (!m || !isIP(m[1]!)) err(['delivery', 'dns_servers', i], `must be an IP address or IP:port (got "${server}")`);
  });
  const delivery = Object.freeze({
    dnsServers: Object.freeze([...(d.dns_servers ?? [])]),
    port: d.port ?? DEFAULTS.port,
    tls: d.tls ?? DEFAULTS.tls,
    timeouts: Object.freeze({
      connectMs: dur(d.timeouts?.connect ?? DEFAULTS.connectTimeout),
      greetingMs: dur(d.timeouts?.greeting ?? DEFAULTS.greetingTimeout),
      commandMs: dur(d.timeouts?.command ?? DEFAULTS.commandTimeout),
    }),
    maxConnectionsPerMx: d.max_connections_per_mx ?? DEFAULTS.maxConnectionsPerMx,
    messagesPerConnection: d.messages_per_connection ?? DEFAULTS.messagesPerConnection,
    routes,
    retry: Object.freeze({
      intervalsMs: Object.freeze((d.retry?.intervals ?? DEFAULTS.retryIntervals).map(dur)),
      expireMs: dur(d.retry?.expire ?? DEFAULTS.retryExpire),
    }),
    catchUpFactor: d.catch_up_factor ?? DEFAULTS.catchUpFactor,
  });

  const webhook = w.alerts?.webhook;
  if (webhook && !/^https?:/.test(webhook.url)) err(['alerts', 'webhook', 'url'], `must be an http(s) URL (got "${webhook.url}")`);

  const storePath = w.store?.path !== undefined
    ? filePath(['store', 'path'], w.store.path)
    : resolve(opts.baseDir, DEFAULTS.storePath);

  // Metrics expose IPs, providers and lane states: loopback unless the operator says otherwise.
  let metrics: Plan['metrics'] = null;
  if (w.metrics) {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(w.metrics.listen.trim());
    const port = m ? Number(m[2]) : 0;
    if (!m || isIP(m[1]!) === 0 || port < 1 || port > 65535) {
      err(['metrics', 'listen'], `must be IP:port such as 127.0.0.1:9464 (got "${w.metrics.listen}")`);
    } else if (!isLoopback(m[1]!) && w.metrics.allow_remote !== true) {
      err(['metrics', 'listen'], `${m[1]} is not a loopback address: metrics name your IPs and providers; set metrics.allow_remote: true to expose them`);
    } else {
      metrics = Object.freeze({ host: m[1]!, port });
    }
  }

  let postfix: Plan['postfix'] = null;
  if (w.postfix) {
    const pf = w.postfix;
    let listen: NonNullable<Plan['postfix']>['listen'] | null = null;
    if (pf.listen.startsWith('unix:')) {
      const path = filePath(['postfix', 'listen'], pf.listen.slice(5));
      if (path) listen = Object.freeze({ kind: 'unix' as const, path });
    } else {
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(pf.listen.trim());
      const port = m ? Number(m[2]) : 0;
      if (!m || isIP(m[1]!) === 0 || port < 1 || port > 65535) err(['postfix', 'listen'], `must be IP:PORT such as 127.0.0.1:10027, or unix:/path (got "${pf.listen}")`);
      else if (!isLoopback(m[1]!)) err(['postfix', 'listen'], `${m[1]} is not a loopback address: Postfix asks warmup from the same host (use 127.0.0.1 or a unix socket)`);
      else listen = Object.freeze({ kind: 'inet' as const, host: m[1]!, port });
    }
    const logFile = filePath(['postfix', 'log_file'], pf.log_file);
    const deferReason = (pf.defer_reason ?? DEFAULTS.postfixDeferReason).replace(/\s+/g, ' ').trim();
    const overflowText = (pf.overflow ?? 'defer').trim();
    if (overflowText !== 'defer' && !/^[A-Za-z][A-Za-z0-9_.-]*(:\S*)?$/.test(overflowText)) {
      err(['postfix', 'overflow'], `must be defer or a Postfix transport such as smtp: or relay:[smarthost.example]:587 (got "${overflowText}")`);
    }
    if (listen && logFile) {
      postfix = Object.freeze({
        listen, mapName: pf.map_name ?? 'warmup', logFile,
        overflow: Object.freeze(overflowText === 'defer' ? { kind: 'defer' as const, reason: deferReason } : { kind: 'transport' as const, transport: overflowText }),
        deferReason,
        transportPrefix: pf.transport_prefix ?? 'warmup',
        syslogPrefix: pf.syslog_prefix ?? 'postfix-warmup',
        reservationTtlMs: dur(pf.reservation_ttl ?? DEFAULTS.postfixReservationTtl),
      });
    }
  }

  if (failed || !defaultRamp) return null;
  return Object.freeze({
    file: opts.file,
    name: w.name,
    timezone: w.timezone,
    start: w.start,
    launch: w.launch,
    window: Object.freeze(window),
    skipDays: Object.freeze(skipDays),
    sender: Object.freeze({
      from: Object.freeze({ address: s.from.address, name: s.from.name ?? null }),
      envelopeFrom: s.envelope_from ?? s.from.address,
      replyTo: s.reply_to ?? null,
      dkim,
      unsubscribe: Object.freeze({ url: s.unsubscribe.url, mailto: s.unsubscribe.mailto ?? null }),
    }),
    ips: Object.freeze(lanedIps),
    providers: Object.freeze(providers),
    policy: Object.freeze({
      thresholds: planThresholds,
      rules: Object.freeze(rules),
      disabledRules: Object.freeze([...(w.policy?.disable_rules ?? [])]),
      breaker: Object.freeze({
        windowMs: dur(w.policy?.circuit_breaker?.window ?? DEFAULT_BREAKER.window),
        minAttempts: w.policy?.circuit_breaker?.min_attempts ?? DEFAULT_BREAKER.minAttempts,
        maxDeferralRate: w.policy?.circuit_breaker?.max_deferral_rate ?? DEFAULT_BREAKER.maxDeferralRate,
        suspendMs: dur(w.policy?.circuit_breaker?.suspend ?? DEFAULT_BREAKER.suspend),
      }),
      retryGraceMs: dur(w.policy?.retry_grace ?? DEFAULTS.retryGrace),
    }),
    dnsbl: Object.freeze({
      zones: Object.freeze([...(w.dnsbl?.zones ?? DEFAULT_DNSBL_ZONES)]),
      intervalMs: dur(w.dnsbl?.interval ?? DEFAULTS.dnsblInterval),
      autoResumeAfterMs: w.dnsbl?.auto_resume_after ? dur(w.dnsbl.auto_resume_after) : null,
      queriesPerSecond: w.dnsbl?.queries_per_second ?? DEFAULTS.dnsblQueriesPerSecond,
    }),
    imap: Object.freeze({
      pollIntervalMs: dur(w.imap?.poll_interval ?? DEFAULTS.imapPollInterval),
      missingAfterMs: dur(w.imap?.missing_after ?? DEFAULTS.imapMissingAfter),
    }),
    alerts: Object.freeze({ webhook: webhook ? Object.freeze({ url: webhook.url, secretEnv: webhook.secret_env ?? null }) : null }),
    content,
    delivery,
    warnings: Object.freeze({
      mailboxPerDay: w.warnings?.mailbox_per_day ?? DEFAULTS.mailboxPerDay,
      ipPeakPerDay: w.warnings?.ip_peak_per_day ?? DEFAULTS.ipPeakPerDay,
    }),
    storePath: storePath ?? resolve(opts.baseDir, DEFAULTS.storePath),
    postfix,
    metrics,
  });
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
function isLoopback(ip: string): boolean {
  const v4 = ip.toLowerCase().startsWith('::ffff:') ? ip.slice(7) : ip;
  return v4.startsWith('127.') || ip === '::1';
}

/** Null (off) unless at least one action is switched on. */
function engagementOf(e: WrittenEngagement | undefined): Engagement | null {
  if (!e || !(e.mark_read || e.move_to_inbox || e.flag)) return null;
  return Object.freeze({
    markRead: e.mark_read ?? false,
    moveToInbox: e.move_to_inbox ?? false,
    flag: e.flag ?? false,
    share: e.share ?? DEFAULTS.engagementShare,
    delayMs: Object.freeze({
      min: parseDuration(e.delay?.min ?? DEFAULTS.engagementDelayMin)!,
      max: parseDuration(e.delay?.max ?? DEFAULTS.engagementDelayMax)!,
    }),
    maxPerPoll: e.max_per_poll ?? DEFAULTS.engagementMaxPerPoll,
    paceMs: parseDuration(e.pace ?? DEFAULTS.engagementPace)!,
  });
}

function dedupeSeeds(seeds: Seed[]): Seed[] {
  const seen = new Set<string>();
  return seeds.filter((s) => (seen.has(s.address) ? false : (seen.add(s.address), true)));
}
