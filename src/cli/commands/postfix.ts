import { postfixConfig } from '../../postfix/config.js';
import { ExitError } from '../../util/errors.js';
import { parse, planArg } from '../args.js';
import type { CliIo } from '../io.js';
import { loadOrExit } from '../load.js';

export const usage = `Usage: warmup postfix PLAN.yaml [--main | --master]

Prints what to add to Postfix so that it asks warmup which IP each recipient
leaves from (the plan's postfix: section) and logs every delivery where
warmup reads it:

  main.cf    transport_maps (socketmap), maillog_file, long queue ids, and
             per transport the queue manager's concurrency and rate delay
  master.cf  one smtp transport per IP (smtp_bind_address, smtp_helo_name,
             syslog_name naming the IP) and rewrite-smtpd, a trivial-rewrite
             without the map for smtpd: add -o rewrite_service_name=rewrite-smtpd
             to every smtpd line so RCPT checks never ask warmup

  --main     print only the main.cf lines
  --master   print only the master.cf lines

Then \`postfix check && postfix reload\`.`;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { main: { type: 'boolean' }, master: { type: 'boolean' } }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  const file = planArg(positionals, usage, io);
  const { plan } = loadOrExit(file, io, { quietWarnings: true });
  if (!plan.postfix) {
    io.err(`warmup postfix: ${file} has no postfix: section (give at least postfix.listen and postfix.log_file)`);
    throw new ExitError(2);
  }
  const cfg = postfixConfig(plan, plan.postfix);
  const both = !values.main && !values.master;
  if (both || values.main) io.out(`${both ? '# ---------------- main.cf\n' : ''}${cfg.mainCf.trimEnd()}`);
  if (both || values.master) io.out(`${both ? '\n# ---------------- master.cf\n' : ''}${cfg.masterCf.trimEnd()}`);
  return 0;
}
