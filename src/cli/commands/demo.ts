import { join } from 'node:path';
import { packageRoot } from '../../util/package-root.js';
import type { CliIo } from '../io.js';
import { parse } from '../args.js';
import * as simulate from './simulate.js';

export const usage = `Usage: warmup demo

Runs warmup on its embedded example plan (plans/small.yaml: two loopback IPs,
Gmail, Yahoo, Outlook): simulates the whole two-week ramp against modelled
receivers (\`warmup simulate\`) and prints how each lane adapted and which
lanes are ready for launch. Needs no internet, no real IPs and no DKIM key;
nothing is sent.

  --seed N   seed of the modelled receivers (default 1)
  --json     the simulation result as JSON
  --quiet    no progress on stderr`;

/** The example plan shipped with the package. */
export const demoPlanPath = join(packageRoot(), 'plans', 'small.yaml');

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(argv, { seed: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' } }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  // A simulation signs nothing, so the plan's DKIM key need not exist (it is not read).
  if (!values.json) io.out('== warmup simulate plans/small.yaml (two weeks against modelled Gmail, Yahoo and Outlook; nothing is sent)\n');
  return simulate.run([demoPlanPath, ...(values.seed === undefined ? [] : ['--seed', values.seed]), ...(values.json ? ['--json'] : []), ...(values.quiet ? ['--quiet'] : [])], io);
}
