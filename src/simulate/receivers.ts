/**
 * The modelled receivers: what each provider answers a sending IP, given how
 * that IP has behaved so far. Stateful but pure: no clock (every answer takes
 * `now`), no IO, and randomness only from the seeded PRNG, so the same seed
 * and the same sequence of attempts give the same answers.
 */
import type { SmtpStage } from '../send/classify.js';
import { seededRandom, type Random } from '../util/random.js';
import type { ProviderModel } from './profiles.js';

/** Why the model answered the way it did (the reply text is what the daemon sees). */
export type AnswerKind = 'accepted' | 'rate' | 'throttled' | 'mailbox' | 'greylist' | 'random' | 'block';

export interface ModelAnswer {
  readonly kind: AnswerKind;
  /** Raw SMTP reply, possibly multi-line, as a server sends it. */
  readonly reply: string;
  readonly stage: SmtpStage;
  readonly latencyMs: number;
}

/** What one provider thinks of one sending IP. */
export interface IpStanding {
  readonly provider: string;
  readonly ip: string;
  readonly reputation: number;
  readonly hourlyLimit: number;
  readonly accepted: number;
  readonly ignored: number;
}

interface IpState {
  earned: number;
  hour: number;
  inHour: number;
  throttledUntil: number;
  accepted: number;
  ignored: number;
}

const HOUR = 3_600_000;

/**
 * Every modelled provider at once.
 *
 * @example
 * const rx = new ModelledReceivers(new Map([['gmail', PROFILES.gmail]]), 7);
 * rx.answer({ provider: 'gmail', ip: '127.0.0.2', recipient: 'a@gmail.com', now: Date.UTC(2026, 11, 1, 9) });
 * // { kind: 'accepted', reply: '250 2.0.0 OK sim1 - gsmtp', stage: 'dot', latencyMs: ... }
 */
export class ModelledReceivers {
  readonly #models: ReadonlyMap<string, ProviderModel>;
  readonly #random: Random;
  readonly #ips = new Map<string, IpState>();
  readonly #mailboxes = new Map<string, { hour: number; count: number }>();
  /** (provider, ip, recipient) -> instant first greylisted, or -1 once it passed. */
  readonly #greylist = new Map<string, number>();
  #serial = 0;

  /** `models`: plan provider name -> its model. */
  constructor(models: ReadonlyMap<string, ProviderModel>, seed: number) {
    this.#models = models;
    this.#random = seededRandom(seed);
  }

  /** The model of a plan provider (throws on an unknown provider: a bug in the caller). */
  model(provider: string): ProviderModel {
    const m = this.#models.get(provider);
    if (!m) throw new Error(`no receiver model for provider ${provider}`);
    return m;
  }

  /** The provider's answer to one attempt from `ip` to `recipient` at `now`. */
  answer(a: { provider: string; ip: string; recipient: string; now: number }): ModelAnswer {
    const m = this.model(a.provider);
    const s = this.#ip(a.provider, a.ip, m);
    const rep = reputationOf(s.earned, m);
    const latencyMs = Math.round(m.latencyMs.min + this.#random() * (m.latencyMs.max - m.latencyMs.min));
    const reply = (kind: AnswerKind, text: string, stage: SmtpStage): ModelAnswer => ({ kind, reply: fill(text, a, ++this.#serial), stage, latencyMs });

    if (m.blockBelow !== null && s.ignored > 0 && rep < m.blockBelow) return reply('block', m.replies.block, 'rcpt');

    const pair = `${a.provider}|${a.ip}|${a.recipient}`;
    const grey = this.#greylist.get(pair);
    if (grey === undefined && m.greylist.share > 0) {
      if (this.#random() < m.greylist.share) {
        this.#greylist.set(pair, a.now);
        return reply('greylist', m.replies.greylist, 'rcpt');
      }
      this.#greylist.set(pair, -1);
    } else if (grey !== undefined && grey >= 0) {
      if (a.now - grey < m.greylist.delayMs) return reply('greylist', m.replies.greylist, 'rcpt');
      this.#greylist.set(pair, -1);
    }

    if (a.now < s.throttledUntil) {
      // The sender came back while told to slow down: that is what costs reputation.
      s.ignored++;
      s.earned *= 1 - m.reputation.ignoredPenalty;
      return reply('throttled', m.replies.rate, 'rcpt');
    }
    const hour = Math.floor(a.now / HOUR);
    if (s.hour !== hour) { s.hour = hour; s.inHour = 0; }
    if (s.inHour >= Math.max(1, Math.floor(hourlyLimitOf(rep, m)))) {
      s.throttledUntil = a.now + m.cooldownMs;
      return reply('rate', m.replies.rate, 'rcpt');
    }
    if (m.randomDeferral > 0 && this.#random() < m.randomDeferral) return reply('random', m.replies.random, 'rcpt');

    const box = `${a.provider}|${a.recipient}`;
    let mb = this.#mailboxes.get(box);
    if (!mb || mb.hour !== hour) { mb = { hour, count: 0 }; this.#mailboxes.set(box, mb); }
    if (mb.count >= m.mailboxPerHour) return reply('mailbox', m.replies.mailbox, 'rcpt');

    mb.count++;
    s.inHour++;
    s.accepted++;
    s.earned += 1;
    return reply('accepted', m.replies.accepted, 'dot');
  }

  /** Reputation and limits of every IP that has sent, for the output. */
  standings(): IpStanding[] {
    return [...this.#ips.entries()].map(([key, s]) => {
      const [provider, ip] = key.split('|') as [string, string];
      const m = this.model(provider);
      const reputation = reputationOf(s.earned, m);
      return { provider, ip, reputation, hourlyLimit: Math.floor(hourlyLimitOf(reputation, m)), accepted: s.accepted, ignored: s.ignored };
    });
  }

  #ip(provider: string, ip: string, m: ProviderModel): IpState {
    const key = `${provider}|${ip}`;
    let s = this.#ips.get(key);
    if (!s) {
      s = { earned: startingEarned(m), hour: -1, inHour: 0, throttledUntil: 0, accepted: 0, ignored: 0 };
      this.#ips.set(key, s);
    }
    return s;
  }
}

/** The earned volume that gives a new IP the model's starting reputation. */
export function startingEarned(m: ProviderModel): number {
  return m.reputation.start >= 1 ? 50 * m.reputation.volume : -m.reputation.volume * Math.log(1 - m.reputation.start);
}

/** Reputation 0..1 from the earned volume. */
export function reputationOf(earned: number, m: ProviderModel): number {
  return 1 - Math.exp(-Math.max(0, earned) / m.reputation.volume);
}

/** Accepted messages per hour an IP at `reputation` gets. */
export function hourlyLimitOf(reputation: number, m: ProviderModel): number {
  const { start, max } = m.hourlyLimit;
  return start * (max / start) ** Math.min(1, Math.max(0, reputation));
}

function fill(text: string, a: { ip: string; recipient: string }, serial: number): string {
  return text
    .replaceAll('{ip}', a.ip)
    .replaceAll('{rcpt}', a.recipient)
    .replaceAll('{domain}', a.recipient.slice(a.recipient.lastIndexOf('@') + 1))
    .replaceAll('{id}', `sim${serial.toString(36)}`);
}
