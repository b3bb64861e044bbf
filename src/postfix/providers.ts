/**
 * Which plan provider a recipient domain belongs to: its own domains first,
 * then the MX roll-up (an MX host ending in one of the provider's
 * mx_suffixes, as Google Workspace domains do with `.google.com`).
 */
import type { Resolver } from '../dns/resolver.js';
import type { Plan, Provider } from '../plan/types.js';
import { WarmupError } from '../util/errors.js';

/** The provider whose MX suffix one of the MX hosts ends with, else null. Pure. */
export function providerByMx(providers: readonly Provider[], mxHosts: readonly string[]): Provider | null {
  for (const host of mxHosts) {
    const h = `.${host.toLowerCase().replace(/\.$/, '')}`;
    const p = providers.find((pr) => pr.mxSuffixes.some((s) => h.endsWith(s)));
    if (p) return p;
  }
  return null;
}

export class ProviderFinder {
  readonly #byDomain = new Map<string, Provider>();
  readonly #cache = new Map<string, { provider: Provider | null; until: number }>();
  readonly #rollUp: boolean;

  constructor(private readonly plan: Plan, private readonly resolver: Resolver, private readonly ttlMs = 3_600_000) {
    for (const p of plan.providers) for (const d of p.domains) this.#byDomain.set(d, p);
    this.#rollUp = plan.providers.some((p) => p.mxSuffixes.length > 0);
  }

  /** The provider of a listed domain, without DNS. */
  byDomain(domain: string): Provider | null {
    return this.#byDomain.get(domain) ?? null;
  }

  /**
   * The provider of any domain; asks DNS for the MX hosts of an unlisted one
   * (cached for ttlMs of clock time, a domain of no provider too).
   * Throws WarmupError DNS_TEMPFAIL / DNS_ERROR when DNS cannot answer now.
   */
  async find(domain: string, now: number): Promise<Provider | null> {
    const d = domain.toLowerCase();
    const listed = this.#byDomain.get(d);
    if (listed || !this.#rollUp) return listed ?? null;
    const hit = this.#cache.get(d);
    if (hit && hit.until > now) return hit.provider;
    let hosts: string[];
    try {
      hosts = (await this.resolver.resolveMx(d)).map((m) => m.exchange).filter((x) => x !== '');
    } catch (e) {
      if (e instanceof WarmupError && e.code === 'NO_SUCH_DOMAIN') hosts = [];
      else throw e;
    }
    const provider = providerByMx(this.plan.providers, hosts);
    this.#cache.set(d, { provider, until: now + this.ttlMs });
    return provider;
  }
}
