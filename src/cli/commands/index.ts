/** The command table: loaded lazily so `warmup status` does not load the sender. */
import type { CliIo } from '../io.js';

export interface Command {
  readonly summary: string;
  load(): Promise<{ run(argv: readonly string[], io: CliIo): Promise<number> }>;
}

export const commands: Readonly<Record<string, Command>> = {
  demo: { summary: 'run the embedded example plan (no internet, no real IPs needed)', load: () => import('./demo.js') },
  validate: { summary: 'check a plan and print its summary', load: () => import('./validate.js') },
  providers: { summary: 'list the built-in provider catalogue (domains, MX suffixes, limits, rules)', load: () => import('./providers.js') },
  plan: { summary: 'print the day-by-day schedule before adaptation', load: () => import('./plan.js') },
  start: { summary: 'run the warm-up daemon (sends, records, adapts)', load: () => import('./start.js') },
  simulate: { summary: 'run a plan in accelerated time against modelled receivers (nothing is sent)', load: () => import('./simulate.js') },
  pause: { summary: 'take an IP, a provider or one lane out of rotation', load: async () => (await import('./control.js')).pause },
  resume: { summary: 'put paused lanes back in rotation', load: async () => (await import('./control.js')).resume },
  events: { summary: 'every state change with its cause', load: () => import('./events.js') },
  status: { summary: 'show each lane\'s stage, volumes and state from the database', load: () => import('./status.js') },
  store: { summary: 'copy a SQLite store into PostgreSQL (store copy --from FILE --to URL): from one host to a fleet', load: () => import('./store.js') },
  systemd: { summary: 'print a hardened systemd unit that runs `warmup start`', load: () => import('./systemd.js') },
  report: { summary: 'write a self-contained HTML report (charts, launch readiness)', load: () => import('./report.js') },
  keygen: { summary: 'create a DKIM key and print its DNS record', load: () => import('./keygen.js') },
  dnsbl: { summary: 'check every IP against the plan\'s DNSBL zones once', load: () => import('./dnsbl.js') },
  postfix: { summary: 'print the Postfix lines that route real mail through the warm-up IPs', load: () => import('./postfix.js') },
  check: { summary: 'preflight: bind, PTR/FCrDNS, SPF, DKIM, DMARC, MX, DNSBL (--connect: SMTP + STARTTLS)', load: () => import('./check.js') },
};
