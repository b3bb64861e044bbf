/** The receiver models a command uses: the default ones, or a `--model FILE` laid over them (exit 2 on a bad file). */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatIssue } from '../plan/load.js';
import type { Plan } from '../plan/types.js';
import { defaultModels, loadModel } from '../simulate/model-file.js';
import type { ProviderModel } from '../simulate/profiles.js';
import { ExitError } from '../util/errors.js';
import type { CliIo } from './io.js';

export function modelsOrExit(plan: Plan, file: string | undefined, io: CliIo, command: string): Map<string, ProviderModel> {
  if (file === undefined) return defaultModels(plan);
  let text: string;
  try {
    text = readFileSync(resolve(io.cwd, file), 'utf8');
  } catch (e) {
    io.err(`warmup ${command}: cannot read model file ${file}: ${(e as Error).message}`);
    throw new ExitError(2);
  }
  const r = loadModel(text, plan);
  if (!r.ok) {
    io.err(`${file}: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}`);
    for (const e of r.errors) io.err(`  ${formatIssue(file, e)}`);
    throw new ExitError(2);
  }
  return new Map(r.models);
}
