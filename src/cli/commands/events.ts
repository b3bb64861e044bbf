import { parseDuration } from '../../plan/duration.js';
import { openStoreFor } from '../../store/select.js';
import { EVENT_KINDS, eventView } from '../../store/event-view.js';
import { eventKindsSeen, newestEventAt, recentEvents } from '../../store/events.js';
import { ExitError } from '../../util/errors.js';
import { parse, planArg } from '../args.js';
import { evidenceOf } from '../../policy/evidence.js';
import { jsonText, localStamp, printable, table } from '../format.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

export const usage = `Usage: warmup events PLAN.yaml [--since WHEN] [--ip ADDR] [--provider NAME] [--kind KIND] [--limit N] [--db PATH|URL] [--json]

Every state change with its cause: day-end decisions with the day's figures,
reply-pattern rules and breakers with the reply that triggered them, DNSBL
listings, operator pauses and resumes. Newest last. Under each decision and
hold, the replies behind it: "> COUNTx CODE ENHANCED text", most frequent
first. Control characters in replies are shown escaped (ESC as \x1b).

  --since WHEN   an instant or date (2026-12-03, 2026-12-03T10:00Z), or a
                 duration back from the newest event (6h, 2d)`;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    since: { type: 'string' }, ip: { type: 'string' }, provider: { type: 'string' }, kind: { type: 'string' },
    limit: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' },
  }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const { plan } = loadOrExit(file, io, { quietWarnings: true });
  // An unknown filter value is a mistake to say, not "no events" (exit 2, like plan --ip).
  if (values.ip !== undefined && !plan.ips.some((i) => i.address === values.ip)) {
    io.err(`warmup events: --ip ${values.ip}: no such IP in plan "${plan.name}"`); throw new ExitError(2);
  }
  if (values.provider !== undefined && !plan.providers.some((p) => p.name === values.provider)) {
    io.err(`warmup events: --provider ${values.provider}: no such provider in plan "${plan.name}" (${plan.providers.map((p) => p.name).join(', ')})`); throw new ExitError(2);
  }
  const limit = values.limit === undefined ? 1000 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) { io.err(`warmup events: --limit must be a positive whole number (got ${values.limit})`); throw new ExitError(2); }
  const store = await openStoreFor({ plan, db: values.db, readonly: true });
  try {
    let since: number | null = null;
    if (values.since !== undefined) {
      const back = parseDuration(values.since);
      if (back !== null) {
        // Relative to the newest event: the daemon's clock may be accelerated or in the past.
        since = (await store.newestEventAt(plan.name) ?? Date.now()) - back;
      } else {
        since = Date.parse(values.since);
        if (Number.isNaN(since)) { io.err(`warmup events: --since must be an instant, a date or a duration (got ${values.since})`); throw new ExitError(2); }
      }
    }
    if (values.kind !== undefined && !EVENT_KINDS.includes(values.kind)) {
      const seen = await store.eventKindsSeen(plan.name);
      if (!seen.includes(values.kind)) {
        io.err(`warmup events: --kind ${values.kind}: unknown event kind (one of ${[...new Set([...EVENT_KINDS, ...seen])].join(', ')})`);
        throw new ExitError(2);
      }
    }
    const rows = await store.recentEvents(plan.name, { since, ip: values.ip, provider: values.provider, kind: values.kind, limit });
    const events = rows.map(eventView);
    if (values.json) { io.out(jsonText(events)); return 0; }
    if (events.length === 0) { io.out('no events'); return 0; }
    const lines = table([`at (${plan.timezone})`, 'lane', 'event', 'change', 'by', 'cause'], events.map((e) => [
      localStamp(Date.parse(e.at), plan.timezone), [e.ip, e.provider].filter(Boolean).join('/') || '-', e.kind,
      e.from || e.to ? `${e.from ?? ''} -> ${e.to ?? ''}` : '', e.actor, describeCause(e.cause),
    ].map(printable)), 6).split('\n');
    // Header and rule, then each event followed by its evidence.
    const out = lines.slice(0, 2);
    events.forEach((e, i) => {
      out.push(lines[i + 2]!);
      for (const r of evidenceOf(e.cause)) out.push(printable(`    > ${r.count}x ${r.reply.length > 240 ? `${r.reply.slice(0, 237)}...` : r.reply}`));
    });
    io.out(out.join('\n'));
    return 0;
  } finally {
    await store.close();
  }
}

/** The cause in one line: the reason or reply first (the reply once), then the figures. */
function describeCause(c: Record<string, unknown>): string {
  const texts = [c.reason, c.reply].filter((x): x is string => typeof x === 'string' && x !== '');
  const head = texts.filter((t, i) => !texts.some((o, j) => j !== i && o.includes(t) && (o !== t || j < i))).join(' | ');
  const figures = ['target', 'accepted', 'deferred', 'bounced', 'failed', 'greylisted', 'unknownUsers', 'zone', 'answer', 'meaning', 'mailbox', 'until']
    .filter((k) => c[k] !== undefined && c[k] !== null && !((k === 'greylisted' || k === 'unknownUsers') && c[k] === 0))
    .map((k) => `${k}=${k === 'until' && typeof c[k] === 'number' ? new Date(c[k] as number).toISOString() : String(c[k])}`);
  const text = [head, figures.join(' ')].filter(Boolean).join('; ');
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
