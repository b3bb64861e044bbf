/**
 * The one parser of `host`, `host:port`, `[host]`, `[host]:port` and bare IPv6
 * addresses (`::1`), for everything that names a server or a listener: static
 * routes, DNS servers, the metrics and Postfix socketmap listeners. Pure.
 */
import { isIP } from 'node:net';

export interface HostPort {
  /** Without brackets, as written. */
  readonly host: string;
  /** null when the text gives none. */
  readonly port: number | null;
}

/**
 * Splits `text` (surrounding blanks ignored) into host and port, or says why it
 * cannot. An IPv6 address with a port needs brackets (`[::1]:25`); a bare IPv6
 * address (`::1`, `fe80::1`) is a host without a port; `host:` and ports outside
 * 1-65535 are refused. The host is not checked further: callers decide whether
 * a name, an IP or only a loopback IP is acceptable.
 *
 * @example
 * splitHostPort('[::1]:9464')       // { host: '::1', port: 9464 }
 * splitHostPort('mx.example:2525')  // { host: 'mx.example', port: 2525 }
 * splitHostPort('2001:db8::1')      // { host: '2001:db8::1', port: null }
 * splitHostPort('host:0')           // { error: 'port must be 1-65535 (got 0)' }
 */
export function splitHostPort(text: string): HostPort | { readonly error: string } {
  const t = text.trim();
  if (t === '') return { error: 'is empty' };
  if (/\s/.test(t)) return { error: 'contains a blank' };
  let host: string;
  let portText: string | undefined;
  if (t.startsWith('[')) {
    const m = /^\[([^[\]]*)\](?::(.*))?$/.exec(t);
    if (!m) return { error: 'has an unclosed bracket or text after it (use [host]:port)' };
    host = m[1]!;
    portText = m[2];
  } else if (t.includes('[') || t.includes(']')) {
    return { error: 'has a bracket inside (use [host]:port)' };
  } else {
    const first = t.indexOf(':');
    if (first === -1) host = t;
    else if (first === t.lastIndexOf(':')) { host = t.slice(0, first); portText = t.slice(first + 1); }
    else if (isIP(t) === 6) host = t;
    else return { error: 'has several colons but is not an IPv6 address (an IPv6 address with a port needs brackets, as [::1]:25)' };
  }
  if (host === '') return { error: 'has no host' };
  if (portText === undefined) return { host, port: null };
  if (!/^\d{1,5}$/.test(portText)) return { error: `has no port number after the colon (got "${portText}")` };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { error: `port must be 1-65535 (got ${port})` };
  return { host, port };
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.x.y.z). */
export function isLoopbackIp(ip: string): boolean {
  const low = ip.toLowerCase();
  const v4 = low.startsWith('::ffff:') ? low.slice(7) : low;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return isIP(low) === 6 && /^(0{0,4}:){2,7}0{0,3}1$|^::1$/.test(low);
}

/** `host:port`, an IPv6 host in brackets (`[::1]:9464`): the text {@link splitHostPort} reads back. */
export function joinHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
