/**
 * mailauth's `spf()` and `dmarc()` take a resolver `(name, type) => records`
 * with node:dns error codes. This adapts the project Resolver to it, so SPF
 * and DMARC are evaluated through the plan's own DNS servers (and the
 * loopback test DNS in tests).
 */
import { isIP } from 'node:net';
import { WarmupError } from '../util/errors.js';
import type { Resolver } from './resolver.js';

/** The resolver function mailauth calls. */
export type MailauthResolver = (name: string, type: string) => Promise<unknown[]>;

function dnsError(code: string, name: string, cause?: unknown): Error {
  return Object.assign(new Error(`${code} ${name}`, cause === undefined ? undefined : { cause }), { code });
}

/** From `4.3.2.1.in-addr.arpa` back to `1.2.3.4` (the Resolver's PTR lookup takes an address). */
function ptrAddress(name: string): string | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa\.?$/i.exec(name);
  const ip = m ? `${m[4]}.${m[3]}.${m[2]}.${m[1]}` : null;
  return ip && isIP(ip) === 4 ? ip : null;
}

/**
 * @example
 * const result = await spf({ sender: 'b@example.com', ip, helo, resolver: mailauthResolver(resolver) });
 */
export function mailauthResolver(resolver: Resolver): MailauthResolver {
  return async (name, type) => {
    let records: unknown[];
    try {
      switch (type) {
        case 'TXT': records = await resolver.resolveTxt(name); break;
        case 'A': records = await resolver.resolve4(name); break;
        case 'AAAA': records = resolver.resolve6 ? await resolver.resolve6(name) : []; break;
        case 'MX': records = await resolver.resolveMx(name); break;
        case 'PTR': {
          const ip = ptrAddress(name);
          records = ip ? await resolver.reverse(ip) : [];
          break;
        }
        default: records = [];
      }
    } catch (err) {
      if (err instanceof WarmupError && err.code === 'NO_SUCH_DOMAIN') throw dnsError('ENOTFOUND', name, err);
      if (err instanceof WarmupError && err.code === 'DNS_TEMPFAIL') throw dnsError(String(err.details?.dnsCode ?? 'ETIMEOUT'), name, err);
      throw dnsError('ESERVFAIL', name, err);
    }
    // mailauth counts "void lookups" (RFC 7208 4.6.4) from ENODATA, not from empty arrays.
    if (records.length === 0) throw dnsError('ENODATA', name);
    return records;
  };
}
