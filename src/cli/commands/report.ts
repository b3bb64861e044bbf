import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadReportData, renderReport } from '../../report/index.js';
import { openStoreFor } from '../../store/select.js';
import { ExitError } from '../../util/errors.js';
import { parse, planArg } from '../args.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

export const usage = `Usage: warmup report PLAN.yaml --out FILE.html [--db PATH|URL] [--at ISO-INSTANT]

Writes one self-contained HTML page (inline CSS and SVG, nothing fetched when
opened) to show where the warm-up stands: target against accepted per day per
provider and per IP, deferral and bounce rates, stage over time with events,
DNSBL history, seed placement, the launch readiness table and, for a fleet,
which host sends from which IP, its takeovers and the volume per host.

  --out FILE     where to write the page (required)
  --db PATH|URL  database file or postgres:// URL (default: the plan's store); opened read-only
  --at INSTANT   report as of this instant (default: the database's clock, i.e.
                 the plan time of its last run, so a simulated database reads
                 as of its own days; the wall clock when it has no run)`;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { out: { type: 'string', short: 'o' }, db: { type: 'string' }, at: { type: 'string' } }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  if (!values.out) { io.err(`warmup report: --out FILE is required\n\n${usage}`); throw new ExitError(2); }
  const at = values.at === undefined ? null : Date.parse(values.at);
  if (at !== null && Number.isNaN(at)) { io.err(`warmup report: --at must be an ISO instant such as 2026-12-05T17:00:00Z (got ${values.at})`); throw new ExitError(2); }
  const { plan } = loadOrExit(file, io, { quietWarnings: true });
  const store = await openStoreFor({ plan, db: values.db || undefined, cwd: io.cwd, readonly: true });
  let html: string;
  try {
    // The database's own clock (its last run's plan time), so a simulated run reads as of its days.
    const now = at ?? await store.storeNow(plan.name, Date.now());
    html = renderReport(await loadReportData(store, plan, now, Date.now()));
  } finally {
    await store.close();
  }
  const out = resolve(io.cwd, values.out);
  writeFileSync(out, html);
  io.out(`wrote ${out} (${Math.round(html.length / 1024)} KiB)`);
  return 0;
}
