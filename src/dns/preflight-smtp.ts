/**
 * `warmup check --connect`: opens one SMTP session from a plan IP to a
 * provider's MX, reads the greeting, sends EHLO, looks for STARTTLS and quits.
 * Nothing is sent beyond EHLO and QUIT.
 */
import net from 'node:net';

/** What one probe saw. */
export interface SmtpProbe {
  readonly ok: boolean;
  readonly greeting: string | null;
  readonly starttls: boolean;
  readonly error: string | null;
}

/**
 * @example
 * await probeSmtp({ host: '127.0.0.53', port: 25, localAddress: '127.0.0.17', ehlo: 'mta17.warmup.test', timeoutMs: 10_000 });
 */
export function probeSmtp(o: { host: string; port: number; localAddress: string; ehlo: string; timeoutMs: number }): Promise<SmtpProbe> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress });
    let buf = '';
    let greeting: string | null = null;
    let phase: 'greeting' | 'ehlo' | 'quit' = 'greeting';
    let settled = false;
    const finish = (r: Omit<SmtpProbe, 'greeting'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...r, greeting });
    };
    const timer = setTimeout(() => finish({ ok: false, starttls: false, error: `no answer within ${o.timeoutMs} ms (${phase})` }), o.timeoutMs);
    sock.setEncoding('utf8');
    sock.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, starttls: false, error: err.code ?? err.message }));
    sock.on('close', () => finish({ ok: false, starttls: false, error: `connection closed (${phase})` }));
    sock.on('data', (d: string) => {
      buf += d;
      // A reply is complete at a line "NNN text" (no dash after the code).
      const m = /(^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(buf);
      if (!m) return;
      const reply = buf;
      const code = Number(m[2]);
      buf = '';
      if (phase === 'greeting') {
        greeting = reply.trim().split('\r\n')[0]!;
        if (code !== 220) return finish({ ok: false, starttls: false, error: `greeting ${greeting}` });
        phase = 'ehlo';
        sock.write(`EHLO ${o.ehlo}\r\n`);
      } else if (phase === 'ehlo') {
        if (code !== 250) return finish({ ok: false, starttls: false, error: `EHLO answered ${reply.trim()}` });
        const starttls = /^250[- ]STARTTLS\b/im.test(reply);
        phase = 'quit';
        sock.write('QUIT\r\n');
        settled = true;
        clearTimeout(timer);
        sock.end();
        // The server closes after 221; do not hold the process if it does not.
        setTimeout(() => sock.destroy(), 1000).unref();
        resolve({ ok: true, greeting, starttls, error: null });
      }
    });
  });
}
