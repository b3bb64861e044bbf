/**
 * One delivery try for one warm-up message: build it, find the route, send
 * it from the lane's IP, and reduce the records to one outcome. Never rejects:
 * DNS failures are outcomes too.
 */
import type { Resolver } from '../dns/resolver.js';
import { resolveRoute, type Route, type StaticRouteEntry } from '../dns/mx.js';
import type { Plan, PlanIp, Provider } from '../plan/types.js';
import type { Outcome } from '../store/schema.js';
import { buildMessage } from '../send/message.js';
import type { DkimOptions, Mailer } from '../send/mailer.js';
import { deliverToRoute } from '../send/route.js';
import { WarmupError } from '../util/errors.js';

export interface DeliveryOutcome {
  readonly outcome: Outcome;
  readonly code: number | null;
  readonly enhanced: string | null;
  readonly reply: string;
  readonly stage: string | null;
  /** True when retrying cannot help (5xx, null MX, no such domain). */
  readonly final: boolean;
  readonly mailboxSignal: boolean;
  /** A 4xx that is greylisting (see classify.ts), else null. */
  readonly greylisting: 'certain' | 'likely' | null;
  /** A 5xx about the sender (`policy`) or the recipient (`hygiene`), else null. */
  readonly rejection: 'policy' | 'hygiene' | null;
  readonly mxHost: string | null;
  readonly mxAddress: string | null;
  readonly startedAt: number;
  readonly latencyMs: number | null;
}

export interface WarmupMessage {
  readonly provider: Provider;
  readonly ip: PlanIp;
  readonly recipient: string;
  readonly seq: number;
  /** Token before the @ of the Message-ID; the same on every retry. */
  readonly token: string;
}

/** Caches routes per domain for `ttlMs` of clock time; failures are not cached. */
export class RouteCache {
  readonly #entries = new Map<string, { route: Route; until: number }>();
  readonly #statics: Readonly<Record<string, ReadonlyArray<StaticRouteEntry>>>;
  constructor(private readonly plan: Plan, private readonly resolver: Resolver, private readonly ttlMs = 600_000) {
    // A plan route names a provider (all its domains) or a single domain.
    // Kept structured end to end: "[::1]:2525" turned back into text would not parse again.
    const statics: Record<string, StaticRouteEntry[]> = {};
    for (const [key, target] of plan.delivery.routes) {
      const provider = plan.providers.find((p) => p.name === key);
      for (const domain of provider ? provider.domains : [key]) statics[domain] = [target];
    }
    this.#statics = statics;
  }

  async get(domain: string, now: number): Promise<Route> {
    const hit = this.#entries.get(domain);
    if (hit && hit.until > now) return hit.route;
    const route = await resolveRoute(domain, { resolver: this.resolver, port: this.plan.delivery.port, staticRoutes: this.#statics });
    this.#entries.set(domain, { route, until: now + this.ttlMs });
    return route;
  }
}

export async function deliverOnce(
  deps: { plan: Plan; mailer: Mailer; routes: RouteCache; now: () => number; mayStart?: () => boolean },
  m: WarmupMessage,
): Promise<DeliveryOutcome> {
  const { plan } = deps;
  const startedAt = deps.now();
  const domain = m.recipient.slice(m.recipient.lastIndexOf('@') + 1);
  let route: Route;
  try {
    route = await deps.routes.get(domain, startedAt);
  } catch (e) {
    const code = e instanceof WarmupError ? e.code : 'DNS_ERROR';
    const final = code === 'NULL_MX' || code === 'NO_SUCH_DOMAIN';
    return {
      outcome: 'dns', code: null, enhanced: null, reply: `${code}: ${(e as Error).message}`, stage: 'connect', final,
      mailboxSignal: false, greylisting: null, rejection: null, mxHost: null, mxAddress: null, startedAt, latencyMs: null,
    };
  }
  const subjects = plan.content.subjects;
  const built = buildMessage({
    from: { address: plan.sender.from.address, ...(plan.sender.from.name ? { name: plan.sender.from.name } : {}) },
    envelopeFrom: plan.sender.envelopeFrom,
    to: m.recipient,
    subject: subjects[(m.seq - 1) % subjects.length]!,
    text: plan.content.text,
    html: plan.content.html,
    unsubscribe: {
      url: plan.sender.unsubscribe.url,
      ...(plan.sender.unsubscribe.mailto ? { mailto: `mailto:${plan.sender.unsubscribe.mailto}?subject=unsubscribe-{{warmup_id}}` } : {}),
    },
    provider: m.provider.name,
    ip: m.ip.address,
    seq: m.seq,
    timezone: plan.timezone,
  }, { now: startedAt, newId: () => m.token });
  const dkim = plan.sender.dkim;
  // The key is null only in a plan loaded without secrets: simulations (whose modelled mailer
  // signs nothing); `warmup start` always loads it.
  const records = await deliverToRoute(deps.mailer, route, {
    envelope: built.envelope,
    message: { fields: built.fields },
    localAddress: m.ip.address,
    ehloName: m.ip.ehlo,
    tls: plan.delivery.tls,
    ...(deps.mayStart ? { mayStart: deps.mayStart } : {}),
    ...(dkim?.privateKeyPem ? { dkim: dkimKeys(dkim) } : {}),
  });
  const last = records.at(-1)!;
  return {
    outcome: last.outcome, code: last.code, enhanced: last.enhanced, reply: last.text, stage: last.stage, final: last.final,
    mailboxSignal: last.mailboxSignal ?? false, greylisting: last.greylisting ?? null, rejection: last.rejection ?? null, mxHost: last.mx.host, mxAddress: last.mx.address,
    startedAt: last.startedAt, latencyMs: last.latencyMs,
  };
}

/** The plan's DKIM keys as the mailer takes them: the first key, then the Ed25519 one of dual signing. */
export function dkimKeys(dkim: NonNullable<Plan['sender']['dkim']>): DkimOptions[] {
  const keys: DkimOptions[] = [];
  if (dkim.privateKeyPem) keys.push({ domainName: dkim.domain, keySelector: dkim.selector, privateKey: dkim.privateKeyPem });
  if (dkim.ed25519?.privateKeyPem) keys.push({ domainName: dkim.domain, keySelector: dkim.ed25519.selector, privateKey: dkim.ed25519.privateKeyPem });
  return keys;
}
