/**
 * Simulator profiles for the European and Japanese receivers of the catalogue
 * (GMX/WEB.DE, Orange, Yahoo! JAPAN, docomo, au, SoftBank, Rakuten). Every
 * figure here is a guess: these providers publish no per-IP or per-mailbox
 * limits. The carriers are modelled stricter than the big webmails (lower
 * hourly limits, slower reputation, small per-mailbox rates), because
 * practitioners warm them slowly; the reply texts are the tagged replies of
 * shared/reference/deliverability.md where one exists. Pure data.
 */
import type { ProviderModel } from './profiles.js';

const MIN = 60_000;
const GREYLIST = '450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/{domain}.html';

/** A carrier: strict limits, modelled replies (the carriers publish no reply catalogue). */
function carrier(profile: string, o: { volume: number; start: number; max: number; mailbox: number; rate: string }): ProviderModel {
  return {
    profile,
    reputation: { start: 0, volume: o.volume, ignoredPenalty: 0.03 },
    hourlyLimit: { start: o.start, max: o.max },
    cooldownMs: 60 * MIN,
    greylist: { share: 0, delayMs: 5 * MIN },
    mailboxPerHour: o.mailbox,
    randomDeferral: 0.001,
    blockBelow: null,
    latencyMs: { min: 150, max: 900 },
    replies: {
      accepted: '250 2.0.0 Ok: queued as {id}',
      rate: o.rate,
      mailbox: '452 4.2.2 <{rcpt}>: Mailbox full',
      greylist: GREYLIST,
      random: '421 4.3.2 Service not available, closing transmission channel',
      block: '550 5.7.1 <{rcpt}>: Relay access denied from {ip}',
    },
  };
}

export const REGIONAL_PROFILES: Readonly<Record<string, ProviderModel>> = Object.freeze({
  gmx: {
    profile: 'gmx',
    reputation: { start: 0, volume: 2500, ignoredPenalty: 0.02 },
    hourlyLimit: { start: 15, max: 600 },
    cooldownMs: 30 * MIN,
    greylist: { share: 0, delayMs: 5 * MIN },
    mailboxPerHour: 60,
    randomDeferral: 0.001,
    blockBelow: null,
    latencyMs: { min: 120, max: 700 },
    replies: {
      accepted: '250 Requested mail action okay, completed: id={id}',
      rate: '421 gmx.net (mxgmx017) Nemesis ESMTP Service not available. Too many messages from {ip}; please try again later',
      mailbox: '452 4.2.2 Mailbox full {rcpt}',
      greylist: GREYLIST,
      random: '421 gmx.net (mxgmx017) Nemesis ESMTP Service not available. Too many messages from {ip}; please try again later',
      block: '554-gmx.net (mxgmx114) Nemesis ESMTP Service not available\n554-No SMTP service\n554 Reject due to policy restrictions.',
    },
  },
  orange: {
    profile: 'orange',
    reputation: { start: 0, volume: 2500, ignoredPenalty: 0.02 },
    hourlyLimit: { start: 10, max: 400 },
    cooldownMs: 60 * MIN,
    greylist: { share: 0, delayMs: 5 * MIN },
    mailboxPerHour: 60,
    randomDeferral: 0.001,
    blockBelow: null,
    latencyMs: { min: 120, max: 700 },
    replies: {
      accepted: '250 2.0.0 {id} mail accepted for delivery',
      rate: '421 mwinf5c79 ME Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR_999 [999]',
      mailbox: '452 4.2.2 Mailbox full {rcpt}',
      greylist: GREYLIST,
      random: '421 mwinf5c10 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR004_104 [104]',
      block: '550 5.7.1 Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR_005 [005]',
    },
  },
  'yahoo-japan': carrier('yahoo-japan', {
    volume: 3000, start: 10, max: 500, mailbox: 40,
    // Yahoo! JAPAN answers 553 VS98-IP0 "deferred"; modelled as a 4xx so that it is retried like the deferral it says it is.
    rate: '451 4.7.1 VS98-IP0 Message from {ip} was deferred. Please try again later.',
  }),
  docomo: carrier('docomo', { volume: 3000, start: 8, max: 400, mailbox: 30, rate: '421 4.7.0 Too many connections from {ip}, try again later' }),
  // au may reset the connection instead; the simulator answers with a 421 that the same policy treats as a deferral.
  au: carrier('au', { volume: 3000, start: 8, max: 400, mailbox: 30, rate: '421 4.7.0 Service temporarily unavailable for {ip}, try again later' }),
  softbank: carrier('softbank', { volume: 3000, start: 8, max: 400, mailbox: 30, rate: '421 4.7.0 Too many messages from {ip}, try again later' }),
  rakuten: carrier('rakuten', { volume: 3000, start: 5, max: 200, mailbox: 20, rate: '421 4.7.0 Too many messages from {ip}, try again later' }),
});
