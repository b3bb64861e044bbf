import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { daysBetween } from '../../schedule/calendar.js';
import { formatSimulation } from '../../simulate/format.js';
import { simulatePlan } from '../../simulate/run.js';
import { openTarget, storeTarget, type StoreTarget } from '../../store/select.js';
import { redactUrl, sameServer } from '../../store/pg-url.js';
import { ExitError } from '../../util/errors.js';
import { createLogger } from '../../util/log.js';
import { parse, planArg } from '../args.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';
import { modelsOrExit } from '../models.js';
import { createProgress } from '../progress.js';

export const usage = `Usage: warmup simulate PLAN.yaml [--days N] [--model FILE] [--seed N] [--report FILE.html] [--json] [--db PATH|URL] [--quiet]

Runs the whole plan in accelerated time against modelled receivers, with the
daemon's own scheduler, policy, rules and store: only the mailer and the clock
are simulated. Nothing is sent and no DNS is asked. Each modelled provider
gives every IP a reputation that grows with accepted mail and falls when
deferrals are ignored, an hourly limit that rises with it, greylisting and
per-mailbox limits, and answers with the provider's real reply texts.

  --days N        simulate only the first N days of the plan
  --model FILE    YAML that changes the model's knobs per provider
  --seed N        seed of the model's randomness (default 1): same seed, same result
  --report FILE   also write the HTML report of the simulated run (as \`warmup report\`)
  --json          print the whole result as JSON
  --db PATH|URL   write the simulated run to this SQLite file (or PostgreSQL URL),
                  for \`warmup status\`, \`report\` and \`events --db\` (default: kept in
                  memory only, several times faster); never the plan's own database
  --log-level L   daemon log lines on stderr (default: silent)
  --quiet         no progress on stderr (by default a bar on a terminal, else a
                  line per simulated day)`;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    days: { type: 'string' }, model: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' }, db: { type: 'string' }, report: { type: 'string' }, 'log-level': { type: 'string' }, quiet: { type: 'boolean', short: 'q' },
  }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && !(Number.isInteger(days) && days >= 1)) { io.err(`warmup simulate: --days must be a whole number from 1 (got ${values.days})`); throw new ExitError(2); }
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) { io.err(`warmup simulate: --seed must be a whole number from 0 to 4294967295 (got ${values.seed})`); throw new ExitError(2); }
  const level = values['log-level'] ?? 'silent';
  if (!['silent', 'trace', 'debug', 'info', 'warn', 'error'].includes(level)) { io.err(`warmup simulate: unknown --log-level ${level}`); throw new ExitError(2); }

  const { plan } = loadOrExit(file, io, { quietWarnings: Boolean(values.json) });
  const models = modelsOrExit(plan, values.model, io, 'simulate');

  const asked = values.db === undefined ? null : storeTarget(plan, values.db, io.cwd);
  if (asked !== null && sameStore(asked, storeTarget(plan))) {
    io.err(`warmup simulate: --db ${redactUrl(values.db!)} is the plan's own database; a simulation never writes there`);
    throw new ExitError(2);
  }
  // In memory unless asked to keep it; a file is repeatable from its seed, so it trades the crash safety of a real run for speed.
  // A simulation runs no placement poller: the memory store releases each message at its final outcome.
  const store = await openTarget(asked ?? { kind: 'memory', placementMailboxes: [] }, { durability: 'throwaway' });
  // Daemon logs go to stderr so that stdout stays the result (and valid JSON with --json).
  const log = createLogger({ level, destination: process.stderr }).child({ plan: plan.name, simulation: true });
  const began = performance.now();
  try {
    const total = Math.min(days ?? Infinity, daysBetween(plan.start, plan.launch));
    const progress = createProgress(io, { quiet: values.quiet, command: 'simulate', now: () => performance.now() });
    const result = await simulatePlan({
      plan, models, seed, store, log, ...(days === undefined ? {} : { days }),
      onDay: (date) => { const n = daysBetween(plan.start, date) + 1; if (n <= total) progress.step(n, total, date); },
      onTime: (x) => progress.fraction(x),
    });
    progress.finish();
    const wallMs = performance.now() - began;
    if (values.report !== undefined) {
      // Loaded only when asked: the report renderer is not needed for a plain run.
      const { loadReportData, renderReport } = await import('../../report/index.js');
      // As every view of a database: as of its own clock (the end of the simulated run).
      const asOf = await store.storeNow(plan.name, Date.now());
      writeFileSync(resolve(io.cwd, values.report), renderReport(await loadReportData(store, plan, asOf, Date.now())));
    }
    if (values.json) io.out(JSON.stringify(result, null, 2));
    else io.out(formatSimulation(result, { wallMs }));
    if (values.report !== undefined && !values.json) io.out(`\nReport written to ${values.report}`);
    return 0;
  } finally {
    await store.close();
  }
}

/** Whether two targets are the same store (a simulation must never write to the plan's own). */
function sameStore(a: StoreTarget, b: StoreTarget): boolean {
  if (a.kind === 'sqlite' && b.kind === 'sqlite') return a.path === b.path;
  return a.kind === 'postgres' && b.kind === 'postgres' && sameServer(a.url, b.url);
}
