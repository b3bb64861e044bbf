/**
 * Default behaviour of the modelled receivers, per provider profile. The reply
 * texts are the providers' real deferral and block replies (see
 * shared/reference/deliverability.md), so the simulated outcomes go through
 * the same classification as real ones. Pure data.
 */

/** Knobs of one modelled provider. Every one can be changed in a model file. */
export interface ProviderModel {
  /** Which built-in profile the defaults came from. */
  readonly profile: string;
  /**
   * Reputation of each sending IP with this provider, 0..1:
   * `1 - exp(-earned / volume)`, where each accepted message earns 1 and
   * each deferral the sender ignores takes away `ignoredPenalty` of what was earned.
   */
  readonly reputation: { readonly start: number; readonly volume: number; readonly ignoredPenalty: number };
  /** Accepted messages per IP per clock hour: `start` at reputation 0, `max` at 1 (geometric in between). */
  readonly hourlyLimit: { readonly start: number; readonly max: number };
  /** After a rate deferral the IP is throttled this long; every attempt meanwhile is deferred and counts as ignored. */
  readonly cooldownMs: number;
  /** Share of new (IP, recipient) pairs greylisted, and how long before a retry passes. */
  readonly greylist: { readonly share: number; readonly delayMs: number };
  /** Accepted messages per recipient mailbox per clock hour before per-mailbox deferrals. */
  readonly mailboxPerHour: number;
  /** Chance of an unexplained transient deferral on any attempt (noise). */
  readonly randomDeferral: number;
  /** Below this reputation, after ignored deferrals, the IP is blocked (5xx); null: never. */
  readonly blockBelow: number | null;
  /** Modelled network latency, milliseconds (recorded, not waited for). */
  readonly latencyMs: { readonly min: number; readonly max: number };
  /** Reply texts; `{ip}`, `{rcpt}` and `{id}` are filled in. */
  readonly replies: {
    readonly accepted: string;
    readonly rate: string;
    readonly mailbox: string;
    readonly greylist: string;
    readonly random: string;
    readonly block: string;
  };
}

import { catalogueEntry, catalogueForDomain } from '../catalogue/providers.js';
import { REGIONAL_PROFILES } from './profiles-regional.js';

const MIN = 60_000;

const GREYLIST = '450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/{domain}.html';

/** Built-in profiles, keyed by profile name. */
export const PROFILES: Readonly<Record<string, ProviderModel>> = Object.freeze({
  gmail: {
    profile: 'gmail',
    reputation: { start: 0, volume: 3000, ignoredPenalty: 0.02 },
    hourlyLimit: { start: 10, max: 500 },
    cooldownMs: 20 * MIN,
    greylist: { share: 0, delayMs: 5 * MIN },
    mailboxPerHour: 60,
    randomDeferral: 0.001,
    blockBelow: null,
    latencyMs: { min: 120, max: 600 },
    replies: {
      accepted: '250 2.0.0 OK {id} - gsmtp',
      rate: '421-4.7.28 [{ip}] Our system has detected an unusual rate of\n421-4.7.28 unsolicited mail originating from your IP address. To protect our\n421-4.7.28 users from spam, mail sent from your IP address has been temporarily\n421-4.7.28 rate limited. Please visit\n421-4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError to\n421 4.7.28 review our Bulk Email Senders Guidelines. {id} - gsmtp',
      mailbox: '450-4.2.1 The user you are trying to contact is receiving mail at a rate that\n450-4.2.1 prevents additional messages from being delivered. Please resend your\n450-4.2.1 message at a later time. If the user is able to receive mail at that\n450-4.2.1 time, your message will be delivered. For more information, go to\n450 4.2.1  https://support.google.com/mail/?p=ReceivingRate {id} - gsmtp',
      greylist: GREYLIST,
      random: '421 4.7.0 Try again later, closing connection. (EHLO) {id} - gsmtp',
      block: '550-5.7.1 [{ip}] Our system has detected an unusual rate of\n550-5.7.1 unsolicited mail originating from your IP address. To protect our\n550-5.7.1 users from spam, mail sent from your IP address has been blocked.\n550-5.7.1 Please visit\n550-5.7.1  https://support.google.com/mail/?p=UnsolicitedIPError to review our\n550 5.7.1 Bulk Email Senders Guidelines. {id} - gsmtp',
    },
  },
  yahoo: {
    profile: 'yahoo',
    reputation: { start: 0, volume: 4000, ignoredPenalty: 0.02 },
    hourlyLimit: { start: 20, max: 1000 },
    cooldownMs: 30 * MIN,
    greylist: { share: 0, delayMs: 5 * MIN },
    mailboxPerHour: 120,
    randomDeferral: 0.001,
    blockBelow: null,
    latencyMs: { min: 150, max: 900 },
    replies: {
      accepted: '250 ok dirdel',
      rate: '421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes',
      mailbox: '452 4.2.2 Mailbox over quota {rcpt}',
      greylist: GREYLIST,
      random: '421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes',
      block: "553 5.7.1 [BL21] Connections will not be accepted from {ip}, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
    },
  },
  microsoft: {
    profile: 'microsoft',
    reputation: { start: 0, volume: 3500, ignoredPenalty: 0.03 },
    hourlyLimit: { start: 15, max: 800 },
    cooldownMs: 30 * MIN,
    greylist: { share: 0, delayMs: 5 * MIN },
    mailboxPerHour: 120,
    randomDeferral: 0.001,
    blockBelow: null,
    latencyMs: { min: 200, max: 1200 },
    replies: {
      accepted: '250 2.6.0 <{id}@warmup.sim> [InternalId=1] Queued mail for delivery',
      rate: '451 4.7.650 The mail server [{ip}] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775) [Name=Protocol Filter Agent][AGT=PFA][MxId={id}]',
      mailbox: '452 4.2.2 The recipient\'s mailbox is full and can\'t accept messages now.',
      greylist: GREYLIST,
      random: '451 4.7.500 Server busy. Please try again later from [{ip}]. (S77719) [{id}]',
      block: "550 5.7.1 Unfortunately, messages from [{ip}] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). [{id}]",
    },
  },
  apple: {
    profile: 'apple',
    reputation: { start: 0, volume: 2000, ignoredPenalty: 0.02 },
    hourlyLimit: { start: 10, max: 400 },
    cooldownMs: 15 * MIN,
    greylist: { share: 0.05, delayMs: 5 * MIN },
    mailboxPerHour: 60,
    randomDeferral: 0.001,
    blockBelow: null,
    latencyMs: { min: 150, max: 700 },
    replies: {
      accepted: '250 2.0.0 Ok: queued as {id}',
      rate: '421 4.7.0 [HCM1] Messages from {ip} temporarily deferred due to unexpected volume or user complaints. Please visit https://support.apple.com/en-us/102322',
      mailbox: '452 4.2.2 <{rcpt}>: mailbox full',
      greylist: GREYLIST,
      random: '421 4.7.0 [HCM1] Messages from {ip} temporarily deferred due to unexpected volume or user complaints. Please visit https://support.apple.com/en-us/102322',
      block: '554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137',
    },
  },
  default: {
    profile: 'default',
    reputation: { start: 0, volume: 2000, ignoredPenalty: 0.02 },
    hourlyLimit: { start: 20, max: 600 },
    cooldownMs: 15 * MIN,
    greylist: { share: 0.2, delayMs: 5 * MIN },
    mailboxPerHour: 60,
    randomDeferral: 0.002,
    blockBelow: null,
    latencyMs: { min: 100, max: 800 },
    replies: {
      accepted: '250 2.0.0 Ok: queued as {id}',
      rate: '450 4.7.0 Error: too much mail from {ip}',
      mailbox: '452 4.2.2 <{rcpt}>: Mailbox full',
      greylist: GREYLIST,
      random: '421 4.3.2 Service not available, closing transmission channel',
      block: '554 5.7.1 Service unavailable; Client host [{ip}] blocked using local policy',
    },
  },
  ...REGIONAL_PROFILES,
});

/**
 * The built-in profile for a plan provider: the one of its catalogue entry
 * (by name or alias, else by its domains), a profile of that name, else `default`.
 *
 * @example
 * profileFor('outlook', ['outlook.com']) // 'microsoft'
 * profileFor('mail', ['googlemail.com']) // 'gmail'
 */
export function profileFor(name: string, domains: readonly string[], catalogue: string | null = null): string {
  const n = name.toLowerCase();
  const entry = (catalogue === null ? null : catalogueEntry(catalogue)) ?? catalogueEntry(n);
  if (entry) return entry.profile;
  if (Object.hasOwn(PROFILES, n)) return n;
  for (const d of domains) {
    const byDomain = catalogueForDomain(d);
    if (byDomain) return byDomain.profile;
  }
  return 'default';
}
