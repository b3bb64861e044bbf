/**
 * Delivery over a resolved route: RFC 5321 section 5.1 says to try the next
 * MX (and the next address) when a host cannot be reached.
 */
import type { Route } from '../dns/mx.js';
import type { Classification } from './classify.js';
import type { AttemptRecord, Mailer, SendRequest } from './mailer.js';

/** A send without a destination; the route supplies host, address and port. */
export type RouteSendRequest = Omit<SendRequest, 'host' | 'address' | 'port'>;

/**
 * True when the host was never reached as an SMTP server: refused, reset,
 * timed out or closed before any reply, at connect or while waiting for the
 * greeting. Any SMTP reply (even 421 at the greeting) is an answer from the
 * receiver and is not retried elsewhere: moving on after a 421 would
 * just spread a rate limit over the next MX.
 */
export function isConnectFailure(c: Classification): boolean {
  return c.code === null && (c.outcome === 'network' || c.outcome === 'timeout') && (c.stage === 'connect' || c.stage === 'greeting');
}

/**
 * Try the route's hosts in preference order, and each host's addresses in
 * order, moving on only after a connect failure. Resolves to the records of
 * every try, in order; the last try's records are the outcome. Never rejects.
 *
 * @example
 * const route = await resolveRoute('gmail.com', { resolver });
 * const records = await deliverToRoute(mailer, route, { envelope, message, localAddress, ehloName, tls: 'opportunistic' });
 */
export async function deliverToRoute(mailer: Mailer, route: Route, request: RouteSendRequest): Promise<AttemptRecord[]> {
  const all: AttemptRecord[] = [];
  for (const host of route.hosts) {
    for (const address of host.addresses) {
      const records = await mailer.send(Object.assign({}, request, { host: host.host, address, port: host.port }));
      all.push(...records);
      if (!records.every(isConnectFailure)) return all;
    }
  }
  return all;
}
