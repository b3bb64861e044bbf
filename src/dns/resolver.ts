/**
 * The DNS questions warmup asks, behind the narrowest interface the code
 * needs, with one real implementation over `node:dns/promises`.
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { WarmupError } from '../util/errors.js';
import { splitHostPort } from '../util/host-port.js';

/** One MX record. `exchange` is `''` for a null MX (RFC 7505 `.`). */
export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

/**
 * What warmup needs from DNS. Contract shared by every implementation:
 * - a name that exists without records of the asked type resolves to `[]`;
 * - NXDOMAIN rejects with WarmupError `NO_SUCH_DOMAIN`;
 * - SERVFAIL, REFUSED, timeouts and unreachable servers reject with
 *   `DNS_TEMPFAIL` (retry later); anything else with `DNS_ERROR`.
 */
export interface Resolver {
  resolveMx(name: string): Promise<MxRecord[]>;
  resolve4(name: string): Promise<string[]>;
  /** AAAA records. Optional so that narrow implementations stay valid; SPF evaluation uses it for IPv6 senders. */
  resolve6?(name: string): Promise<string[]>;
  /** Each record as its list of character-strings (join them for DKIM keys). */
  resolveTxt(name: string): Promise<string[][]>;
  /** PTR names for an IP address. */
  reverse(ip: string): Promise<string[]>;
}

/** Options for {@link createDnsResolver}. */
export interface DnsResolverOptions {
  /** `host` or `host:port` (IPv6 as `[addr]:port`); IP addresses only. Defaults to the system's servers. */
  readonly servers?: readonly string[];
  /** Initial per-query timeout in ms (c-ares doubles it on each retry). Default 2000. */
  readonly timeoutMs?: number;
  /** Attempts per server. Default 2. */
  readonly tries?: number;
}

// c-ares error codes, as node:dns reports them.
const NODATA = new Set(['ENODATA']);
const NXDOMAIN = new Set(['ENOTFOUND']);
const TEMPFAIL = new Set(['ESERVFAIL', 'ETIMEOUT', 'EREFUSED', 'ECONNREFUSED', 'ECANCELLED', 'EDESTRUCTION', 'EAI_AGAIN']);

/**
 * A Resolver over `node:dns/promises`, querying `servers` directly (the system
 * stub resolver is bypassed, so tests can point it at a loopback dnsmasq and a
 * DNSBL check can use the operator's own recursive resolver).
 *
 * @example
 * const resolver = createDnsResolver({ servers: ['127.0.0.60', '127.0.0.1:5353'], timeoutMs: 1000, tries: 2 });
 * await resolver.resolveMx('example.test');
 *
 * @throws WarmupError `DNS_CONFIG` for a server entry that is not an IP address
 */
export function createDnsResolver(options: DnsResolverOptions = {}): Resolver {
  const timeout = options.timeoutMs ?? 2000;
  const tries = options.tries ?? 2;
  if (!(Number.isInteger(timeout) && timeout > 0)) throw new WarmupError('DNS_CONFIG', `timeoutMs must be a positive integer (got ${timeout})`);
  if (!(Number.isInteger(tries) && tries > 0)) throw new WarmupError('DNS_CONFIG', `tries must be a positive integer (got ${tries})`);
  const r = new dns.Resolver({ timeout, tries });
  if (options.servers) {
    const servers = options.servers.map(checkServer);
    try {
      r.setServers(servers);
    } catch (cause) {
      throw new WarmupError('DNS_CONFIG', `invalid DNS servers ${JSON.stringify(servers)}`, { cause });
    }
  }
  const wrap =
    <T>(kind: string, fn: (name: string) => Promise<T[]>) =>
    async (name: string): Promise<T[]> => {
      try {
        return await fn(name);
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code ?? '';
        if (NODATA.has(code)) return [];
        const details = { name, kind, dnsCode: code };
        if (NXDOMAIN.has(code)) throw new WarmupError('NO_SUCH_DOMAIN', `${name} does not exist (${kind})`, { cause, details });
        if (TEMPFAIL.has(code)) throw new WarmupError('DNS_TEMPFAIL', `${kind} lookup for ${name} failed temporarily: ${code}`, { cause, details });
        throw new WarmupError('DNS_ERROR', `${kind} lookup for ${name} failed: ${code || String(cause)}`, { cause, details });
      }
    };
  return Object.freeze({
    resolveMx: wrap<MxRecord>('MX', (n) => r.resolveMx(n)),
    resolve4: wrap<string>('A', (n) => r.resolve4(n)),
    resolve6: wrap<string>('AAAA', (n) => r.resolve6(n)),
    resolveTxt: wrap<string[]>('TXT', (n) => r.resolveTxt(n)),
    reverse: wrap<string>('PTR', (ip) => r.reverse(ip)),
  });
}

/** Validate an `IP`, `IP:port`, `[v6]:port` or bare IPv6 entry ({@link splitHostPort}). */
function checkServer(entry: string): string {
  const hp = splitHostPort(entry);
  if ('error' in hp) throw new WarmupError('DNS_CONFIG', `DNS server ${JSON.stringify(entry)} ${hp.error}`);
  if (isIP(hp.host) === 0) throw new WarmupError('DNS_CONFIG', `DNS server must be an IP address (got ${JSON.stringify(entry)})`);
  return entry.trim();
}
