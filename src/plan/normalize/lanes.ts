/** Plan normalization: the sending IPs and the providers (domains, seeds, IMAP access, engagement). */
import { isIP } from 'node:net';
import { parseDuration } from '../duration.js';
import { DEFAULTS } from '../defaults.js';
import { providerIdentity } from '../catalogue-provider.js';
import { ehloFor, expandRange, isHostname, isMailbox } from '../ip.js';
import type { WrittenEngagement, WrittenImap } from '../schema.js';
import type { Engagement, ImapAccess, PlanIp, Provider, Seed } from '../types.js';
import type { KeyPath } from '../yaml-locate.js';
import { daysBetween, isValidDate } from '../../schedule/calendar.js';
import type { NormalizeContext } from './context.js';
import type { PlanThresholds } from './policy.js';
import type { PlanDates, PlanRamps } from './ramps.js';

export function normalizeIps(ctx: NormalizeContext, { datesOk }: PlanDates, { resolveRamp }: PlanRamps): PlanIp[] {
  const { w, err } = ctx;
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
    const hosts = ipHosts([...path, 'host'], entry.host, err);
    addresses.forEach((address, k) => {
      const where = `ips[${i}]${entry.range ? ` (${entry.range})` : ''}`;
      const before = seenIp.get(address);
      if (before) err([...path, entry.range ? 'range' : 'address'], `${address} is listed twice: also in ${before}`);
      seenIp.set(address, where);
      const ehlo = ehloFor(entry.ehlo, address, k + 1);
      if (!isHostname(ehlo)) err([...path, 'ehlo'], `"${ehlo}" is not a host name`);
      ips.push(Object.freeze({ address, ehlo, start, ramp, launchVolume, laneRamps: Object.freeze({}), hosts }));
    });
  });
  return ips;
}

/**
 * `ips[].host`: one host name or a list (the hosts of a fleet that may send from the IP, by the
 * name `warmup start --host` gives, default the machine's host name); null when absent.
 */
function ipHosts(path: KeyPath, written: string | readonly string[] | undefined, err: NormalizeContext['err']): readonly string[] | null {
  if (written === undefined) return null;
  const list = typeof written === 'string' ? [written] : [...written];
  const seen = new Set<string>();
  list.forEach((h, k) => {
    const at = typeof written === 'string' ? path : [...path, k];
    if (!isHostname(h)) err(at, `"${h}" is not a host name (the name \`hostname\` prints on the sending host, or its \`warmup start --host\`)`);
    else if (seen.has(h.toLowerCase())) err(at, `host ${h} is listed twice`);
    seen.add(h.toLowerCase());
  });
  return Object.freeze(list.map((h) => h.toLowerCase()));
}

export function normalizeProviders(ctx: NormalizeContext, { resolveRamp }: PlanRamps, { planThresholds, thresholds, checkThresholds }: PlanThresholds): Provider[] {
  const { w, err, secrets, filePath, secretPath, readAddressFile } = ctx;
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
    const noFileErrors = !ctx.failed();
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
  return providers;
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
