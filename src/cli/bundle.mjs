/**
 * `npm run bundle`'s second step (the first builds the CLI and the rest of
 * dist/bundle as split ES modules). Usage: node src/cli/bundle.mjs BUILD_ID
 *
 * - dist/bundle/warmup.cjs and main.js, the bin (./bin.ts) as CommonJS and as
 *   an ES module, one file that imports nothing of the bundle before it knows
 *   the command: `status` never loads a chunk.
 * - dist/bundle/status-bin.cjs: `warmup status` (./status-bin.ts) as one
 *   CommonJS file with its own copy of the modules it uses and of
 *   better-sqlite3's JavaScript, which the bin runs through V8's code cache
 *   (./code-cache.ts).
 *
 * The file is a function body for vm.Script, which has no `import()` without
 * --experimental-vm-modules: the dynamic imports of the rest of the bundle
 * (the kysely store, PostgreSQL, the memory store, the plan loader on a plan
 * cache miss) are rewritten to the `__warmupImport` the bin passes in, and
 * `import.meta.url` is its `__warmupUrl`.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const buildId = process.argv[2];
if (!buildId) throw new Error('usage: node src/cli/bundle.mjs BUILD_ID');
const sqlite = createRequire(import.meta.url)('better-sqlite3/package.json').version;
const siblings = ['./open.js', './postgres.js', './memory/index.js', './load.js'];
const out = await build({
  entryPoints: { 'status-bin': 'src/cli/status-bin.ts' },
  bundle: true, format: 'cjs', platform: 'node', target: 'node20', write: false, outdir: 'dist/bundle', outExtension: { '.js': '.cjs' }, logLevel: 'warning',
  external: [...siblings, 'pino', 'nodemailer', 'imapflow', 'prom-client', 'mailauth', 'pg'],
  define: { __WARMUP_BUILD__: JSON.stringify(buildId), __WARMUP_SQLITE_BUNDLED__: JSON.stringify(sqlite), 'import.meta.url': '__warmupUrl' },
});
let text = out.outputFiles[0].text;
let rewritten = 0;
text = text.replace(/\bimport\(("\.\/[^"]+")\)/g, (_, spec) => {
  if (!siblings.includes(JSON.parse(spec))) throw new Error(`bundle: unexpected dynamic import of ${spec}`);
  rewritten++;
  return `__warmupImport(${spec})`;
});
if (rewritten === 0 || /\bimport\s*\(|import\.meta/.test(text)) throw new Error('bundle: the bundle\'s dynamic imports were not all rewritten');
writeFileSync(out.outputFiles[0].path, text);

// The bin, as an ES module (main.js) and as CommonJS (warmup.cjs, package.json's `bin`): its
// `import('./main.js')` (src/cli/main.ts) is the first step's cli.js.
const cliEntry = { name: 'cli-entry', setup(b) { b.onResolve({ filter: /^\.\/main\.js$/ }, () => ({ path: './cli.js', external: true })); } };
const bin = { entryPoints: ['src/cli/bin.ts'], bundle: true, platform: 'node', target: 'node20', logLevel: 'warning', plugins: [cliEntry] };
await build({ ...bin, format: 'esm', outfile: 'dist/bundle/main.js' });
await build({
  ...bin, format: 'cjs', outfile: 'dist/bundle/warmup.cjs',
  define: { 'import.meta.url': '__warmupBinUrl' },
  banner: { js: "const __warmupBinUrl = require('node:url').pathToFileURL(__filename).href;" },
});
