/**
 * A loopback TCP proxy in front of the real PostgreSQL that changes one thing of the
 * protocol's start, to show what `sslmode=prefer` and `allow` do when a server says no:
 *
 * - `refuse-tls`: answers the 8-byte SSLRequest with 'N' (a server without TLS), then
 *   pipes the rest both ways, so the plaintext login that follows reaches the real server;
 * - `refuse-plaintext`: a server whose pg_hba.conf has only `hostssl` lines. A StartupMessage
 *   sent in the clear gets the FATAL 28000 ErrorResponse PostgreSQL 15 writes for it (its
 *   S, V, C and M fields; the server adds F, L, R, its source position); an SSLRequest is
 *   piped to the real server, so TLS and the login run end to end with it;
 * - `refuse-tls-login`: a server whose pg_hba.conf has a `hostnossl` line for the user. It
 *   answers the SSLRequest with 'S', runs the TLS handshake itself (with the certificate and
 *   key it is given, the peer's own), and answers the StartupMessage inside TLS with the
 *   FATAL 28000 PostgreSQL 15 writes for it; a plaintext login is piped to the real server.
 *
 * It counts what it saw on each connection's first message, in order.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** The SSLRequest code (1234 << 16 | 5679), after its length 8. */
const SSL_REQUEST = 80877103;

export interface TlsProxy {
  readonly port: number;
  /** Each connection's first message: `ssl-request` or `startup` (a plaintext login). */
  readonly seen: Array<'ssl-request' | 'startup'>;
  close(): Promise<void>;
}

/** What the proxy changes (see the module's comment). */
export type ProxyMode = 'refuse-tls' | 'refuse-plaintext' | 'refuse-tls-login';

/** `tls`: the certificate and key `refuse-tls-login` answers the handshake with (PEM). */
export async function startTlsProxy(mode: ProxyMode, upstream: { host: string; port: number }, tls?: { cert: string; key: string }): Promise<TlsProxy> {
  const seen: TlsProxy['seen'] = [];
  const sockets = new Set<Socket>();
  const pipeUp = (client: Socket, first: Buffer) => {
    const server = connect(upstream.port, upstream.host);
    sockets.add(server);
    server.on('close', () => { sockets.delete(server); client.destroy(); });
    server.on('error', () => client.destroy());
    client.on('close', () => server.destroy());
    if (first.length > 0) server.write(first);
    client.pipe(server);
    server.pipe(client);
  };
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 8) return;
      client.off('data', onData);
      client.pause();
      const sslRequest = buf.readInt32BE(0) === 8 && buf.readInt32BE(4) === SSL_REQUEST;
      seen.push(sslRequest ? 'ssl-request' : 'startup');
      if (mode === 'refuse-tls' && sslRequest) {
        client.write('N');
        pipeUp(client, buf.subarray(8));
      } else if (mode === 'refuse-plaintext' && !sslRequest) {
        client.end(errorResponse(startupParams(buf), 'no encryption'));
      } else if (mode === 'refuse-tls-login' && sslRequest) {
        client.write('S');
        refuseInsideTls(client, tls!, sockets);
      } else {
        pipeUp(client, buf);
      }
      client.resume();
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** user and database of a StartupMessage (length, protocol, then name\0value\0 pairs). */
function startupParams(msg: Buffer): Record<string, string> {
  const parts = msg.subarray(8, msg.readInt32BE(0)).toString('utf8').split('\0');
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) out[parts[i]!] = parts[i + 1]!;
  return out;
}

/** Runs the server side of TLS on `client` and answers the StartupMessage sent inside it with FATAL 28000. */
function refuseInsideTls(client: Socket, tls: { cert: string; key: string }, sockets: Set<Socket>): void {
  const secure = new TLSSocket(client, { isServer: true, cert: tls.cert, key: tls.key });
  sockets.add(secure);
  secure.on('close', () => sockets.delete(secure));
  secure.on('error', () => client.destroy());
  let buf = Buffer.alloc(0);
  secure.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (buf.length < 8 || buf.length < buf.readInt32BE(0)) return;
    secure.end(errorResponse(startupParams(buf), 'SSL encryption'));
  });
}

/** PostgreSQL 15's answer to a login no pg_hba.conf line admits with this encryption ('no encryption', 'SSL encryption'). */
function errorResponse(p: Record<string, string>, encryption: string): Buffer {
  const message = `no pg_hba.conf entry for host "127.0.0.1", user "${p.user}", database "${p.database ?? p.user}", ${encryption}`;
  const fields = Buffer.from(`SFATAL\0VFATAL\0C28000\0M${message}\0\0`, 'utf8');
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}
