/**
 * A socketmap server (Postfix's `socketmap:` lookup table) over TCP or a
 * unix socket. Postfix keeps a connection open and sends one netstring
 * request `NAME KEY` at a time; each gets one netstring reply: `OK value`,
 * `NOTFOUND `, `TEMP reason` or `PERM reason`.
 */
import { chmod, rm } from 'node:fs/promises';
import net from 'node:net';
import type { Logger } from '../util/log.js';
import { encodeNetstring, NetstringDecoder } from './netstring.js';

/** Answers one lookup; the string is the whole reply (`OK transport:`). A throw answers TEMP. */
export type SocketmapHandler = (name: string, key: string) => string | Promise<string>;

export interface SocketmapServer {
  /** `host:port` or the socket path. */
  readonly address: string;
  /** Stops listening and drops every connection (Postfix then defers: a lookup failure is temporary). */
  close(): Promise<void>;
}

export type Listen = { readonly kind: 'inet'; readonly host: string; readonly port: number } | { readonly kind: 'unix'; readonly path: string };

/** Starts listening; rejects (EADDRINUSE, EACCES...) when it cannot. */
export async function startSocketmapServer(listen: Listen, handler: SocketmapHandler, log: Logger): Promise<SocketmapServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new NetstringDecoder();
    // Requests on one connection are answered in order.
    let chain: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let requests: string[];
      try {
        requests = decoder.push(chunk);
      } catch (e) {
        log.warn({ err: e }, 'socketmap: malformed request; closing the connection');
        socket.destroy();
        return;
      }
      for (const req of requests) {
        chain = chain.then(async () => {
          const sp = req.indexOf(' ');
          let reply: string;
          if (sp <= 0) reply = 'PERM request must be "NAME KEY"';
          else {
            try {
              reply = await handler(req.slice(0, sp), req.slice(sp + 1));
            } catch (e) {
              log.error({ err: e, request: req }, 'socketmap: lookup failed; answering TEMP');
              reply = 'TEMP warmup lookup failed';
            }
          }
          if (!socket.destroyed) socket.write(encodeNetstring(reply));
        });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  if (listen.kind === 'unix') await rm(listen.path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (listen.kind === 'unix') server.listen(listen.path, () => resolve());
    else server.listen(listen.port, listen.host, () => resolve());
  });
  // Postfix's trivial-rewrite runs as the postfix user: it must be able to connect.
  if (listen.kind === 'unix') await chmod(listen.path, 0o666);
  const address = listen.kind === 'unix' ? listen.path : `${listen.host}:${(server.address() as net.AddressInfo).port}`;
  return {
    address,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}
