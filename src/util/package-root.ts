import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of warmup's own package.json, found by walking up from this
 * module: the same answer from src/ (tsx), dist/ (tsc) and dist/bundle/
 * (the bundled CLI), whose depths differ.
 */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate) && (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'warmup') return dir;
    if (dirname(dir) === dir) throw new Error(`warmup's package.json not found above ${from}`);
  }
}
