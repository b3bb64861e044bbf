/**
 * A minimal SMTP server on loopback that takes a message and answers its
 * end of data only when `answer` settles (never, if it never does): for
 * tests of what happens while a send is under way.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface HoldingMx {
  readonly server: Server;
  readonly sockets: Set<Socket>;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function holdingMx(host: string, port: number, answer: Promise<void>): Promise<HoldingMx> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.write('220 mx.hold.test ESMTP\r\n');
    let buf = '';
    let inData = false;
    s.on('data', (d) => {
      buf += d;
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') { inData = false; void answer.then(() => s.write('250 2.0.0 queued\r\n')); }
          continue;
        }
        const cmd = line.slice(0, 4).toUpperCase();
        if (cmd === 'EHLO' || cmd === 'HELO') s.write('250 mx.hold.test\r\n');
        else if (cmd === 'DATA') { inData = true; s.write('354 go on\r\n'); } else if (cmd === 'QUIT') s.end('221 bye\r\n'); else s.write('250 ok\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  return {
    server, sockets, connections: () => connections,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
