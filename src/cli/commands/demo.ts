import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../io.js';
import { parse } from '../args.js';
import * as keygen from './keygen.js';
import * as plan from './plan.js';
import * as validate from './validate.js';

export const usage = `Usage: warmup demo

Runs warmup on its embedded example plan (plans/small.yaml: two loopback IPs,
Gmail, Yahoo, Outlook): creates the demo DKIM key if missing, validates the
plan and prints its day-by-day schedule. Needs no internet and no real IPs.`;

/** The example plan shipped with the package. */
export const demoPlanPath = fileURLToPath(new URL('../../../plans/small.yaml', import.meta.url));
const demoKeyPath = fileURLToPath(new URL('../../../data/keys/small-dkim.pem', import.meta.url));

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(argv, {}, usage, io);
  if (values.help) { io.out(usage); return 0; }
  if (!existsSync(demoKeyPath)) {
    await keygen.run(['--out', demoKeyPath, '--selector', 'wu2026', '--domain', 'news.example.com'], { ...io, out: () => {} });
  }
  io.out('== warmup validate plans/small.yaml\n');
  const rc = await validate.run([demoPlanPath], io);
  if (rc !== 0) return rc;
  io.out('\n== warmup plan plans/small.yaml\n');
  return plan.run([demoPlanPath], io);
}
