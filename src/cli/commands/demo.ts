import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../util/package-root.js';
import type { CliIo } from '../io.js';
import { parse } from '../args.js';
import * as keygen from './keygen.js';
import * as simulate from './simulate.js';

export const usage = `Usage: warmup demo

Runs warmup on its embedded example plan (plans/small.yaml: two loopback IPs,
Gmail, Yahoo, Outlook): creates the demo DKIM key if missing, then simulates
the whole two-week ramp against modelled receivers (\`warmup simulate\`) and
prints how each lane adapted and which lanes are ready for launch. Needs no
internet and no real IPs; nothing is sent.

  --seed N   seed of the modelled receivers (default 1)
  --json     the simulation result as JSON`;

/** The example plan shipped with the package. */
export const demoPlanPath = join(packageRoot(), 'plans', 'small.yaml');
const demoKeyPath = join(packageRoot(), 'data', 'keys', 'small-dkim.pem');

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(argv, { seed: { type: 'string' }, json: { type: 'boolean' } }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  if (!existsSync(demoKeyPath)) {
    await keygen.run(['--out', demoKeyPath, '--selector', 'wu2026', '--domain', 'news.example.com'], { ...io, out: () => {} });
  }
  if (!values.json) io.out('== warmup simulate plans/small.yaml (two weeks against modelled Gmail, Yahoo and Outlook; nothing is sent)\n');
  return simulate.run([demoPlanPath, ...(values.seed === undefined ? [] : ['--seed', values.seed]), ...(values.json ? ['--json'] : [])], io);
}
