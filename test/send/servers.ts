/**
 * Real SMTP servers on loopback for the mailer tests: an smtp-server sink
 * that records what it received, and a raw `net` server that speaks a
 * scripted, byte-exact dialogue (including the broken ones).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

export interface Received {
  readonly remoteAddress: string;
  readonly ehlo: string;
  readonly secure: boolean;
  readonly from: string;
  readonly to: string[];
  readonly raw: Buffer;
}

export interface Sink {
  readonly host: string;
  readonly port: number;
  readonly received: Received[];
  /** Connections opened so far, and the most open at once. */
  readonly connections: () => { total: number; maxConcurrent: number };
  stop(): Promise<void>;
}

/** An smtp-server that accepts everything (unless `options` handlers say otherwise). */
export async function startSink(listen: string, options: Partial<SMTPServerOptions> & { dataDelayMs?: number } = {}): Promise<Sink> {
  const received: Received[] = [];
  let total = 0;
  let open = 0;
  let maxConcurrent = 0;
  const { dataDelayMs = 0, ...rest } = options;
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['AUTH'],
    closeTimeout: 500,
    onConnect(_session, cb) {
      total++;
      open++;
      maxConcurrent = Math.max(maxConcurrent, open);
      cb();
    },
    onClose() {
      open--;
    },
    onData(stream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          remoteAddress: session.remoteAddress,
          ehlo: session.hostNameAppearsAs,
          secure: session.secure,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        setTimeout(() => cb(null, '2.0.0 Ok: queued as 4Xk9bR1z2Kz7'), dataDelayMs);
      });
    },
    ...rest,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listen, () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;
  return {
    host: listen,
    port,
    received,
    connections: () => ({ total, maxConcurrent }),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What a raw server answers; `'drop'` closes the socket, `'hang'` never answers. */
type Reply = string | 'drop' | 'hang';

/** A scripted dialogue. Every reply is written as given plus CRLF. */
export interface Dialog {
  greeting?: Reply;
  ehlo?: Reply;
  /** `'garbage'`: answer 220, then send bytes that are not TLS. */
  starttls?: Reply | 'garbage';
  mail?: Reply | (() => Reply);
  rcpt?: Reply | ((address: string) => Reply);
  data?: Reply;
  /** Reply after the final dot. */
  dot?: Reply;
}

export interface RawServer {
  readonly host: string;
  readonly port: number;
  /** Every command line received (message bodies excluded), in order. */
  readonly commands: string[];
  /** Client addresses, one per connection. */
  readonly clients: string[];
  stop(): Promise<void>;
}

const DEFAULTS: Required<Omit<Dialog, 'starttls'>> = {
  greeting: '220 mx.raw.test ESMTP',
  ehlo: '250-mx.raw.test\r\n250-8BITMIME\r\n250 SIZE 10240000',
  mail: '250 2.1.0 Ok',
  rcpt: '250 2.1.5 Ok',
  data: '354 End data with <CR><LF>.<CR><LF>',
  dot: '250 2.0.0 Ok: queued as 7F1A2B3C4D',
};

/** A raw SMTP server following `dialog` byte for byte. */
export async function startRaw(listen: string, dialog: Dialog): Promise<RawServer> {
  const d = { ...DEFAULTS, ...dialog };
  const commands: string[] = [];
  const clients: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    clients.push(socket.remoteAddress ?? '');
    let buffer = '';
    let inData = false;
    // Returns false when the session ended.
    const answer = (reply: Reply): boolean => {
      if (reply === 'hang') return true;
      if (reply === 'drop') {
        socket.destroy();
        return false;
      }
      socket.write(`${reply}\r\n`);
      if (/^421/.test(reply)) socket.end();
      return true;
    };
    if (!answer(d.greeting)) return;
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buffer = buffer.slice(end + 5);
          inData = false;
          if (!answer(d.dot)) return;
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        commands.push(line);
        const verb = line.split(/[ :]/)[0]!.toUpperCase();
        let reply: Reply;
        if (verb === 'EHLO' || verb === 'HELO') reply = d.ehlo;
        else if (verb === 'STARTTLS') {
          if (dialog.starttls === 'garbage') {
            socket.write('220 2.0.0 Ready to start TLS\r\n');
            socket.end('this is not a TLS server hello\r\n');
            return;
          }
          reply = dialog.starttls ?? '502 5.5.1 Error: command not recognized';
        } else if (verb === 'MAIL') reply = typeof d.mail === 'function' ? d.mail() : d.mail;
        else if (verb === 'RCPT') reply = typeof d.rcpt === 'function' ? d.rcpt(/<([^>]*)>/.exec(line)?.[1] ?? '') : d.rcpt;
        else if (verb === 'DATA') {
          reply = d.data;
          if (/^354/.test(reply)) inData = true;
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 Bye\r\n');
          return;
        } else if (verb === 'RSET' || verb === 'NOOP') reply = '250 2.0.0 Ok';
        else reply = '502 5.5.2 Error: command not recognized';
        if (!answer(reply)) return;
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listen, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    host: listen,
    port,
    commands,
    clients,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
