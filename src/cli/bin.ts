#!/usr/bin/env node
/**
 * The bundled `warmup` bin: dist/bundle/warmup.cjs, what package.json's `bin` names, and the
 * same as an ES module, dist/bundle/main.js (run by path in tests and older units). As
 * CommonJS the bin starts without Node's ES-module loader (~20M instructions: the loader's
 * own modules, fs.promises and the streams it reads files with). `warmup status` runs from
 * its own one-file CommonJS bundle (./status-bin.ts built as status-bin.cjs),
 * compiled through V8's code cache (./code-cache.ts): Node's ES-module
 * loader costs about a millisecond per file, compiling the bundle's functions
 * ~5 ms a run. Every other command runs through the CLI (./main.ts).
 */
import { createRequire } from 'node:module';
import { cacheDir } from '../util/cache-dir.js';
import { runCached } from './code-cache.js';

if (process.argv[2] === 'status') {
  const require = createRequire(import.meta.url);
  const path = require('node:path') as typeof import('node:path');
  const url = new URL('./status-bin.cjs', import.meta.url);
  const file = (require('node:url') as typeof import('node:url')).fileURLToPath(url);
  const cache = runCached(require, {
    file,
    dir: cacheDir(process.env, () => (require('node:os') as typeof import('node:os')).homedir(), path.join, path.resolve),
    params: {
      // What the bundle's `import.meta.url` and dynamic `import()` of the rest of the bundle become (see the `bundle` script).
      __warmupUrl: url.href,
      __warmupImport: (specifier: string) => import(new URL(specifier, import.meta.url).href),
    },
  });
  // Once status is done: the new entry then holds every function it compiled.
  if (cache.state !== 'hit') process.once('exit', cache.save);
} else void import('./main.js').then((m) => m.cli());
