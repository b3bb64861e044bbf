/**
 * The Mailer the simulation swaps in for SMTP: it asks the modelled receivers
 * instead of a server, then classifies the reply text with the same
 * `classifyAttempt` real replies go through. Also a Resolver that gives every
 * provider domain a fake MX, so the daemon's routing runs unchanged.
 */
import type { MxRecord, Resolver } from '../dns/resolver.js';
import type { Plan } from '../plan/types.js';
import { classifyAttempt } from '../send/classify.js';
import type { AttemptRecord, Mailer, SendRequest } from '../send/mailer.js';
import type { Clock } from '../util/clock.js';
import { WarmupError } from '../util/errors.js';
import type { AnswerKind, ModelledReceivers } from './receivers.js';

/** Every answer the mailer gave, counted by why (for the output). */
export type AnswerCounts = Record<AnswerKind, number>;

export interface ModelMailer extends Mailer {
  readonly counts: Readonly<AnswerCounts>;
}

/**
 * A Mailer over modelled receivers. The provider is found from the
 * recipient's domain; a domain no provider of the plan owns gets a 550.
 *
 * @example
 * const mailer = createModelMailer({ plan, receivers, clock });
 * const [record] = await mailer.send(request); // record.outcome: 'accepted' | 'deferred' | ...
 */
export function createModelMailer(o: { plan: Plan; receivers: ModelledReceivers; clock: Clock }): ModelMailer {
  const byDomain = new Map<string, string>();
  for (const p of o.plan.providers) for (const d of p.domains) byDomain.set(d.toLowerCase(), p.name);
  const counts: AnswerCounts = { accepted: 0, rate: 0, throttled: 0, mailbox: 0, greylist: 0, random: 0, block: 0 };

  async function send(request: SendRequest): Promise<AttemptRecord[]> {
    const now = o.clock.now();
    return request.envelope.to.map<AttemptRecord>((recipient) => {
      const provider = byDomain.get(recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase());
      let reply: string;
      let stage: 'rcpt' | 'dot';
      let latencyMs = 0;
      if (provider === undefined) {
        reply = `550 5.1.2 <${recipient}>: no modelled provider for this domain`;
        stage = 'rcpt';
      } else {
        const a = o.receivers.answer({ provider, ip: request.localAddress ?? '0.0.0.0', recipient, now });
        counts[a.kind]++;
        reply = a.reply;
        stage = a.stage === 'dot' ? 'dot' : 'rcpt';
        latencyMs = a.latencyMs;
      }
      return {
        ...classifyAttempt({ reply, stage }),
        recipient,
        mx: { host: request.host, address: request.address ?? request.host, port: request.port },
        localAddress: request.localAddress ?? null,
        tls: request.tls !== 'none',
        reused: false,
        startedAt: now,
        finishedAt: now,
        latencyMs,
      };
    });
  }

  return { send, close: async () => {}, counts };
}

/** The address every modelled MX host resolves to (TEST-NET-1: never routed). */
export const MODEL_MX_ADDRESS = '192.0.2.25';

/**
 * A Resolver that answers without the network: each provider domain of the
 * plan has one MX `mx.<provider>.simulated.invalid`, which resolves to
 * {@link MODEL_MX_ADDRESS}. Other names do not exist.
 */
export function createModelResolver(plan: Plan): Resolver {
  const mx = new Map<string, MxRecord[]>();
  const hosts = new Set<string>();
  for (const p of plan.providers) {
    const host = `mx.${p.name.toLowerCase().replace(/[^a-z0-9-]/g, '-')}.simulated.invalid`;
    hosts.add(host);
    for (const d of p.domains) mx.set(d.toLowerCase(), [{ exchange: host, priority: 10 }]);
  }
  const missing = (name: string) => Promise.reject(new WarmupError('NO_SUCH_DOMAIN', `${name} does not exist in the simulation`));
  return {
    resolveMx: (name) => {
      const records = mx.get(name.toLowerCase());
      return records ? Promise.resolve(records.map((r) => ({ ...r }))) : missing(name);
    },
    resolve4: (name) => (hosts.has(name.toLowerCase()) ? Promise.resolve([MODEL_MX_ADDRESS]) : missing(name)),
    resolveTxt: (name) => missing(name),
    reverse: (ip) => missing(ip),
  };
}
